"""The management API's identities and permission catalogue with its roles (programmable keys),
and the shapes of a key's programmable fields that `keys` accepts. Scopes: keys:read / keys:write."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from rxapp.api.management.common import Token, json_answer, make_router, responses
from rxapp.api.problems import need, service_call
from rxapp.models import IdentityPublic, KeyRolePublic, PermissionPublic
from rxapp.services import identities, programs, roles

router = make_router()
ExternalId = Annotated[str, Path(min_length=1, max_length=programs.EXTERNAL_ID_MAX_LENGTH, examples=["acme"])]
PermissionName = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:/*-]{1,100}$", examples=["documents.read"])]
_NAME = r"^[A-Za-z0-9_.:/*-]{1,100}$"


# ---------------------------------------------------------------- shapes of a key's fields


class RateLimitIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "requests", "limit": 100, "duration": 60000}]},
    )

    name: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    limit: int = Field(ge=1, le=programs.LIMIT_MAX)
    duration: int = Field(
        ge=programs.DURATION_MIN_MS, le=programs.DURATION_MAX_MS, description="Milliseconds"
    )


class RefillIn(BaseModel):
    """Each refill *sets* the balance to `amount`: daily, or monthly on `day` (the last day of a
    shorter month)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"amount": 10000, "interval": "month", "day": 1}]}
    )

    amount: int = Field(ge=0, le=programs.CREDITS_MAX)
    interval: Literal["day", "month"]
    day: int | None = Field(default=None, ge=1, le=31)


class KeyProgramIn(BaseModel):
    """A key's programmable fields (all optional; null clears one on PATCH)."""

    credits: int | None = Field(default=None, ge=0, le=programs.CREDITS_MAX, description="Credits left")
    refill: RefillIn | None = None
    ratelimits: list[RateLimitIn] | None = Field(default=None, max_length=programs.RATELIMITS_MAX)
    permissions: list[Annotated[str, Field(pattern=_NAME)]] | None = Field(
        default=None, max_length=programs.PERMISSIONS_MAX
    )
    roles: list[Annotated[str, Field(pattern=_NAME)]] | None = Field(
        default=None,
        max_length=programs.ROLES_MAX,
        description="Role names of the workspace: verify counts their permissions too",
        examples=[["editor"]],
    )
    meta: dict[str, Any] | None = Field(default=None, description="A JSON object, at most 4 KiB")
    ip_allow: list[Annotated[str, Field(max_length=64)]] | None = Field(
        default=None, max_length=programs.IP_ALLOW_MAX, description="IPv4/IPv6 CIDRs"
    )
    identity: str | None = Field(
        default=None,
        min_length=1,
        max_length=programs.EXTERNAL_ID_MAX_LENGTH,
        description="The identity's external id (made when new)",
    )


def program_given(body: BaseModel) -> dict[str, Any]:
    """The programmable fields the client set, as the services take them."""
    data = body.model_dump(exclude_unset=True)
    return {name: data[name] for name in KeyProgramIn.model_fields if name in data}


# ---------------------------------------------------------------- identities


class IdentityIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "external_id": "acme",
                    "meta": {"plan": "pro"},
                    "ratelimits": [{"name": "requests", "limit": 100, "duration": 60000}],
                }
            ]
        },
    )

    external_id: str = Field(min_length=1, max_length=programs.EXTERNAL_ID_MAX_LENGTH)
    meta: dict[str, Any] | None = None
    ratelimits: list[RateLimitIn] | None = Field(default=None, max_length=programs.RATELIMITS_MAX)


class IdentityChangesIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"meta": {"plan": "team"}}]})

    meta: dict[str, Any] | None = None
    ratelimits: list[RateLimitIn] | None = Field(default=None, max_length=programs.RATELIMITS_MAX)


class IdentityListOut(BaseModel):
    data: list[IdentityPublic]


