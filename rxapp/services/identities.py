"""Identities (the customer behind keys, by `external_id`, with shared meta and rate limits) and
the workspace's permission catalogue. Both are workspace-owned; every change is audited."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from rxapp.models import ApiKey, Identity, IdentityPublic, KeyRole, Permission, PermissionPublic, utc_now
from rxapp.services import audit, programs
from rxapp.services.access import Access, Need, require
from rxapp.services.errors import ConflictError, NotFoundError, ValidationError
from rxapp.services.text import hidden_character, storable

_UNSET: Any = object()


def _detail(text: str) -> str:
    return text if len(text) <= 1000 else text[:997] + "..."


def _audit(
    session: Session, access: Access, actor: str, action: str, kind: str, target: str, detail: str
) -> None:
    audit.record_for(
        session,
        access,
        action=action,
        actor=actor,
        target_type=kind,
        target_id=target[:100],
        detail=_detail(detail),
    )


# ---------------------------------------------------------------- identities


def _identity_public(session: Session, identity: Identity) -> IdentityPublic:
    count = session.exec(select(sa.func.count()).where(col(ApiKey.identity_id) == identity.id)).one()
    return IdentityPublic(
        external_id=identity.external_id,
        meta=identity.meta,
        ratelimits=list(identity.ratelimits or []),
        key_count=int(count),
        created_at=identity.created_at,
        updated_at=identity.updated_at,
    )


def find_identity(session: Session, workspace_id: int, external_id: str) -> Identity | None:
    return session.exec(
        select(Identity).where(Identity.workspace_id == workspace_id, Identity.external_id == external_id)
    ).first()


def _owned_identity(session: Session, workspace_id: int, external_id: str) -> Identity:
    identity = find_identity(session, workspace_id, external_id) if storable(external_id) else None
    if identity is None:
        raise NotFoundError(
            "Identity not found.", field="identity", target_type="identity", target_id=external_id[:100]
        )
    return identity


def ensure_identity(session: Session, access: Access, actor: str, external_id: str) -> Identity:
    """The workspace's identity with this external id, made (and audited) when it is new."""
    workspace_id = require(access, Need.WRITE).workspace_id
    external_id = programs.check_external_id(external_id)
    identity = find_identity(session, workspace_id, external_id)
    if identity is None:
        identity = Identity(workspace_id=workspace_id, external_id=external_id)
        session.add(identity)
        session.flush()
        _audit(
            session, access, actor, "identity.create", "identity", external_id, f"external_id={external_id!r}"
        )
    return identity


def create_identity(
    session: Session,
    access: Access,
    actor: str,
    external_id: str,
    *,
    meta: dict[str, Any] | None = None,
    ratelimits: list[dict[str, Any]] | None = None,
) -> IdentityPublic:
    workspace_id = require(access, Need.WRITE).workspace_id
    external_id = programs.check_external_id(external_id)
    if find_identity(session, workspace_id, external_id) is not None:
        raise ConflictError(
            "An identity with this external id exists.", field="external_id", code="IDENTITY_EXISTS"
        )
    now = utc_now()
    identity = Identity(
        workspace_id=workspace_id,
        external_id=external_id,
        meta=programs.check_meta(meta),
        ratelimits=programs.check_ratelimits(ratelimits) or None,
        created_at=now,
        updated_at=now,
    )
    session.add(identity)
    session.flush()
    limits = [f"{item['name']}={item['limit']}/{item['duration']}ms" for item in identity.ratelimits or []]
    _audit(
        session, access, actor, "identity.create", "identity", external_id,
        f"external_id={external_id!r} ratelimits={limits} meta={'set' if meta is not None else 'none'}",
    )  # fmt: skip
    return _identity_public(session, identity)


def get_identity(session: Session, access: Access, external_id: str) -> IdentityPublic:
    workspace_id = require(access, Need.READ).workspace_id
    return _identity_public(session, _owned_identity(session, workspace_id, external_id))


def list_identities(session: Session, access: Access) -> list[IdentityPublic]:
    workspace_id = require(access, Need.READ).workspace_id
    found = session.exec(
        select(Identity).where(Identity.workspace_id == workspace_id).order_by(col(Identity.external_id))
    ).all()
    return [_identity_public(session, identity) for identity in found]


