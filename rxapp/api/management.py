"""The management API: keys, Bias Profiles, usage and the audit trail over REST, for automation
(CI, Terraform, onboarding code), authenticated with a management token (`Authorization: Bearer
bpm_...`). Every route calls the same services as the console; conventions live in `problems`.

Idempotency-Key (POST): the first request stores (token, key, body hash) -> the created resource
in the same transaction; a retry with the same body gets that resource (200, `Idempotent-Replayed:
true`, `"secret": null, "secret_shown": true`: secrets are never stored), a different body gets
422 IDEMPOTENCY_KEY_REUSED, and concurrent retries race on a unique constraint so one resource
is made (rxapp/services/idempotency.py).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from rxapp import routes
from rxapp.api.problems import (
    DB_INT_MAX,
    PROBLEM_JSON,
    Problem,
    ProblemOut,
    bearer,
    caller,
    etag,
    from_service_error,
    if_match,
    need,
    service_call,
)
from rxapp.models import ApiKeyPublic, KeyStatus, utc_now
from rxapp.services import idempotency, keyset, rolling, usage
from rxapp.services import keys as key_service
from rxapp.services.tokens import TokenAccess

router = APIRouter(prefix=routes.API_PREFIX, tags=["management"])
Token = Annotated[TokenAccess, Depends(bearer)]
KeyId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_]{1,64}$", examples=["key_mfrggzdfmztwq2lk"])]
IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", description="Retry-safe create: same key, same answer.")
]
_PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"model": ProblemOut, "content": {PROBLEM_JSON: {}}, "description": text}
    for status, text in (
        (401, "Missing, unknown, revoked or expired token"),
        (403, "The token lacks the scope, or its creator's role does"),
        (404, "Not found (or in another workspace)"),
        (409, "Conflicts with current data"),
        (412, "If-Match names an older version"),
        (422, "Invalid request body or parameters"),
        (429, "Too many requests for this token"),
    )
}
_KEY_LINKS = {
    "GetKey": {"operationId": "getKey", "parameters": {"key_id": "$response.body#/key_id"}},
    "UpdateKey": {"operationId": "updateKey", "parameters": {"key_id": "$response.body#/key_id"}},
    "RollKey": {"operationId": "rollKey", "parameters": {"key_id": "$response.body#/key_id"}},
    "KeyUsage": {"operationId": "getKeyUsage", "parameters": {"key_id": "$response.body#/key_id"}},
    "DeleteKey": {"operationId": "deleteKey", "parameters": {"key_id": "$response.body#/key_id"}},
}


def _responses(ok: int, model: Any, links: dict[str, Any] | None = None, *codes: int) -> dict[int | str, Any]:
    answer: dict[int | str, Any] = {ok: {"model": model} if model else {"description": "Done"}}
    if links:
        answer[ok]["links"] = links
    answer.update({code: _PROBLEMS[code] for code in (401, 403, 404, 422, 429, *codes)})
    return answer


# ---------------------------------------------------------------- shapes


class KeyCreateIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "checkout-prod", "expires_at": "2030-01-01T00:00:00Z"}]},
    )

    name: str = Field(default="", max_length=100)
    bias_profile_id: int | None = Field(default=None, ge=1, le=DB_INT_MAX)
    expires_at: dt.datetime | None = None
    rate_limit_per_minute: int | None = Field(default=None, ge=1, le=key_service.RATE_LIMIT_MAX)


class KeyChangesIn(BaseModel):
    """What PATCH may change (the console's KeyChanges, with the database's bounds); unknown
    fields (owner, digest, Last Used...) are refused."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"status": "INACTIVE"}]})

    name: str | None = Field(default=None, max_length=100)
    bias_profile_id: int | None = Field(default=None, ge=1, le=DB_INT_MAX)
    status: Literal["ACTIVE", "INACTIVE"] | None = None
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

    grace: Literal["0", "1h", "24h", "7d"] = "24h"


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


class UsageOut(BaseModel):
    key_id: str
    since: dt.datetime
    hours: list[UsagePointOut]


# ---------------------------------------------------------------- helpers


