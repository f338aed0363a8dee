"""Nobody sees or touches another user's keys or profiles; 'not yours' looks exactly like 'missing'."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from rxapp.services import audit
from rxapp.services import keys as key_service
from rxapp.services import profiles as profile_service
from rxapp.services.errors import NotFoundError
from tests.unit.helpers import Person, verify_key


@pytest.fixture
def alice_data(session: Session, alice: Person) -> dict:
    profile = profile_service.create_profile(
        session, alice.access, alice.actor, "Alice profile", categories=["age"]
    )
    created = key_service.create_key(
        session, alice.access, alice.actor, "alice key", bias_profile_id=profile.id
    )
    session.commit()
    return {"profile": profile, "key": created.key, "secret": created.secret}


def _snapshot(session: Session, alice: Person) -> tuple:
    session.expire_all()
    return (
        key_service.list_keys(session, alice.access).model_dump(),
        [p.model_dump() for p in profile_service.list_profiles(session, alice.access)],
    )


def _message(call) -> str:
    with pytest.raises(NotFoundError) as error:
        call()
    return error.value.message


def test_other_users_key_is_indistinguishable_from_a_missing_key(
    session: Session, alice: Person, bob: Person, alice_data: dict
) -> None:
    key_id = alice_data["key"].key_id
    missing = "key_aaaaaaaaaaaaaaaa"
    before = _snapshot(session, alice)
    changes = key_service.parse_changes({"name": "pwned", "status": "INACTIVE"})

    pairs = [
        (lambda k: key_service.get_key(session, bob.access, k)),
        (lambda k: key_service.update_key(session, bob.access, bob.actor, k, changes)),
        (lambda k: key_service.delete_key(session, bob.access, bob.actor, k)),
    ]
    for call in pairs:
        assert _message(lambda call=call: call(key_id)) == _message(lambda call=call: call(missing))
        session.rollback()
    assert _snapshot(session, alice) == before
    assert verify_key(session.connection(), alice_data["secret"]).valid


def test_cannot_attach_another_users_profile(
    session: Session, alice: Person, bob: Person, alice_data: dict
) -> None:
    alice_profile = alice_data["profile"].id
    with pytest.raises(NotFoundError) as foreign:
        key_service.create_key(session, bob.access, bob.actor, "bob key", bias_profile_id=alice_profile)
    session.rollback()
    with pytest.raises(NotFoundError) as missing:
        key_service.create_key(session, bob.access, bob.actor, "bob key", bias_profile_id=999_999)
    session.rollback()
    assert foreign.value.message == missing.value.message

    bob_key = key_service.create_key(session, bob.access, bob.actor, "bob key").key
    session.commit()
    with pytest.raises(NotFoundError):
        key_service.update_key(
            session,
            bob.access,
            bob.actor,
            bob_key.key_id,
            key_service.parse_changes({"bias_profile_id": alice_profile}),
        )
    session.rollback()
    assert key_service.get_key(session, bob.access, bob_key.key_id).bias_profile_id is None
    assert profile_service.get_profile(session, alice.access, alice_profile).key_count == 1


def test_lists_only_show_own_rows(session: Session, alice: Person, bob: Person, alice_data: dict) -> None:
    bob_profile = profile_service.create_profile(session, bob.access, bob.actor, "Bob profile")
    bob_key = key_service.create_key(session, bob.access, bob.actor, "bob key").key
    session.commit()

    bob_keys = key_service.list_keys(session, bob.access)
    assert [row.key_id for row in bob_keys.rows] == [bob_key.key_id]
    assert bob_keys.total == 1
    assert key_service.count_keys(session, bob.access) == 1
    # Searching for Alice's key by name or ID finds nothing for Bob.
    for search in ("alice", alice_data["key"].key_id):
        assert key_service.list_keys(session, bob.access, key_service.KeyQuery(search=search)).total == 0
    # Filtering by Alice's profile finds nothing for Bob.
    query = key_service.KeyQuery(bias_profile=alice_data["profile"].id)
    assert key_service.list_keys(session, bob.access, query).total == 0

    assert [p.name for p in profile_service.list_profiles(session, bob.access)] == ["Bob profile"]
    assert [p.name for p in profile_service.list_profiles(session, alice.access)] == ["Alice profile"]
    assert [row.key_id for row in key_service.list_keys(session, alice.access).rows] == [
        alice_data["key"].key_id
    ]
    assert bob_profile.id != alice_data["profile"].id


def test_cannot_read_update_or_delete_another_users_profile(
    session: Session, alice: Person, bob: Person, alice_data: dict
) -> None:
    profile_id = alice_data["profile"].id
    before = _snapshot(session, alice)
    calls = [
        lambda p: profile_service.get_profile(session, bob.access, p),
        lambda p: profile_service.update_profile(
            session,
            bob.access,
            bob.actor,
            p,
            name="Stolen",
            description="",
            categories=[],
            sensitivity=1,
            action="block",
        ),
        lambda p: profile_service.delete_profile(session, bob.access, bob.actor, p),
    ]
    for call in calls:
        assert _message(lambda call=call: call(profile_id)) == _message(lambda call=call: call(999_999))
        session.rollback()
    with pytest.raises(NotFoundError):
        profile_service.find_profile_by_name(session, bob.access, "Alice profile")
    assert _snapshot(session, alice) == before


def test_audit_trail_is_per_owner(session: Session, alice: Person, bob: Person, alice_data: dict) -> None:
    events, total = audit.list_events(session, bob.access)
    assert all(event.target_id != alice_data["key"].key_id for event in events)
    assert all("alice" not in event.actor for event in events)
    assert total == len(events)
    events, _ = audit.list_events(session, bob.access, target_id=alice_data["key"].key_id)
    assert events == []