def update_identity(
    session: Session,
    access: Access,
    actor: str,
    external_id: str,
    *,
    meta: Any = _UNSET,
    ratelimits: Any = _UNSET,
) -> IdentityPublic:
    workspace_id = require(access, Need.WRITE).workspace_id
    identity = _owned_identity(session, workspace_id, external_id)
    notes = []
    if meta is not _UNSET:
        identity.meta = programs.check_meta(meta)
        notes.append("meta=" + ("set" if meta is not None else "none"))
    if ratelimits is not _UNSET:
        identity.ratelimits = programs.check_ratelimits(ratelimits) or None
        limits = [
            f"{item['name']}={item['limit']}/{item['duration']}ms" for item in identity.ratelimits or []
        ]
        notes.append(f"ratelimits={limits}")
    if notes:
        identity.updated_at = utc_now()
        session.add(identity)
        session.flush()
        _audit(session, access, actor, "identity.update", "identity", external_id, " ".join(notes))
    return _identity_public(session, identity)


def delete_identity(session: Session, access: Access, actor: str, external_id: str) -> None:
    """Refused while keys belong to it (IDENTITY_IN_USE): move or delete them first."""
    workspace_id = require(access, Need.WRITE).workspace_id
    identity = _owned_identity(session, workspace_id, external_id)
    if _identity_public(session, identity).key_count:
        raise ConflictError(
            "Keys belong to this identity; move them to another identity or delete them first.",
            code="IDENTITY_IN_USE",
        )
    session.delete(identity)
    session.flush()
    _audit(session, access, actor, "identity.delete", "identity", external_id, f"external_id={external_id!r}")


def shared_limits(session: Session, access: Access, external_id: str) -> tuple[int, list[dict[str, Any]]]:
    """An identity's row id and its shared limits (the key page reads their use by row id)."""
    workspace_id = require(access, Need.READ).workspace_id
    identity = _owned_identity(session, workspace_id, external_id)
    assert identity.id is not None
    return identity.id, list(identity.ratelimits or [])


def identity_external_ids(session: Session, identity_ids: set[int]) -> dict[int, str]:
    if not identity_ids:
        return {}
    rows = session.exec(select(Identity.id, Identity.external_id).where(col(Identity.id).in_(identity_ids)))
    return {row_id: external_id for row_id, external_id in rows if row_id is not None}


# ---------------------------------------------------------------- the permission catalogue


def _keys_with(session: Session, workspace_id: int, name: str, through_roles: bool = False) -> list[ApiKey]:
    """Keys of the workspace carrying this permission themselves (read from their program JSON),
    or, `through_roles`, also through one of their roles."""
    keys = session.exec(
        select(ApiKey).where(ApiKey.workspace_id == workspace_id, col(ApiKey.program).is_not(None))
    ).all()
    fields = ("permissions", "role_permissions") if through_roles else ("permissions",)
    return [key for key in keys if any(name in ((key.program or {}).get(f) or []) for f in fields)]


def _roles_with(session: Session, workspace_id: int, name: str) -> list[KeyRole]:
    """The workspace's roles that include this permission (locked: a rename rewrites them)."""
    roles = session.exec(select(KeyRole).where(KeyRole.workspace_id == workspace_id).with_for_update()).all()
    return [role for role in roles if name in (role.permissions or [])]


def _permission_public(session: Session, permission: Permission) -> PermissionPublic:
    assert permission.id is not None
    return PermissionPublic(
        id=permission.id,
        name=permission.name,
        description=permission.description,
        key_count=len(_keys_with(session, permission.workspace_id, permission.name)),
    )


def _owned_permission(session: Session, workspace_id: int, name: str) -> Permission:
    found = (
        None
        if not storable(name)
        else session.exec(
            select(Permission).where(Permission.workspace_id == workspace_id, Permission.name == name)
        ).first()
    )
    if found is None:
        raise NotFoundError("Permission not found.", target_type="permission", target_id=name[:100])
    return found


def ensure_permissions(session: Session, access: Access, actor: str, names: list[str]) -> None:
    """Add names a key is given that the catalogue does not have yet (audited)."""
    workspace_id = require(access, Need.WRITE).workspace_id
    if not names:
        return
    known = set(
        session.exec(
            select(Permission.name).where(
                Permission.workspace_id == workspace_id, col(Permission.name).in_(names)
            )
        )
    )
    for name in names:
        if name not in known:
            session.add(Permission(workspace_id=workspace_id, name=name))
            _audit(session, access, actor, "permission.create", "permission", name, f"name={name!r}")
    session.flush()


