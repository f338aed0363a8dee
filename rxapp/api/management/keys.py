"""The management API's keys and their usage: REST for automation (CI, Terraform, onboarding
code), authenticated with a management token (`Authorization: Bearer bpm_...`). Every route calls
the same services as the console; conventions live in `problems` and `common`."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from rxapp import routes
from rxapp.api.management.common import (
    Cursor,
    IdempotencyKey,
    Token,
    created,
    decode_position,
    json_answer,
    make_router,
    next_cursor,
    one_of,
    responses,
)
from rxapp.api.management.programs import KeyProgramIn, program_given
from rxapp.api.problems import DB_INT_MAX, caller, if_match, need, service_call
from rxapp.models import ApiKeyPublic, KeyStatus, utc_now
from rxapp.services import keys as key_service
from rxapp.services import rolling, usage

router = make_router()
KeyId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_]{1,64}$", examples=["key_mfrggzdfmztwq2lk"])]
USAGE_HOURS_MAX = 24 * 90
if TYPE_CHECKING:
    Grace = str
else:  # the services' choices, as Literals (see `one_of`)
    Grace = one_of(rolling.GRACE_CHOICES)
_KEY_LINKS = {
    "GetKey": {"operationId": "getKey", "parameters": {"key_id": "$response.body#/key_id"}},
    "UpdateKey": {"operationId": "updateKey", "parameters": {"key_id": "$response.body#/key_id"}},
    "RollKey": {"operationId": "rollKey", "parameters": {"key_id": "$response.body#/key_id"}},
    "KeyUsage": {"operationId": "getKeyUsage", "parameters": {"key_id": "$response.body#/key_id"}},
    "DeleteKey": {"operationId": "deleteKey", "parameters": {"key_id": "$response.body#/key_id"}},
}


# ---------------------------------------------------------------- shapes


class KeyCreateIn(KeyProgramIn):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "checkout-prod", "expires_at": "2030-01-01T00:00:00Z"}]},
    )

    name: str = Field(default="", max_length=key_service.NAME_MAX_LENGTH)
    bias_profile_id: int | None = Field(default=None, ge=1, le=DB_INT_MAX)
    expires_at: dt.datetime | None = None
    rate_limit_per_minute: int | None = Field(default=None, ge=1, le=key_service.RATE_LIMIT_MAX)


class KeyChangesIn(KeyProgramIn):
    """What PATCH may change (the console's KeyChanges, with the database's bounds); unknown
    fields (owner, digest, Last Used...) are refused."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"status": "INACTIVE"}]})

    name: str | None = Field(default=None, max_length=key_service.NAME_MAX_LENGTH)
    bias_profile_id: int | None = Field(default=None, ge=1, le=DB_INT_MAX)
    status: key_service.SettableStatus | None = None
    expires_at: dt.datetime | None = None
    rate_limit_per_minute: int | None = Field(default=None, ge=1, le=key_service.RATE_LIMIT_MAX)


class KeyCreatedOut(ApiKeyPublic):
    """The key, and its secret exactly once (null on an idempotent replay)."""

    secret: str | None
    secret_shown: bool


class KeyListOut(BaseModel):
    data: list[ApiKeyPublic]
    total: int
    next_cursor: str | None


class RollIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"grace": "24h"}]})

    grace: Grace = "24h"


class RolledOut(BaseModel):
    key: KeyCreatedOut
    old_key_id: str
    old_expires_at: dt.datetime


class UsagePointOut(BaseModel):
    hour: dt.datetime
    valid: int
    inactive: int
    expired: int
    rate_limited: int
    usage_exceeded: int = 0
    insufficient_permissions: int = 0
    forbidden: int = 0


class UsageOut(BaseModel):
    key_id: str
    since: dt.datetime
    hours: list[UsagePointOut]


def with_secret(key: ApiKeyPublic, secret: str | None) -> KeyCreatedOut:
    return KeyCreatedOut(**key.model_dump(), secret=secret, secret_shown=secret is None)


# ---------------------------------------------------------------- keys


@router.get("/keys", operation_id="listKeys", response_model=KeyListOut, responses=responses(200, KeyListOut))
def list_keys(
    token: Token,
    search: Annotated[str, Query(max_length=key_service.SEARCH_MAX_LENGTH)] = "",
    status: KeyStatus | None = None,
    bias_profile: Annotated[str, Query(pattern=r"^(all|none|[0-9]{1,9})$")] = "all",
    identity: Annotated[
        str,
        Query(
            max_length=key_service.SEARCH_MAX_LENGTH,
            description="Only the keys of the identity with this external id (programmable keys)",
            examples=["acme"],
        ),
    ] = "",
    sort: key_service.SortField = "created",
    order: Literal["asc", "desc"] = "desc",
    limit: Annotated[int, Query(ge=1, le=key_service.PAGE_SIZE_MAX)] = key_service.PAGE_SIZE_DEFAULT,
    cursor: Cursor = None,
) -> JSONResponse:
    """The workspace's keys: the console's filters (status, Bias Profile, identity), search and
    sort; follow `next_cursor`."""
    need(token, "keys:read")
    fingerprint = f"{search}|{status}|{bias_profile}|{sort}|{order}|{limit}" + (
        f"|{identity}" if identity else ""
    )
    query = key_service.KeyQuery(
        search=search,
        status=status,
        bias_profile=key_service.parse_profile_filter(bias_profile),
        identity=identity,
        sort=sort,
        descending=order == "desc",
        page_size=limit,
    )
    position = decode_position(cursor, fingerprint)
    after = key_service.KeyPosition(*position) if position else None
    with service_call() as session:
        page = key_service.list_keys(session, token.access, query, after=after)
    following = page.next_position
    return json_answer(
        KeyListOut(
            data=page.rows,
            total=page.total,
            next_cursor=next_cursor(following, fingerprint),
        )
    )


