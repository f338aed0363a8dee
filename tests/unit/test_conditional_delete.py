"""DELETE with an expected version (the API's If-Match): the delete itself is conditional, so a
change committed by someone else after the caller read the row is a STALE conflict, never lost."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from rxapp.models import ApiKey, AuditEvent, BiasProfile
from rxapp.services import keys as key_service
from rxapp.services import profiles as profile_service
from rxapp.services.errors import ConflictError
from tests.unit.helpers import Person


def _deletes(session: Session, action: str) -> int:
    return session.exec(
        select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
    ).one()


def test_key_delete_with_a_stale_version_is_refused_and_keeps_the_row(
    engine: sa.Engine, session: Session, alice: Person
) -> None:
    created = key_service.create_key(session, alice.access, alice.actor, "guarded")
    session.commit()
    seen = key_service.get_key(session, alice.access, created.key.key_id).version
    with Session(engine, expire_on_commit=False) as other:  # someone else edits after our read
        key_service.update_key(
            other,
            alice.access,
            alice.actor,
            created.key.key_id,
            key_service.parse_changes({"name": "theirs"}),
        )
        other.commit()
    with pytest.raises(ConflictError) as raised:
        key_service.delete_key(session, alice.access, alice.actor, created.key.key_id, expected_version=seen)
    assert raised.value.code == key_service.STALE_CODE
    session.rollback()
    assert key_service.get_key(session, alice.access, created.key.key_id).name == "theirs"
    assert _deletes(session, "key.delete") == 0

    current = key_service.get_key(session, alice.access, created.key.key_id).version
    assert current == seen + 1
    key_service.delete_key(session, alice.access, alice.actor, created.key.key_id, expected_version=current)
    session.commit()
    assert session.exec(select(ApiKey).where(ApiKey.key_id == created.key.key_id)).first() is None
    assert _deletes(session, "key.delete") == 1


def test_profile_delete_with_a_stale_version_is_refused_and_keeps_the_row(
    engine: sa.Engine, session: Session, alice: Person
) -> None:
    profile = profile_service.create_profile(session, alice.access, alice.actor, "Guarded")
    session.commit()
    seen = profile_service.get_profile(session, alice.access, profile.id).version
    with Session(engine, expire_on_commit=False) as other:
        profile_service.update_profile(
            other,
            alice.access,
            alice.actor,
            profile.id,
            name="Theirs",
            description="",
            categories=[],
            sensitivity=0.5,
            action="flag",
        )
        other.commit()
    with pytest.raises(ConflictError) as raised:
        profile_service.delete_profile(session, alice.access, alice.actor, profile.id, expected_version=seen)
    assert raised.value.code == profile_service.STALE_CODE
    session.rollback()
    assert profile_service.get_profile(session, alice.access, profile.id).name == "Theirs"
    assert _deletes(session, "profile.delete") == 0

    current = profile_service.get_profile(session, alice.access, profile.id).version
    profile_service.delete_profile(session, alice.access, alice.actor, profile.id, expected_version=current)
    session.commit()
    session.expire_all()
    assert session.get(BiasProfile, profile.id) is None
    assert _deletes(session, "profile.delete") == 1