def create_permission(
    session: Session, access: Access, actor: str, name: str, description: str = ""
) -> PermissionPublic:
    workspace_id = require(access, Need.WRITE).workspace_id
    name = programs.check_permission_name(name)
    description = _description(description)
    exists = session.exec(
        select(Permission).where(Permission.workspace_id == workspace_id, Permission.name == name)
    ).first()
    if exists is not None:
        raise ConflictError("This permission exists.", field="name", code="PERMISSION_EXISTS")
    permission = Permission(workspace_id=workspace_id, name=name, description=description)
    session.add(permission)
    session.flush()
    _audit(session, access, actor, "permission.create", "permission", name, f"name={name!r}")
    return _permission_public(session, permission)


def _description(description: str) -> str:
    description = (description or "").strip()
    if len(description) > 500:
        raise ValidationError("A description is at most 500 characters.", field="description")
    if hidden_character(description, multiline=True) or not storable(description):
        raise ValidationError("A description has no control or invisible characters.", field="description")
    return description


def list_permissions(session: Session, access: Access) -> list[PermissionPublic]:
    workspace_id = require(access, Need.READ).workspace_id
    found = session.exec(
        select(Permission).where(Permission.workspace_id == workspace_id).order_by(col(Permission.name))
    ).all()
    return [_permission_public(session, permission) for permission in found]


def update_permission(
    session: Session,
    access: Access,
    actor: str,
    name: str,
    *,
    new_name: str | None = None,
    description: str | None = None,
    now: dt.datetime | None = None,
) -> PermissionPublic:
    """Rename (every key carrying it is changed too, and audited) or describe a permission."""
    workspace_id = require(access, Need.WRITE).workspace_id
    permission = _owned_permission(session, workspace_id, name)
    now = now or utc_now()
    if description is not None:
        permission.description = _description(description)
    if new_name is not None and new_name != name:
        new_name = programs.check_permission_name(new_name)
        taken = session.exec(
            select(Permission).where(Permission.workspace_id == workspace_id, Permission.name == new_name)
        ).first()
        if taken is not None:
            raise ConflictError("A permission with this name exists.", field="name", code="PERMISSION_EXISTS")
        for role in _roles_with(session, workspace_id, name):
            role.permissions = sorted({new_name if p == name else p for p in role.permissions})
            session.add(role)
        for key in _keys_with(session, workspace_id, name, through_roles=True):
            program = dict(key.program or {})
            for field in ("permissions", "role_permissions"):
                if field in program:
                    program[field] = sorted({new_name if p == name else p for p in program[field] or []})
            key.program, key.updated_at, key.version = program, now, key.version + 1
            session.add(key)
            audit.record(
                session, action="key.update", actor=actor, owner_id=key.owner_id, workspace_id=workspace_id,
                target_type="key", target_id=key.key_id, when=now,
                detail=f"permission {name!r} renamed to {new_name!r}",
            )  # fmt: skip
        permission.name = new_name
        _audit(
            session, access, actor, "permission.rename", "permission", new_name, f"{name!r} -> {new_name!r}"
        )
    elif description is not None:
        _audit(session, access, actor, "permission.update", "permission", name, "description changed")
    session.add(permission)
    session.flush()
    return _permission_public(session, permission)


def delete_permission(session: Session, access: Access, actor: str, name: str) -> None:
    """Refused while keys carry it (PERMISSION_IN_USE)."""
    workspace_id = require(access, Need.WRITE).workspace_id
    permission = _owned_permission(session, workspace_id, name)
    if _keys_with(session, workspace_id, name):
        raise ConflictError("Keys carry this permission; take it off them first.", code="PERMISSION_IN_USE")
    if _roles_with(session, workspace_id, name):
        raise ConflictError(
            "Roles include this permission; take it out of them first.", code="PERMISSION_IN_USE"
        )
    session.delete(permission)
    session.flush()
    _audit(session, access, actor, "permission.delete", "permission", name, f"name={name!r}")