@router.post(
    "/keys",
    operation_id="createKey",
    status_code=201,
    response_model=KeyCreatedOut,
    responses={
        **responses(201, KeyCreatedOut, _KEY_LINKS, 409),
        200: {"model": KeyCreatedOut, "links": _KEY_LINKS, "description": "Idempotent replay (no secret)"},
    },
)
def create_key(
    request: Request, token: Token, body: KeyCreateIn, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Create a key; the answer carries its secret once. Send Idempotency-Key to retry safely."""
    need(token, "keys:write")

    def make(session: Any) -> tuple[str, JSONResponse]:
        made = key_service.create_key(
            session,
            token.access,
            token.actor,
            body.name,
            bias_profile_id=body.bias_profile_id,
            expires_at=body.expires_at,
            rate_limit_per_minute=body.rate_limit_per_minute,
            program=program_given(body),
            client_address=caller(request),
        )
        location = f"{routes.API_PREFIX}/keys/{made.key.key_id}"
        answer = json_answer(with_secret(made.key, made.secret), 201, made.key.version, Location=location)
        return made.key.key_id, answer

    def replay(session: Any, key_id: str) -> JSONResponse:
        key = key_service.get_key(session, token.access, key_id)
        return json_answer(with_secret(key, None), 200, key.version)

    return created(request, token, idempotency_key, body, make, replay)


@router.get(
    "/keys/{key_id}",
    operation_id="getKey",
    response_model=ApiKeyPublic,
    responses=responses(200, ApiKeyPublic),
)
def get_key(token: Token, key_id: KeyId) -> JSONResponse:
    need(token, "keys:read")
    with service_call() as session:
        key = key_service.get_key(session, token.access, key_id)
    return json_answer(key, version=key.version)


@router.patch(
    "/keys/{key_id}",
    operation_id="updateKey",
    response_model=ApiKeyPublic,
    responses=responses(200, ApiKeyPublic, None, 409, 412),
)
def update_key(request: Request, token: Token, key_id: KeyId, body: KeyChangesIn) -> JSONResponse:
    """Change name, profile, status (ACTIVE/INACTIVE), end date, rate limit or the programmable
    fields (credits, refill, ratelimits, permissions, meta, ip_allow, identity). If-Match guards it."""
    need(token, "keys:write")
    expected = if_match(request)
    with service_call(stale_is_412=True) as session:
        key = key_service.update_key(
            session,
            token.access,
            token.actor,
            key_id,
            # the same fields, as given (unset stays unset: PATCH semantics)
            key_service.KeyChanges.model_validate(body.model_dump(exclude_unset=True)),
            expected_version=expected,
            client_address=caller(request),
        )
    return json_answer(key, version=key.version)


@router.delete(
    "/keys/{key_id}", operation_id="deleteKey", status_code=204, responses=responses(204, None, None, 412)
)
def delete_key(request: Request, token: Token, key_id: KeyId) -> Response:
    """Permanent: the next verification of this key fails."""
    need(token, "keys:write")
    expected = if_match(request)
    with service_call(stale_is_412=True) as session:
        key_service.delete_key(
            session,
            token.access,
            token.actor,
            key_id,
            expected_version=expected,
            client_address=caller(request),
        )
    return Response(status_code=204)


@router.post(
    "/keys/{key_id}/roll",
    operation_id="rollKey",
    status_code=201,
    response_model=RolledOut,
    responses={
        **responses(201, RolledOut, None, 409),
        200: {"model": RolledOut, "description": "Idempotent replay (no secret)"},
    },
)
def roll_key(
    request: Request,
    token: Token,
    key_id: KeyId,
    body: RollIn | None = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """A new secret for the same key settings; the old key works for the grace period (0, 1h, 24h, 7d)."""
    need(token, "keys:write")
    body = body or RollIn()

    def make(session: Any) -> tuple[str, JSONResponse]:
        rolled = rolling.roll_key(
            session,
            token.access,
            token.actor,
            key_id,
            rolling.parse_grace(body.grace),
            client_address=caller(request),
        )
        new = rolled.new.key
        out = RolledOut(
            key=with_secret(new, rolled.new.secret),
            old_key_id=rolled.old_key_id,
            old_expires_at=rolled.old_expires_at,
        )
        return new.key_id, json_answer(out, 201, Location=f"{routes.API_PREFIX}/keys/{new.key_id}")

    def replay(session: Any, new_key_id: str) -> JSONResponse:
        new = key_service.get_key(session, token.access, new_key_id)
        old = key_service.get_key(session, token.access, key_id)
        out = RolledOut(
            key=with_secret(new, None), old_key_id=old.key_id, old_expires_at=old.expires_at or utc_now()
        )
        return json_answer(out, 200)

    return created(request, token, idempotency_key, body, make, replay)


@router.get(
    "/keys/{key_id}/usage",
    operation_id="getKeyUsage",
    response_model=UsageOut,
    responses=responses(200, UsageOut),
)
def key_usage(
    token: Token, key_id: KeyId, hours: Annotated[int, Query(ge=1, le=USAGE_HOURS_MAX)] = 24
) -> JSONResponse:
    """Verifications of the key per hour, by outcome (hours without calls are absent)."""
    need(token, "usage:read")
    since = usage.hour_of(utc_now() - dt.timedelta(hours=hours))
    with service_call() as session:
        row_id = key_service.key_row_id(session, token.access, key_id)
        points = usage.usage_series(session, row_id, since)
    return json_answer(UsageOut(key_id=key_id, since=since, hours=[UsagePointOut(**vars(p)) for p in points]))