@router.get(
    "/identities",
    operation_id="listIdentities",
    response_model=IdentityListOut,
    responses=responses(200, IdentityListOut),
)
def list_identities(token: Token) -> JSONResponse:
    """The workspace's identities (the customers behind keys), by external id."""
    need(token, "keys:read")
    with service_call() as session:
        return json_answer(IdentityListOut(data=identities.list_identities(session, token.access)))


@router.post(
    "/identities",
    operation_id="createIdentity",
    status_code=201,
    response_model=IdentityPublic,
    responses=responses(201, IdentityPublic, None, 409),
)
def create_identity(token: Token, body: IdentityIn) -> JSONResponse:
    """An identity: meta and named rate limits shared by all its keys."""
    need(token, "keys:write")
    data = body.model_dump()
    with service_call() as session:
        made = identities.create_identity(
            session,
            token.access,
            token.actor,
            body.external_id,
            meta=data["meta"],
            ratelimits=data["ratelimits"],
        )
    return json_answer(made, 201)


@router.get(
    "/identities/{external_id}",
    operation_id="getIdentity",
    response_model=IdentityPublic,
    responses=responses(200, IdentityPublic),
)
def get_identity(token: Token, external_id: ExternalId) -> JSONResponse:
    need(token, "keys:read")
    with service_call() as session:
        return json_answer(identities.get_identity(session, token.access, external_id))


@router.patch(
    "/identities/{external_id}",
    operation_id="updateIdentity",
    response_model=IdentityPublic,
    responses=responses(200, IdentityPublic),
)
def update_identity(token: Token, external_id: ExternalId, body: IdentityChangesIn) -> JSONResponse:
    """Change meta or rate limits (the fields sent; null clears)."""
    need(token, "keys:write")
    given = body.model_dump(exclude_unset=True)
    with service_call() as session:
        changed = identities.update_identity(session, token.access, token.actor, external_id, **given)
    return json_answer(changed)


@router.delete(
    "/identities/{external_id}",
    operation_id="deleteIdentity",
    status_code=204,
    responses=responses(204, None, None, 409),
)
def delete_identity(token: Token, external_id: ExternalId) -> Response:
    """Refused (409 IDENTITY_IN_USE) while keys belong to it."""
    need(token, "keys:write")
    with service_call() as session:
        identities.delete_identity(session, token.access, token.actor, external_id)
    return Response(status_code=204)


# ---------------------------------------------------------------- permissions


class PermissionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "documents.read", "description": "Read documents"}]},
    )

    name: str = Field(pattern=_NAME)
    description: str = Field(default="", max_length=500)


class PermissionChangesIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"name": "docs.read"}]})

    name: str | None = Field(default=None, pattern=_NAME)
    description: str | None = Field(default=None, max_length=500)


class PermissionListOut(BaseModel):
    data: list[PermissionPublic]


@router.get(
    "/permissions",
    operation_id="listPermissions",
    response_model=PermissionListOut,
    responses=responses(200, PermissionListOut),
)
def list_permissions(token: Token) -> JSONResponse:
    """The workspace's permission catalogue."""
    need(token, "keys:read")
    with service_call() as session:
        return json_answer(PermissionListOut(data=identities.list_permissions(session, token.access)))


@router.post(
    "/permissions",
    operation_id="createPermission",
    status_code=201,
    response_model=PermissionPublic,
    responses=responses(201, PermissionPublic, None, 409),
)
def create_permission(request: Request, token: Token, body: PermissionIn) -> JSONResponse:
    need(token, "keys:write")
    with service_call() as session:
        made = identities.create_permission(session, token.access, token.actor, body.name, body.description)
    return json_answer(made, 201)


