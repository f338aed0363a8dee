"""Audit trail: events for every change, filtered by owner and target, never a secret or digest."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, select

from rxapp.models import ApiKey, AuditEvent
from rxapp.services import audit
from rxapp.services import keys as key_service
from rxapp.services import profiles as profile_service
from rxapp.services import users as user_service
from tests.unit.helpers import PASSWORD, Person, utc_now


def test_key_lifecycle_is_audited_without_secrets(session: Session, alice: Person) -> None:
    now = utc_now()
    profile = profile_service.create_profile(session, alice.access, alice.actor, "P")
    created = key_service.create_key(
        session,
        alice.access,
        alice.actor,
        "svc",
        bias_profile_id=profile.id,
        expires_at=now + dt.timedelta(hours=1),
        client_address="192.0.2.7",
        now=now,
    )
    key_id = created.key.key_id
    key_service.update_key(
        session,
        alice.access,
        alice.actor,
        key_id,
        key_service.parse_changes({"name": "svc2", "status": "INACTIVE"}),
    )
    key_service.expire_due_keys(session, now=now + dt.timedelta(hours=2))
    digest = session.exec(select(ApiKey.digest).where(ApiKey.key_id == key_id)).one()
    key_service.delete_key(session, alice.access, alice.actor, key_id)
    user_service.authenticate(session, alice.email, PASSWORD)
    user_service.authenticate(session, alice.email, "wrong-password-123")
    session.commit()

    events, total = audit.list_events(session, alice.access, target_id=key_id)
    assert total == len(events) == 5
    assert sorted(e.action for e in events) == sorted(
        ["key.create", "key.update", "key.status", "key.expire", "key.delete"]
    )
    create = next(e for e in events if e.action == "key.create")
    assert (create.actor, create.client_address, create.target_type) == (alice.actor, "192.0.2.7", "key")
    all_events = session.exec(select(AuditEvent)).all()
    assert {"user.sign_up", "user.sign_in", "user.sign_in_failed", "profile.create"} <= {
        e.action for e in all_events
    }
    for event in all_events:
        text = " ".join(str(value) for value in event.model_dump().values())
        assert created.secret not in text
        assert created.secret[4:36] not in text
        assert digest not in text
        assert PASSWORD not in text
        assert "wrong-password-123" not in text


def test_list_events_filters_by_owner_and_target_and_pages(
    session: Session, alice: Person, bob: Person
) -> None:
    alice_keys = [
        key_service.create_key(session, alice.access, alice.actor, f"a{i}").key.key_id for i in range(3)
    ]
    bob_key = key_service.create_key(session, bob.access, bob.actor, "b").key.key_id
    session.commit()

    events, total = audit.list_events(session, alice.access)
    assert total == len(events)
    targets = {e.target_id for e in events}
    assert set(alice_keys) <= targets
    assert bob_key not in targets
    assert all(e.actor != bob.actor for e in events)

    only, count = audit.list_events(session, alice.access, target_id=alice_keys[1])
    assert count == 1
    assert [(e.action, e.target_id) for e in only] == [("key.create", alice_keys[1])]
    assert audit.list_events(session, alice.access, target_id=bob_key) == ([], 0)

    first_page, total = audit.list_events(session, alice.access, page=1, page_size=2)
    second_page, _ = audit.list_events(session, alice.access, page=2, page_size=2)
    assert len(first_page) == 2
    assert first_page[0] != second_page[0]
    assert first_page[0].created_at >= second_page[0].created_at  # newest first


def test_record_truncates_long_fields(session: Session, alice: Person) -> None:
    audit.record(
        session,
        action="x.test",
        actor="a" * 400,
        owner_id=alice.id,
        target_id="t" * 300,
        detail="d" * 5000,
        client_address="c" * 100,
    )
    session.commit()
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "x.test")).one()
    assert (len(event.actor), len(event.target_id), len(event.detail), len(event.client_address)) == (
        254,
        100,
        1000,
        64,
    )
