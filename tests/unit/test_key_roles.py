"""Roles (issue 24): named sets of the catalogue's permissions. A key given roles verifies with
their permissions too; a role change (permissions, name) reaches its keys at once, through the
key row verify reads (no cache); a permission or role in use is not deleted; the audit trail
reads as words."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from rxapp.models import ApiKey, AuditEvent
from rxapp.services import identities, roles
from rxapp.services import keys as key_service
from rxapp.services.audit_text import readable_detail
from rxapp.services.errors import ConflictError, NotFoundError, ValidationError
from rxapp.services.permission_query import parse, satisfied
from tests.unit.helpers import Person, verify_key
from tests.unit.test_key_programs import engine  # noqa: F401  (both databases: FOR UPDATE on PostgreSQL)


def _permissions(session: Session, secret: str) -> frozenset[str]:
    session.flush()
    program = verify_key(session.connection(), secret).program
    assert program is not None
    return program.permissions


def test_a_key_counts_its_roles_permissions(session: Session, alice: Person) -> None:
    made = roles.create_role(
        session, alice.access, alice.actor, "editor", permissions=["documents.write", "documents.read"]
    )
    assert made.permissions == ["documents.read", "documents.write"] and made.key_count == 0
    key = key_service.create_key(
        session,
        alice.access,
        alice.actor,
        "k",
        program={"permissions": ["admin"], "roles": ["editor"]},
    )
    session.commit()
    assert key.key.roles == ["editor"] and key.key.permissions == ["admin"]
    found = _permissions(session, key.secret)
    assert found == {"admin", "documents.read", "documents.write"}
    assert satisfied(parse("documents.write AND admin"), found)
    program = verify_key(session.connection(), key.secret).program
    assert program is not None
    assert program.permission_list == ("admin", "documents.read", "documents.write")
    # the catalogue learned the role's permissions
    names = [p.name for p in identities.list_permissions(session, alice.access)]
    assert names == ["admin", "documents.read", "documents.write"]
    assert roles.get_role(session, alice.access, "editor").key_count == 1


def test_a_role_change_reaches_its_keys_on_the_next_call(session: Session, alice: Person) -> None:
    roles.create_role(session, alice.access, alice.actor, "reader", permissions=["documents.read"])
    key = key_service.create_key(session, alice.access, alice.actor, "k", program={"roles": ["reader"]})
    session.commit()
    assert _permissions(session, key.secret) == {"documents.read"}
    roles.update_role(session, alice.access, alice.actor, "reader", permissions=["documents.read", "billing"])
    session.commit()
    assert _permissions(session, key.secret) == {"documents.read", "billing"}
    roles.update_role(session, alice.access, alice.actor, "reader", new_name="viewer")
    session.commit()
    assert key_service.get_key(session, alice.access, key.key.key_id).roles == ["viewer"]
    assert _permissions(session, key.secret) == {"documents.read", "billing"}
    # a permission renamed in the catalogue follows into the role and the key
    identities.update_permission(session, alice.access, alice.actor, "billing", new_name="invoices")
    session.commit()
    assert roles.get_role(session, alice.access, "viewer").permissions == ["documents.read", "invoices"]
    assert _permissions(session, key.secret) == {"documents.read", "invoices"}
    # taking the role off the key leaves a plain key
    key_service.update_key(
        session, alice.access, alice.actor, key.key.key_id, key_service.KeyChanges(roles=[])
    )
    session.commit()
    session.expire_all()
    row = session.exec(select(ApiKey).where(ApiKey.key_id == key.key.key_id)).one()
    assert row.program is None


def test_in_use_and_unknown_are_refused(session: Session, alice: Person, bob: Person) -> None:
    roles.create_role(session, alice.access, alice.actor, "ops", permissions=["deploy"])
    key = key_service.create_key(session, alice.access, alice.actor, "k", program={"roles": ["ops"]})
    with pytest.raises(ConflictError) as in_use:
        roles.delete_role(session, alice.access, alice.actor, "ops")
    assert in_use.value.code == "ROLE_IN_USE"
    with pytest.raises(ConflictError) as permission_in_use:  # the role still includes it
        identities.delete_permission(session, alice.access, alice.actor, "deploy")
    assert permission_in_use.value.code == "PERMISSION_IN_USE"
    with pytest.raises(ConflictError) as exists:
        roles.create_role(session, alice.access, alice.actor, "ops")
    assert exists.value.code == "ROLE_EXISTS"
    with pytest.raises(ValidationError) as unknown:
        key_service.create_key(session, alice.access, alice.actor, "k2", program={"roles": ["nope"]})
    assert unknown.value.code == "UNKNOWN_ROLE"
    with pytest.raises(ValidationError) as bad:
        roles.create_role(session, alice.access, alice.actor, "has space")
    assert bad.value.code == "BAD_ROLE"
    # another workspace sees nothing of it and cannot use it
    with pytest.raises(NotFoundError):
        roles.get_role(session, bob.access, "ops")
    with pytest.raises(ValidationError):
        key_service.create_key(session, bob.access, bob.actor, "k3", program={"roles": ["ops"]})
    key_service.update_key(
        session, alice.access, alice.actor, key.key.key_id, key_service.KeyChanges(roles=[])
    )
    roles.update_role(session, alice.access, alice.actor, "ops", permissions=[])
    roles.delete_role(session, alice.access, alice.actor, "ops")
    identities.delete_permission(session, alice.access, alice.actor, "deploy")
    assert roles.list_roles(session, alice.access) == []


def test_role_changes_are_audited_in_words(session: Session, alice: Person) -> None:
    roles.create_role(session, alice.access, alice.actor, "editor", permissions=["a.read"])
    key = key_service.create_key(session, alice.access, alice.actor, "k", program={"roles": ["editor"]})
    roles.update_role(session, alice.access, alice.actor, "editor", permissions=["a.read", "a.write"])
    session.commit()
    events = session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()  # type: ignore[arg-type]
    by_action = {(e.action, e.target_id): readable_detail(e.detail) for e in events}
    assert by_action[("role.create", "editor")] == "Name: editor · Permissions: a.read"
    assert by_action[("role.update", "editor")] == "Permissions: a.read, a.write"
    key_details = [readable_detail(e.detail) for e in events if e.target_id == key.key.key_id]
    assert "Roles: editor" in key_details[0]
    assert key_details[-1] == "Role: editor · Role permissions: a.read, a.write"
    assert all("[" not in detail for detail in by_action.values())
