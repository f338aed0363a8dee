"""The SQLite fast path of verification (plain per-thread read-only connections) obeys the same
rules as the SQLAlchemy path, and sees every committed change on the very next call."""

from __future__ import annotations

import asyncio
import datetime as dt

import sqlalchemy as sa
from sqlmodel import Session

from rxapp.hotpath.answers import authorize_answer, verify_answer
from rxapp.hotpath.pipeline import check_key
from rxapp.hotpath.request_rules import Decision
from rxapp.models import utc_now
from rxapp.services import keys as key_service
from rxapp.services import profiles as profile_service
from rxapp.services.key_lookup import SqliteDigestLookup
from rxapp.services.keys import Verification
from tests.unit.helpers import Person, run_async, verify_key


def test_fast_path_agrees_with_the_rules_and_sees_commits_at_once(
    engine: sa.Engine, session: Session, alice: Person
) -> None:
    lookup = SqliteDigestLookup(str(engine.url.database))
    profile = profile_service.create_profile(
        session,
        alice.access,
        alice.actor,
        "strict",
        categories=["gender", "age"],
        sensitivity=0.7,
        action="block",
    )
    created = key_service.create_key(
        session,
        alice.access,
        alice.actor,
        "svc",
        bias_profile_id=profile.id,
        expires_at=utc_now() + dt.timedelta(days=1),
    )
    session.commit()

    outcome = verify_key(lookup, created.secret)
    assert outcome.valid and outcome.key_id == created.key.key_id
    assert outcome.workspace_id == alice.access.workspace_public_id and outcome.workspace_name == "Personal"
    assert outcome.bias_profile == {
        "id": profile.id,
        "name": "strict",
        "description": "",
        "categories": ["gender", "age"],
        "sensitivity": 0.7,
        "action": "block",
    }
    assert outcome.expires_at == created.key.expires_at
    with engine.connect() as connection:
        assert verify_key(connection, created.secret) == outcome

    key_service.update_key(
        session,
        alice.access,
        alice.actor,
        created.key.key_id,
        key_service.parse_changes({"status": "INACTIVE"}),
    )
    session.commit()
    assert verify_key(lookup, created.secret).code == "INACTIVE"

    later = utc_now() + dt.timedelta(days=2)
    assert verify_key(lookup, created.secret, now=later).code == "EXPIRED"

    key_service.delete_key(session, alice.access, alice.actor, created.key.key_id)
    session.commit()
    assert verify_key(lookup, created.secret).code == "NOT_FOUND"
    assert verify_key(lookup, "bpk_garbage").code == "MALFORMED"


def test_remembered_answers_follow_every_change_of_the_row(
    engine: sa.Engine, session: Session, alice: Person
) -> None:
    """`decide` remembers what it derives from a row, keyed by the whole row: a profile edit, a
    status change and back, and an end date passing are each seen on the very next call."""
    lookup = SqliteDigestLookup(str(engine.url.database))
    profile = profile_service.create_profile(
        session, alice.access, alice.actor, "p", categories=["age"], sensitivity=0.5, action="flag"
    )
    ends = utc_now() + dt.timedelta(hours=1)
    created = key_service.create_key(
        session, alice.access, alice.actor, "svc", bias_profile_id=profile.id, expires_at=ends
    )
    session.commit()
    first = verify_key(lookup, created.secret)
    assert first.valid and verify_key(lookup, created.secret) is first  # remembered
    assert dict(authorize_answer(Decision(200, "", verification=first)).headers)[b"x-bias-profile"] == b"p"

    profile_service.update_profile(
        session,
        alice.access,
        alice.actor,
        profile.id,
        name="p2",
        description="now described",
        categories=["gender"],
        sensitivity=0.9,
        action="block",
    )
    session.commit()
    edited = verify_key(lookup, created.secret)
    assert edited.bias_profile is not None
    assert (edited.bias_profile["name"], edited.bias_profile["categories"]) == ("p2", ["gender"])
    assert (edited.bias_profile["sensitivity"], edited.bias_profile["action"]) == (0.9, "block")
    answered = authorize_answer(Decision(200, "", verification=edited))  # rendered anew, not remembered
    assert dict(answered.headers)[b"x-bias-profile"] == b"p2"
    assert b'"name":"p2"' in verify_answer(Decision(200, "", verification=edited)).body

    for status, valid in (("INACTIVE", False), ("ACTIVE", True)):
        changes = key_service.parse_changes({"status": status})
        key_service.update_key(session, alice.access, alice.actor, created.key.key_id, changes)
        session.commit()
        assert verify_key(lookup, created.secret).valid is valid

    assert verify_key(lookup, created.secret, now=ends - dt.timedelta(seconds=1)).valid
    assert verify_key(lookup, created.secret, now=ends).code == "EXPIRED"


def test_lookups_on_an_event_loop_share_a_read_and_see_commits_made_before_them(
    engine: sa.Engine, session: Session, alice: Person
) -> None:
    """The verify path's batched reads (one read transaction per turn of the loop): each call gets
    its own row, in order; a change committed before the next turn is seen by it."""
    lookup = SqliteDigestLookup(str(engine.url.database))
    first = key_service.create_key(session, alice.access, alice.actor, "one")
    second = key_service.create_key(session, alice.access, alice.actor, "two")
    session.commit()

    async def verify_all(secrets: list[str]) -> list[Verification]:
        return list(await asyncio.gather(*(check_key(lookup, secret) for secret in secrets)))

    unknown = first.secret[:-8] + "A" * 8  # well formed? the checksum decides: NOT_FOUND or MALFORMED
    found = run_async(verify_all([first.secret, second.secret, first.secret, unknown]))
    assert [v.key_id for v in found[:3]] == [first.key.key_id, second.key.key_id, first.key.key_id]
    assert all(v.valid for v in found[:3]) and not found[3].valid
    key_service.update_key(
        session,
        alice.access,
        alice.actor,
        second.key.key_id,
        key_service.parse_changes({"status": "INACTIVE"}),
    )
    session.commit()
    again = run_async(verify_all([first.secret, second.secret]))
    assert again[0].valid and (again[1].valid, again[1].code) == (False, "INACTIVE")
