"""Roles: named sets of a workspace's permissions (issue 24), part of its permission catalogue.

A key names its roles in its `program` JSON (`roles`) beside the union of their permissions
(`role_permissions`). Verify reads both with the key row (hotpath/program.py), so it needs no
extra query; in exchange every change to a role (its permissions, its name) rewrites, in the same
transaction, the program of each key that has it: the next verification sees the change, and no
cache can hold the old set (the parsed-program cache is keyed by the JSON text, which changed).

Race: a key given a role while the role changes. Both sides take the role rows with
`SELECT … FOR UPDATE` (PostgreSQL; SQLite serialises writers anyway) before reading them, so the
key either sees the new permissions or is rewritten by the role change.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session, col, select

from rxapp.models import ApiKey, KeyRole, KeyRolePublic, utc_now
from rxapp.services import audit, identities, programs
from rxapp.services.access import Access, Need, require
from rxapp.services.errors import ConflictError, NotFoundError, ValidationError
from rxapp.services.text import storable

_DETAIL_MAX = 1000


def _detail(text: str) -> str:
    return text if len(text) <= _DETAIL_MAX else text[: _DETAIL_MAX - 3] + "..."


def _audit(session: Session, access: Access, actor: str, action: str, target: str, detail: str) -> None:
    audit.record_for(
        session,
        access,
        action=action,
        actor=actor,
        target_type="role",
        target_id=target[:100],
        detail=_detail(detail),
    )


def _keys_with_role(session: Session, workspace_id: int, name: str) -> list[ApiKey]:
    """Keys of the workspace that have this role (read from their program JSON)."""
    keys = session.exec(
        select(ApiKey).where(ApiKey.workspace_id == workspace_id, col(ApiKey.program).is_not(None))
    ).all()
    return [key for key in keys if name in ((key.program or {}).get("roles") or [])]


def _public(session: Session, role: KeyRole) -> KeyRolePublic:
    assert role.id is not None
    return KeyRolePublic(
        id=role.id,
        name=role.name,
        description=role.description,
        permissions=sorted(role.permissions or []),
        key_count=len(_keys_with_role(session, role.workspace_id, role.name)),
    )


def _find(session: Session, workspace_id: int, name: str, lock: bool = False) -> KeyRole | None:
    if not storable(name):
        return None
    statement = select(KeyRole).where(KeyRole.workspace_id == workspace_id, KeyRole.name == name)
    if lock:
        statement = statement.with_for_update()
    return session.exec(statement).first()


def _owned(session: Session, workspace_id: int, name: str, lock: bool = False) -> KeyRole:
    found = _find(session, workspace_id, name, lock)
    if found is None:
        raise NotFoundError("KeyRole not found.", target_type="role", target_id=name[:100])
    return found


def _description(description: str | None) -> str:
    return identities._description(description or "")


def _permissions(session: Session, access: Access, actor: str, names: Any) -> list[str]:
    """A role's permissions: valid names; names new to the catalogue join it (audited)."""
    checked = programs.check_permissions(names)
    identities.ensure_permissions(session, access, actor, checked)
    return checked


def permissions_of(session: Session, access: Access, names: list[str]) -> list[str]:
    """The union of these roles' permissions (the roles locked for this transaction); a name the
    workspace has no role for is UNKNOWN_ROLE."""
    workspace_id = require(access, Need.WRITE).workspace_id
    if not names:
        return []
    found = session.exec(
        select(KeyRole)
        .where(KeyRole.workspace_id == workspace_id, col(KeyRole.name).in_(names))
        .with_for_update()
    ).all()
    missing = sorted(set(names) - {role.name for role in found})
    if missing:
        raise ValidationError(
            f"The workspace has no role named {missing[0][:100]!r}; create it in the catalogue first.",
            field="roles",
            code="UNKNOWN_ROLE",
        )
    return sorted({permission for role in found for permission in role.permissions or []})


def _rewrite_keys(
    session: Session, workspace_id: int, actor: str, keys: list[ApiKey], detail: str, now: dt.datetime
) -> None:
    """Recompute `role_permissions` (and keep `roles`) on these keys from the roles as they are now
    in this transaction; each key's change is audited."""
    if not keys:
        return
    session.flush()
    current = {
        role.name: role.permissions or []
        for role in session.exec(select(KeyRole).where(KeyRole.workspace_id == workspace_id)).all()
    }
    for key in keys:
        program = dict(key.program or {})
        names = [name for name in program.get("roles") or [] if name in current]
        program["roles"] = sorted(names)
        program["role_permissions"] = sorted({p for name in names for p in current[name]})
        if not names:
            program.pop("roles")
            program.pop("role_permissions")
        key.program = programs.stored_program(
            credits=bool(program.get("credits")),
            permissions=list(program.get("permissions") or []),
            meta=program.get("meta"),
            ip_allow=list(program.get("ip_allow") or []),
            ratelimits=list(program.get("ratelimits") or []),
            identity_id=program.get("identity_id"),
            roles=program.get("roles"),
            role_permissions=program.get("role_permissions"),
        )
        key.updated_at, key.version = now, key.version + 1
        session.add(key)
        audit.record(
            session, action="key.update", actor=actor, owner_id=key.owner_id, workspace_id=workspace_id,
            target_type="key", target_id=key.key_id, when=now, detail=_detail(detail),
        )  # fmt: skip
    session.flush()


