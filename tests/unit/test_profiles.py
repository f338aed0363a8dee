"""Bias profiles: validation, per-user unique names, key counts, in-use deletion, versions."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from sqlmodel import Session

from rxapp.models import BIAS_CATEGORIES
from rxapp.services import keys as key_service
from rxapp.services import profiles as profile_service
from rxapp.services.errors import ConflictError, NotFoundError, ValidationError
from tests.unit.helpers import Person, utc_now, verify_key


def _create(session: Session, person: Person, name: str = "Default", **kwargs):
    profile = profile_service.create_profile(session, person.access, person.actor, name, **kwargs)
    session.commit()
    return profile


def _update(session: Session, person: Person, profile_id: int, **overrides):
    values = {"name": "Renamed", "description": "", "categories": [], "sensitivity": 0.5, "action": "flag"}
    values.update(overrides)
    return profile_service.update_profile(session, person.access, person.actor, profile_id, **values)


def test_create_profile_normalises_settings(session: Session, alice: Person) -> None:
    profile = _create(
        session,
        alice,
        "  Strict  ",
        description="  for the public API\n\tline two ",
        categories=["religion", "gender", "age", "gender"],
        sensitivity="0.75",
        action="block",
    )
    assert profile.name == "Strict"
    assert profile.description == "for the public API\n\tline two"
    assert profile.categories == ["gender", "age", "religion"]  # canonical order, no duplicates
    assert profile.sensitivity == 0.75
    assert profile.action == "block"
    assert profile.key_count == 0
    assert profile.version == 1


def test_all_known_categories_and_edge_sensitivities_are_accepted(session: Session, alice: Person) -> None:
    every = _create(session, alice, "Every", categories=list(BIAS_CATEGORIES), sensitivity=0)
    assert every.categories == list(BIAS_CATEGORIES)
    assert _create(session, alice, "Max", sensitivity=1).sensitivity == 1.0
    assert _create(session, alice, "Half", sensitivity="0.5").sensitivity == 0.5


@pytest.mark.parametrize("action", ["flag", "block", "rewrite"])
def test_each_action_is_accepted(session: Session, alice: Person, action: str) -> None:
    assert _create(session, alice, action=action).action == action


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 81}, "name"),
        ({"name": "bad\x00name"}, "name"),
        ({"name": "bad\nname"}, "name"),
        ({"name": "bad\tname"}, "name"),
        ({"name": "bad\x85name"}, "name"),
        ({"description": "bad\x00description"}, "description"),
        ({"description": "d" * 501}, "description"),
        ({"categories": ["gender", "astrology"]}, "categories"),
        ({"categories": ["Gender"]}, "categories"),
        ({"sensitivity": -0.01}, "sensitivity"),
        ({"sensitivity": 1.0001}, "sensitivity"),
        ({"sensitivity": math.nan}, "sensitivity"),
        ({"sensitivity": math.inf}, "sensitivity"),
        ({"sensitivity": -math.inf}, "sensitivity"),
        ({"sensitivity": "nan"}, "sensitivity"),
        ({"sensitivity": "inf"}, "sensitivity"),
        ({"sensitivity": "high"}, "sensitivity"),
        ({"sensitivity": ""}, "sensitivity"),
        ({"sensitivity": None}, "sensitivity"),
        ({"sensitivity": [0.5]}, "sensitivity"),
        ({"action": "delete"}, "action"),
        ({"action": "FLAG"}, "action"),
        ({"action": ""}, "action"),
    ],
)
def test_validation_rejects(session: Session, alice: Person, kwargs: dict, field: str) -> None:
    values = {"name": "Valid", "description": "", "categories": [], "sensitivity": 0.5, "action": "flag"}
    values.update(kwargs)
    name = values.pop("name")
    with pytest.raises(ValidationError) as error:
        profile_service.create_profile(session, alice.access, alice.actor, name, **values)
    assert error.value.field == field
    session.rollback()
    assert profile_service.list_profiles(session, alice.access) == []


def test_names_are_unique_per_user_case_insensitively(session: Session, alice: Person, bob: Person) -> None:
    _create(session, alice, "Strict")
    for clash in ("Strict", "strict", "  STRICT "):
        with pytest.raises(ConflictError) as error:
            profile_service.create_profile(session, alice.access, alice.actor, clash)
        assert error.value.field == "name"
        session.rollback()
    assert _create(session, bob, "Strict").name == "Strict"  # another user may use the same name
    other = _create(session, alice, "Other")
    with pytest.raises(ConflictError):
        _update(session, alice, other.id, name="sTrIcT")
    session.rollback()
    # Renaming a profile to (a different case of) its own name is fine.
    assert _update(session, alice, other.id, name="OTHER").name == "OTHER"


def test_list_profiles_counts_keys(session: Session, alice: Person) -> None:
    used = _create(session, alice, "Used")
    unused = _create(session, alice, "Unused")
    for index in range(3):
        key_service.create_key(session, alice.access, alice.actor, f"k{index}", bias_profile_id=used.id)
    key_service.create_key(session, alice.access, alice.actor, "bare")
    session.commit()
    counts = {p.name: p.key_count for p in profile_service.list_profiles(session, alice.access)}
    assert counts == {"Used": 3, "Unused": 0}
    assert [p.name for p in profile_service.list_profiles(session, alice.access)] == ["Unused", "Used"]
    assert profile_service.get_profile(session, alice.access, used.id).key_count == 3
    assert profile_service.find_profile_by_name(session, alice.access, " used ").key_count == 3
    assert profile_service.get_profile(session, alice.access, unused.id).key_count == 0


def test_profile_in_use_cannot_be_deleted_until_keys_are_moved(session: Session, alice: Person) -> None:
    profile = _create(session, alice, "Busy")
    spare = _create(session, alice, "Spare")
    first = key_service.create_key(session, alice.access, alice.actor, "k1", bias_profile_id=profile.id).key
    second = key_service.create_key(session, alice.access, alice.actor, "k2", bias_profile_id=profile.id).key
    session.commit()

    with pytest.raises(ConflictError) as error:
        profile_service.delete_profile(session, alice.access, alice.actor, profile.id)
    assert "2 API keys use" in error.value.message
    assert "Busy" in error.value.message
    session.rollback()

    key_service.update_key(
        session,
        alice.access,
        alice.actor,
        first.key_id,
        key_service.parse_changes({"bias_profile_id": spare.id}),
    )
    session.commit()
    with pytest.raises(ConflictError) as error:
        profile_service.delete_profile(session, alice.access, alice.actor, profile.id)
    assert "1 API key uses" in error.value.message
    session.rollback()

    key_service.update_key(
        session,
        alice.access,
        alice.actor,
        second.key_id,
        key_service.parse_changes({"bias_profile_id": None}),
    )
    session.commit()
    profile_service.delete_profile(session, alice.access, alice.actor, profile.id)
    session.commit()
    assert [p.name for p in profile_service.list_profiles(session, alice.access)] == ["Spare"]
    with pytest.raises(NotFoundError):
        profile_service.get_profile(session, alice.access, profile.id)


def test_expired_key_can_be_moved_off_a_profile_so_it_can_be_deleted(session: Session, alice: Person) -> None:
    profile = _create(session, alice, "Old")
    now = utc_now()
    key = key_service.create_key(
        session,
        alice.access,
        alice.actor,
        "k",
        bias_profile_id=profile.id,
        expires_at=now + dt.timedelta(seconds=5),
    ).key
    session.commit()
    later = now + dt.timedelta(minutes=1)
    key_service.expire_due_keys(session, now=later)
    key_service.update_key(
        session,
        alice.access,
        alice.actor,
        key.key_id,
        key_service.parse_changes({"bias_profile_id": None}),
        now=later,
    )
    profile_service.delete_profile(session, alice.access, alice.actor, profile.id)
    session.commit()
    assert profile_service.list_profiles(session, alice.access) == []


def test_update_profile_and_stale_version(session: Session, alice: Person) -> None:
    profile = _create(session, alice, "V1")
    updated = _update(
        session,
        alice,
        profile.id,
        name="V2",
        categories=["age"],
        sensitivity=0.9,
        action="rewrite",
        expected_version=1,
    )
    session.commit()
    assert (updated.name, updated.categories, updated.sensitivity, updated.action, updated.version) == (
        "V2",
        ["age"],
        0.9,
        "rewrite",
        2,
    )
    with pytest.raises(ConflictError) as raised:
        _update(session, alice, profile.id, name="V3", expected_version=1)
    assert raised.value.code == profile_service.STALE_CODE
    session.rollback()
    assert profile_service.get_profile(session, alice.access, profile.id).name == "V2"
    with pytest.raises(ValidationError):
        _update(session, alice, profile.id, sensitivity=math.nan)
    session.rollback()
    assert profile_service.get_profile(session, alice.access, profile.id).sensitivity == 0.9


def test_profile_changes_show_up_in_the_next_verification(session: Session, alice: Person) -> None:
    profile = _create(session, alice, "Live", categories=["age"], sensitivity=0.2)
    created = key_service.create_key(session, alice.access, alice.actor, "k", bias_profile_id=profile.id)
    session.commit()
    _update(session, alice, profile.id, name="Live", categories=["gender"], sensitivity=0.8, action="block")
    session.commit()
    outcome = verify_key(session.connection(), created.secret)
    assert outcome.bias_profile is not None
    assert (outcome.bias_profile["categories"], outcome.bias_profile["sensitivity"]) == (["gender"], 0.8)
    assert outcome.bias_profile["action"] == "block"