def _json(model: BaseModel, status: int = 200, version: int | None = None, **headers: str) -> JSONResponse:
    if version is not None:
        headers["ETag"] = etag(version)
    return JSONResponse(model.model_dump(mode="json"), status_code=status, headers=headers)


def _encode_cursor(position: Sequence[Any], fingerprint: str) -> str:
    """An opaque cursor: where the next page starts (a keyset position), bound to the query it came from."""
    return base64.urlsafe_b64encode(json.dumps([position, fingerprint]).encode()).decode().rstrip("=")


def _decode_position(cursor: str | None, fingerprint: str) -> tuple[str | None, int] | None:
    """A keyset cursor: the last row's (sort value, row id), or None without a cursor. Only what
    `_encode_cursor` writes is accepted: `[[value, row_id], fingerprint]` with this query's
    fingerprint, a text or null value and a row id in the database's range. Anything else is the
    BAD_CURSOR 422; the service checks the value's form (keyset.parse_time, parse_text)."""
    if not cursor:
        return None
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError, RecursionError):
        raise from_service_error(keyset.bad_cursor()) from None
    match decoded:
        case [[str() | None as value, int() as row_id], str() as made_for] if (
            made_for == fingerprint and type(row_id) is int and 0 < row_id <= DB_INT_MAX
        ):
            return value, row_id
    raise from_service_error(keyset.bad_cursor())


def _created(
    request: Request,
    token: TokenAccess,
    idempotency_key: str | None,
    body: BaseModel,
    make: Callable[[Any], tuple[str, JSONResponse]],
    replay: Callable[[Any, str], JSONResponse],
) -> JSONResponse:
    """Run a create under the Idempotency-Key rules (see the module docstring)."""
    if not idempotency_key:
        with service_call() as session:
            return make(session)[1]
    digest = idempotency.request_hash(request.method, request.url.path, body.model_dump(mode="json"))
    try:
        with service_call() as session:
            earlier = idempotency.find(session, token.token_row_id, idempotency_key, digest)
            if earlier is None:
                record = idempotency.claim(session, token.token_row_id, idempotency_key, digest)
                resource_id, answer = make(session)
                idempotency.complete(session, record, request.url.path, resource_id)
                return answer
    except idempotency.IdempotencyRace:
        pass
    with service_call() as session:
        earlier = idempotency.find(session, token.token_row_id, idempotency_key, digest)
        if earlier is None:  # the winner failed and rolled back: nothing was made
            raise Problem(409, "IDEMPOTENCY_RETRY", "A request with this key failed; retry it.")
        answer = replay(session, earlier.resource_id)
    answer.headers["Idempotent-Replayed"] = "true"
    return answer


def _key_created(key: ApiKeyPublic, secret: str | None) -> KeyCreatedOut:
    return KeyCreatedOut(**key.model_dump(), secret=secret, secret_shown=secret is None)


# ---------------------------------------------------------------- keys