# ---------------------------------------------------------------- the catalogue's roles


def list_roles(session: Session, access: Access) -> list[KeyRolePublic]:
    workspace_id = require(access, Need.READ).workspace_id
    found = session.exec(
        select(KeyRole).where(KeyRole.workspace_id == workspace_id).order_by(col(KeyRole.name))
    ).all()
    return [_public(session, role) for role in found]


def get_role(session: Session, access: Access, name: str) -> KeyRolePublic:
    workspace_id = require(access, Need.READ).workspace_id
    return _public(session, _owned(session, workspace_id, name))


def create_role(
    session: Session,
    access: Access,
    actor: str,
    name: str,
    *,
    description: str = "",
    permissions: list[str] | None = None,
) -> KeyRolePublic:
    workspace_id = require(access, Need.WRITE).workspace_id
    name = programs.check_role_name(name)
    description = _description(description)
    if _find(session, workspace_id, name) is not None:
        raise ConflictError("A role with this name exists.", field="name", code="ROLE_EXISTS")
    chosen = _permissions(session, access, actor, permissions or [])
    now = utc_now()
    role = KeyRole(
        workspace_id=workspace_id, name=name, description=description, permissions=chosen, created_at=now
    )
    session.add(role)
    session.flush()
    _audit(session, access, actor, "role.create", name, f"name={name!r} permissions={chosen}")
    return _public(session, role)


def update_role(
    session: Session,
    access: Access,
    actor: str,
    name: str,
    *,
    new_name: str | None = None,
    description: str | None = None,
    permissions: list[str] | None = None,
    now: dt.datetime | None = None,
) -> KeyRolePublic:
    """Rename, describe or choose a role's permissions; every key with the role follows at once."""
    workspace_id = require(access, Need.WRITE).workspace_id
    role = _owned(session, workspace_id, name, lock=True)
    now = now or utc_now()
    notes: list[str] = []
    if description is not None and _description(description) != role.description:
        role.description = _description(description)
        notes.append("description=changed")
    keys = _keys_with_role(session, workspace_id, name)
    key_notes: list[str] = []
    if new_name is not None and new_name != name:
        new_name = programs.check_role_name(new_name)
        if _find(session, workspace_id, new_name) is not None:
            raise ConflictError("A role with this name exists.", field="name", code="ROLE_EXISTS")
        for key in keys:
            program = dict(key.program or {})
            program["roles"] = sorted({new_name if r == name else r for r in program.get("roles") or []})
            key.program = program
        role.name = new_name
        notes.append(f"previous_name={name!r} name={new_name!r}")
        key_notes.append(f"role {name!r} renamed to {new_name!r}")
    if permissions is not None:
        chosen = _permissions(session, access, actor, permissions)
        if chosen != sorted(role.permissions or []):
            role.permissions = chosen
            notes.append(f"permissions={chosen}")
            key_notes.append(f"role={role.name!r} role_permissions={chosen}")
    if not notes:
        return _public(session, role)
    session.add(role)
    action = "role.rename" if new_name is not None and new_name != name else "role.update"
    _audit(session, access, actor, action, role.name, " ".join(notes))
    if key_notes:
        _rewrite_keys(session, workspace_id, actor, keys, "; ".join(key_notes), now)
    session.flush()
    return _public(session, role)


def delete_role(session: Session, access: Access, actor: str, name: str) -> None:
    """Refused while keys have it (ROLE_IN_USE): take it off them first."""
    workspace_id = require(access, Need.WRITE).workspace_id
    role = _owned(session, workspace_id, name, lock=True)
    if _keys_with_role(session, workspace_id, name):
        raise ConflictError("Keys have this role; take it off them first.", code="ROLE_IN_USE")
    session.delete(role)
    session.flush()
    _audit(session, access, actor, "role.delete", name, f"name={name!r}")


def role_names(session: Session, access: Access) -> list[str]:
    """The workspace's role names (the key form's choices)."""
    workspace_id = require(access, Need.READ).workspace_id
    return list(
        session.exec(
            select(KeyRole.name).where(KeyRole.workspace_id == workspace_id).order_by(col(KeyRole.name))
        )
    )
