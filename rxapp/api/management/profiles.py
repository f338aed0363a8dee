"""The management API's Bias Profiles (keys are in `keys`, the audit trail in `audit`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from rxapp import routes
from rxapp.api.management.common import (
    IdempotencyKey,
    Token,
    created,
    json_answer,
    make_router,
    one_of,
    responses,
)
from rxapp.api.problems import DB_INT_MAX, caller, check_version, if_match, need, service_call
from rxapp.models import BiasProfilePublic, ProfileAction
from rxapp.services import profiles as profile_service

router = make_router()
_PROFILE_LINKS = {
    "GetProfile": {"operationId": "getProfile", "parameters": {"profile_id": "$response.body#/id"}},
    "UpdateProfile": {"operationId": "updateProfile", "parameters": {"profile_id": "$response.body#/id"}},
    "DeleteProfile": {"operationId": "deleteProfile", "parameters": {"profile_id": "$response.body#/id"}},
}
ProfileId = Annotated[int, Path(ge=1, le=DB_INT_MAX, examples=[1])]  # bounded: the database's integer
if TYPE_CHECKING:
    Action = str
else:  # models.ProfileAction's values, as a Literal (see `one_of`): an inline enum in the schema
    Action = one_of(action.value for action in ProfileAction)
NAME_MAX = profile_service.NAME_MAX_LENGTH
DESCRIPTION_MAX = profile_service.DESCRIPTION_MAX_LENGTH
CATEGORIES_MAX = 20  # items a client may send; repeats are allowed (the service keeps each once)


class ProfileIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "strict", "categories": ["gender", "age"], "sensitivity": 0.8, "action": "block"}
            ]
        },
    )

    name: str = Field(max_length=NAME_MAX)
    description: str = Field(default="", max_length=DESCRIPTION_MAX)
    categories: list[str] = Field(default_factory=list, max_length=CATEGORIES_MAX)
    sensitivity: float = Field(default=0.5, ge=0, le=1)
    action: Action = ProfileAction.FLAG.value


class ProfileChangesIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"sensitivity": 0.9}]})

    name: str | None = Field(default=None, max_length=NAME_MAX)
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX)
    categories: list[str] | None = Field(default=None, max_length=CATEGORIES_MAX)
    sensitivity: float | None = Field(default=None, ge=0, le=1)
    action: Action | None = None


class ProfileListOut(BaseModel):
    data: list[BiasProfilePublic]


@router.get(
    "/profiles",
    operation_id="listProfiles",
    response_model=ProfileListOut,
    responses=responses(200, ProfileListOut),
)
def list_profiles(token: Token) -> JSONResponse:
    need(token, "profiles:read")
    with service_call() as session:
        rows = profile_service.list_profiles(session, token.access)
    return json_answer(ProfileListOut(data=rows))


@router.post(
    "/profiles",
    operation_id="createProfile",
    status_code=201,
    response_model=BiasProfilePublic,
    responses={
        **responses(201, BiasProfilePublic, _PROFILE_LINKS, 409),
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
        return str(profile.id), json_answer(profile, 201, profile.version, Location=location)

    def replay(session: Any, profile_id: str) -> JSONResponse:
        profile = profile_service.get_profile(session, token.access, int(profile_id))
        return json_answer(profile, 200, profile.version)

    return created(request, token, idempotency_key, body, make, replay)


@router.get(
    "/profiles/{profile_id}",
    operation_id="getProfile",
    response_model=BiasProfilePublic,
    responses=responses(200, BiasProfilePublic),
)
def get_profile(token: Token, profile_id: ProfileId) -> JSONResponse:
    need(token, "profiles:read")
    with service_call() as session:
        profile = profile_service.get_profile(session, token.access, profile_id)
    return json_answer(profile, version=profile.version)


@router.patch(
    "/profiles/{profile_id}",
    operation_id="updateProfile",
    response_model=BiasProfilePublic,
    responses=responses(200, BiasProfilePublic, None, 409, 412),
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
    return json_answer(profile, version=profile.version)


@router.delete(
    "/profiles/{profile_id}",
    operation_id="deleteProfile",
    status_code=204,
    responses=responses(204, None, None, 409, 412),
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
