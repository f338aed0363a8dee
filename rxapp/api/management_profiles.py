"""The management API's Bias Profiles and audit trail routes (keys are in `management`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from rxapp import routes
from rxapp.api.management import (
    IdempotencyKey,
    Token,
    _created,
    _decode_position,
    _encode_cursor,
    _json,
    _responses,
)
from rxapp.api.problems import DB_INT_MAX, caller, check_version, if_match, need, service_call
from rxapp.models import AuditEventPublic, BiasProfilePublic
from rxapp.services import audit
from rxapp.services import profiles as profile_service

router = APIRouter(prefix=routes.API_PREFIX, tags=["management"])
_PROFILE_LINKS = {
    "GetProfile": {"operationId": "getProfile", "parameters": {"profile_id": "$response.body#/id"}},
    "UpdateProfile": {"operationId": "updateProfile", "parameters": {"profile_id": "$response.body#/id"}},
    "DeleteProfile": {"operationId": "deleteProfile", "parameters": {"profile_id": "$response.body#/id"}},
}
AUDIT_PAGE_SIZE = 50
ProfileId = Annotated[int, Path(ge=1, le=DB_INT_MAX, examples=[1])]  # bounded: the database's integer


class ProfileIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "strict", "categories": ["gender", "age"], "sensitivity": 0.8, "action": "block"}
            ]
        },
    )

    name: str = Field(max_length=80)
    description: str = Field(default="", max_length=500)
    categories: list[str] = Field(default_factory=list, max_length=20)
    sensitivity: float = Field(default=0.5, ge=0, le=1)
    action: Literal["flag", "block", "rewrite"] = "flag"


class ProfileChangesIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"sensitivity": 0.9}]})

    name: str | None = Field(default=None, max_length=80)
    description: str | None = Field(default=None, max_length=500)
    categories: list[str] | None = Field(default=None, max_length=20)
    sensitivity: float | None = Field(default=None, ge=0, le=1)
    action: Literal["flag", "block", "rewrite"] | None = None


class AuditOut(BaseModel):
    data: list[AuditEventPublic]
    total: int
    next_cursor: str | None


class ProfileListOut(BaseModel):
    data: list[BiasProfilePublic]


@router.get(
    "/profiles",
    operation_id="listProfiles",
    response_model=ProfileListOut,
    responses=_responses(200, ProfileListOut),
)
def list_profiles(token: Token) -> JSONResponse:
    need(token, "profiles:read")
    with service_call() as session:
        rows = profile_service.list_profiles(session, token.access)
    return _json(ProfileListOut(data=rows))


@router.post(
    "/profiles",
    operation_id="createProfile",
    status_code=201,
    response_model=BiasProfilePublic,
    responses={
        **_responses(201, BiasProfilePublic, _PROFILE_LINKS, 409),
        200: {"model": BiasProfilePublic, "links": _PROFILE_LINKS, "description": "Idempotent replay"},
    },
)
def create_profile(
    request: Request, token: Token, body: ProfileIn, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    need(token, "profiles:write")

    def make(session: Any) -> tuple[str, JSONResponse]:
        profile = profile_service.create_profile(
            session,
            token.access,
            token.actor,
            body.name,
            description=body.description,
            categories=body.categories,
            sensitivity=body.sensitivity,
            action=body.action,
            client_address=caller(request),
        )
        location = f"{routes.API_PREFIX}/profiles/{profile.id}"
        return str(profile.id), _json(profile, 201, profile.version, Location=location)

    def replay(session: Any, profile_id: str) -> JSONResponse:
        profile = profile_service.get_profile(session, token.access, int(profile_id))
        return _json(profile, 200, profile.version)

    return _created(request, token, idempotency_key, body, make, replay)


@router.get(
    "/profiles/{profile_id}",
    operation_id="getProfile",
    response_model=BiasProfilePublic,
    responses=_responses(200, BiasProfilePublic),
)
def get_profile(token: Token, profile_id: ProfileId) -> JSONResponse:
    need(token, "profiles:read")
    with service_call() as session:
        profile = profile_service.get_profile(session, token.access, profile_id)
    return _json(profile, version=profile.version)


@router.patch(
    "/profiles/{profile_id}",
    operation_id="updateProfile",
    response_model=BiasProfilePublic,
    responses=_responses(200, BiasProfilePublic, None, 409, 412),
)
def update_profile(
    request: Request, token: Token, profile_id: ProfileId, body: ProfileChangesIn
) -> JSONResponse:
    """Change any of the profile's settings; fields left out keep their values. If-Match guards it."""
    need(token, "profiles:write")
    expected = if_match(request)
    with service_call(stale_is_412=True) as session:
        current = profile_service.get_profile(session, token.access, profile_id)
        check_version(expected, current.version)
        merged = {**current.model_dump(), **body.model_dump(exclude_unset=True, exclude_none=True)}
        profile = profile_service.update_profile(
            session,
            token.access,
            token.actor,
            profile_id,
            name=merged["name"],
            description=merged["description"],
            categories=merged["categories"],
            sensitivity=merged["sensitivity"],
            action=merged["action"],
            expected_version=current.version,
            client_address=caller(request),
        )
    return _json(profile, version=profile.version)


@router.delete(
    "/profiles/{profile_id}",
    operation_id="deleteProfile",
    status_code=204,
    responses=_responses(204, None, None, 409, 412),
)
def delete_profile(request: Request, token: Token, profile_id: ProfileId) -> Response:
    """Refused (409) while keys use the profile."""
    need(token, "profiles:write")
    expected = if_match(request)
    with service_call(stale_is_412=True) as session:
        profile_service.delete_profile(
            session,
            token.access,
            token.actor,
            profile_id,
            expected_version=expected,
            client_address=caller(request),
        )
    return Response(status_code=204)


@router.get("/audit", operation_id="listAudit", response_model=AuditOut, responses=_responses(200, AuditOut))
def list_audit(
    token: Token,
    target_id: Annotated[str, Query(max_length=100)] = "",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> JSONResponse:
    """The workspace's activity, newest first (the console's Activity page)."""
    need(token, "audit:read")
    fingerprint = f"audit|{target_id}"
    after = _decode_position(cursor, fingerprint)
    with service_call() as session:
        rows, total, following = audit.events_after(
            session,
            token.access,
            target_id=target_id,
            after=after,
            page_size=AUDIT_PAGE_SIZE,
        )
    return _json(
        AuditOut(
            data=rows,
            total=total,
            next_cursor=_encode_cursor(following, fingerprint) if following else None,
        )
    )