@router.get(
    "/keys", operation_id="listKeys", response_model=KeyListOut, responses=_responses(200, KeyListOut)
)
def list_keys(
    token: Token,
    search: Annotated[str, Query(max_length=key_service.SEARCH_MAX_LENGTH)] = "",
    status: KeyStatus | None = None,
    bias_profile: Annotated[str, Query(pattern=r"^(all|none|[0-9]{1,9})$")] = "all",
    sort: Literal["name", "created", "last_used", "expires"] = "created",
    order: Literal["asc", "desc"] = "desc",
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> JSONResponse:
    """The workspace's keys: the console's filters, search and sort; follow `next_cursor`."""
    need(token, "keys:read")
    fingerprint = f"{search}|{status}|{bias_profile}|{sort}|{order}|{limit}"
    query = key_service.KeyQuery(
        search=search,
        status=status,
        bias_profile=key_service.parse_profile_filter(bias_profile),
        sort=sort,
        descending=order == "desc",
        page_size=limit,
    )
    position = _decode_position(cursor, fingerprint)
    after = key_service.KeyPosition(*position) if position else None
    with service_call() as session:
        page = key_service.list_keys(session, token.access, query, after=after)
    following = page.next_position
    return _json(
        KeyListOut(
            data=page.rows,
            total=page.total,
            next_cursor=_encode_cursor(following, fingerprint) if following else None,
        )
    )


@router.post(
    "/keys",
    operation_id="createKey",
    status_code=201,
    response_model=KeyCreatedOut,
    responses={
        **_responses(201, KeyCreatedOut, _KEY_LINKS, 409),
        200: {"model": KeyCreatedOut, "links": _KEY_LINKS, "description": "Idempotent replay (no secret)"},
    },
)
def create_key(
    request: Request, token: Token, body: KeyCreateIn, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Create a key; the answer carries its secret once. Send Idempotency-Key to retry safely."""
    need(token, "keys:write")

    def make(session: Any) -> tuple[str, JSONResponse]:
        created = key_service.create_key(
            session,
            token.access,
            token.actor,
            body.name,
            bias_profile_id=body.bias_profile_id,
            expires_at=body.expires_at,
            rate_limit_per_minute=body.rate_limit_per_minute,
            client_address=caller(request),
        )
        location = f"{routes.API_PREFIX}/keys/{created.key.key_id}"
        answer = _json(_key_created(created.key, created.secret), 201, created.key.version, Location=location)
        return created.key.key_id, answer

    def replay(session: Any, key_id: str) -> JSONResponse:
        key = key_service.get_key(session, token.access, key_id)
        return _json(_key_created(key, None), 200, key.version)

    return _created(request, token, idempotency_key, body, make, replay)


@router.get(
    "/keys/{key_id}",
    operation_id="getKey",
    response_model=ApiKeyPublic,
    responses=_responses(200, ApiKeyPublic),
)
def get_key(token: Token, key_id: KeyId) -> JSONResponse:
    need(token, "keys:read")
    with service_call() as session:
        key = key_service.get_key(session, token.access, key_id)
    return _json(key, version=key.version)


@router.patch(
    "/keys/{key_id}",
    operation_id="updateKey",
    response_model=ApiKeyPublic,
    responses=_responses(200, ApiKeyPublic, None, 409, 412),
)
def update_key(request: Request, token: Token, key_id: KeyId, body: KeyChangesIn) -> JSONResponse:
    """Change name, profile, status (ACTIVE/INACTIVE), end date or rate limit. If-Match guards it."""
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
    return _json(key, version=key.version)


@router.delete(
    "/keys/{key_id}", operation_id="deleteKey", status_code=204, responses=_responses(204, None, None, 412)
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
        **_responses(201, RolledOut, None, 409),
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
            key=_key_created(new, rolled.new.secret),
            old_key_id=rolled.old_key_id,
            old_expires_at=rolled.old_expires_at,
        )
        return new.key_id, _json(out, 201, Location=f"{routes.API_PREFIX}/keys/{new.key_id}")

    def replay(session: Any, new_key_id: str) -> JSONResponse:
        new = key_service.get_key(session, token.access, new_key_id)
        old = key_service.get_key(session, token.access, key_id)
        out = RolledOut(
            key=_key_created(new, None), old_key_id=old.key_id, old_expires_at=old.expires_at or utc_now()
        )
        return _json(out, 200)

    return _created(request, token, idempotency_key, body, make, replay)


@router.get(
    "/keys/{key_id}/usage",
    operation_id="getKeyUsage",
    response_model=UsageOut,
    responses=_responses(200, UsageOut),
)
def key_usage(
    token: Token, key_id: KeyId, hours: Annotated[int, Query(ge=1, le=24 * 90)] = 24
) -> JSONResponse:
    """Verifications of the key per hour, by outcome (hours without calls are absent)."""
    need(token, "usage:read")
    since = usage.hour_of(utc_now() - dt.timedelta(hours=hours))
    with service_call() as session:
        row_id = key_service.key_row_id(session, token.access, key_id)
        points = usage.usage_series(session, row_id, since)
    return _json(UsageOut(key_id=key_id, since=since, hours=[UsagePointOut(**vars(p)) for p in points]))