@router.patch(
    "/permissions/{name}",
    operation_id="updatePermission",
    response_model=PermissionPublic,
    responses=responses(200, PermissionPublic, None, 409),
)
def update_permission(token: Token, name: PermissionName, body: PermissionChangesIn) -> JSONResponse:
    """Rename (every key carrying it follows, audited) or describe a permission."""
    need(token, "keys:write")
    with service_call() as session:
        changed = identities.update_permission(
            session, token.access, token.actor, name, new_name=body.name, description=body.description
        )
    return json_answer(changed)


@router.delete(
    "/permissions/{name}",
    operation_id="deletePermission",
    status_code=204,
    responses=responses(204, None, None, 409),
)
def delete_permission(token: Token, name: PermissionName) -> Response:
    """Refused (409 PERMISSION_IN_USE) while keys carry it."""
    need(token, "keys:write")
    with service_call() as session:
        identities.delete_permission(session, token.access, token.actor, name)
    return Response(status_code=204)


# ---------------------------------------------------------------- roles


class RoleIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "editor", "permissions": ["documents.read", "documents.write"]}]
        },
    )

    name: str = Field(pattern=_NAME)
    description: str = Field(default="", max_length=500)
    permissions: list[Annotated[str, Field(pattern=_NAME)]] = Field(
        default=[], max_length=programs.PERMISSIONS_MAX, description="New names join the catalogue"
    )


class RoleChangesIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"permissions": ["documents.read"]}]}
    )

    name: str | None = Field(default=None, pattern=_NAME)
    description: str | None = Field(default=None, max_length=500)
    permissions: list[Annotated[str, Field(pattern=_NAME)]] | None = Field(
        default=None, max_length=programs.PERMISSIONS_MAX
    )


class RoleListOut(BaseModel):
    data: list[KeyRolePublic]


@router.get(
    "/roles", operation_id="listRoles", response_model=RoleListOut, responses=responses(200, RoleListOut)
)
def list_roles(token: Token) -> JSONResponse:
    """The workspace's roles: named sets of its permissions that keys may be given."""
    need(token, "keys:read")
    with service_call() as session:
        return json_answer(RoleListOut(data=roles.list_roles(session, token.access)))


@router.post(
    "/roles",
    operation_id="createRole",
    status_code=201,
    response_model=KeyRolePublic,
    responses=responses(201, KeyRolePublic, None, 409),
)
def create_role(token: Token, body: RoleIn) -> JSONResponse:
    """A role; keys given it (`roles` on a key) verify with its permissions."""
    need(token, "keys:write")
    with service_call() as session:
        made = roles.create_role(
            session,
            token.access,
            token.actor,
            body.name,
            description=body.description,
            permissions=list(body.permissions),
        )
    return json_answer(made, 201)


@router.get(
    "/roles/{name}",
    operation_id="getRole",
    response_model=KeyRolePublic,
    responses=responses(200, KeyRolePublic),
)
def get_role(token: Token, name: PermissionName) -> JSONResponse:
    need(token, "keys:read")
    with service_call() as session:
        return json_answer(roles.get_role(session, token.access, name))


@router.patch(
    "/roles/{name}",
    operation_id="updateRole",
    response_model=KeyRolePublic,
    responses=responses(200, KeyRolePublic, None, 409),
)
def update_role(token: Token, name: PermissionName, body: RoleChangesIn) -> JSONResponse:
    """Rename, describe or choose its permissions: every key with the role follows on its next call."""
    need(token, "keys:write")
    with service_call() as session:
        changed = roles.update_role(
            session,
            token.access,
            token.actor,
            name,
            new_name=body.name,
            description=body.description,
            permissions=body.permissions,
        )
    return json_answer(changed)


@router.delete(
    "/roles/{name}", operation_id="deleteRole", status_code=204, responses=responses(204, None, None, 409)
)
def delete_role(token: Token, name: PermissionName) -> Response:
    """Refused (409 ROLE_IN_USE) while keys have it."""
    need(token, "keys:write")
    with service_call() as session:
        roles.delete_role(session, token.access, token.actor, name)
    return Response(status_code=204)
