"""Programmable keys in the services: create/update with the new fields (stored program, audit,
catalogue), the refill job (once per period, idempotent across runs), and credits spent by the
lookups' conditional UPDATE from many threads at once (exact)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import sqlite3

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from rxapp.models import ApiKey, AuditEvent
from rxapp.services import identities
from rxapp.services import keys as key_service
from rxapp.services.errors import ValidationError
from rxapp.services.key_lookup import SqliteDigestLookup
from rxapp.services.keys.refill import period_start, refill_due_keys
from tests.unit.backends import fresh_pg_engine
from tests.unit.helpers import Person, run_async, utc, verify_key


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, app_settings, tmp_path):  # both databases (conftest's is SQLite)
    from sqlmodel import SQLModel

    from rxapp import db

    if request.param == "sqlite":
        made = db.make_engine(f"sqlite:///{tmp_path}/t.db")
        SQLModel.metadata.create_all(made)
        yield made
        made.dispose()
        return
    with fresh_pg_engine("programs") as made:
        yield made


def _row(session: Session, key_id: str) -> ApiKey:
    session.expire_all()
    return session.exec(select(ApiKey).where(ApiKey.key_id == key_id)).one()


def test_a_plain_key_has_no_program(session: Session, alice: Person) -> None:
    made = key_service.create_key(session, alice.access, alice.actor, "plain")
    session.commit()
    assert _row(session, made.key.key_id).program is None
    with session.connection() as connection:
        assert verify_key(connection, made.secret).program is None


def test_fields_are_stored_audited_and_catalogued(session: Session, alice: Person) -> None:
    made = key_service.create_key(
        session,
        alice.access,
        alice.actor,
        "pro",
        program={
            "credits": 10,
            "refill": {"amount": 10000, "interval": "month", "day": 1},
            "ratelimits": [{"name": "requests", "limit": 100, "duration": "1m"}],
            "permissions": ["documents.read"],
            "meta": {"plan": "pro"},
            "identity": "acme",
        },
    )
    session.commit()
    key = made.key
    assert (key.credits, key.permissions, key.identity, key.meta) == (
        10,
        ["documents.read"],
        "acme",
        {"plan": "pro"},
    )
    assert key.ratelimits == [{"name": "requests", "limit": 100, "duration": 60_000}]
    row = _row(session, key.key_id)
    assert row.program is not None and row.program["credits"] is True and row.last_refill_at is not None
    assert [p.name for p in identities.list_permissions(session, alice.access)] == ["documents.read"]
    assert identities.get_identity(session, alice.access, "acme").key_count == 1
    changed = key_service.update_key(
        session, alice.access, alice.actor, key.key_id, key_service.KeyChanges(credits=None, refill=None)
    )
    assert changed.credits is None and changed.refill is None
    session.commit()
    details = session.exec(select(AuditEvent.detail).where(AuditEvent.target_id == key.key_id)).all()
    assert any("credits=10" in d and "refill=10000/month@1" in d for d in details), details
    assert any("credits=none" in d for d in details), details
    with pytest.raises(ValidationError) as refused:
        key_service.update_key(
            session, alice.access, alice.actor, key.key_id, key_service.KeyChanges(ip_allow=["nope"])
        )
    assert refused.value.code == "BAD_IP_ALLOW"


@pytest.mark.parametrize(
    ("now", "interval", "day", "start"),
    [
        (utc(2026, 3, 15, 12), "day", None, utc(2026, 3, 15)),
        (utc(2026, 3, 15, 12), "month", 1, utc(2026, 3, 1)),
        (utc(2026, 3, 15, 12), "month", 20, utc(2026, 2, 20)),
        (utc(2026, 3, 1, 0), "month", 31, utc(2026, 2, 28)),  # the last day of a short month
        (utc(2026, 1, 5), "month", 10, utc(2025, 12, 10)),
    ],
)
def test_period_start(now: dt.datetime, interval: str, day: int | None, start: dt.datetime) -> None:
    assert period_start(now, interval, day) == start


def test_refill_sets_the_balance_once_per_period(session: Session, alice: Person) -> None:
    monthly = key_service.create_key(
        session,
        alice.access,
        alice.actor,
        "m",
        program={"refill": {"amount": 100, "interval": "month", "day": 1}},
    )
    daily = key_service.create_key(
        session,
        alice.access,
        alice.actor,
        "d",
        program={"credits": 3, "refill": {"amount": 5, "interval": "day"}},
    )
    session.commit()
    assert monthly.key.credits == 100  # a refill without credits starts at its amount
    session.execute(sa.update(ApiKey).values(credits_remaining=1, last_refill_at=utc(2026, 3, 14, 23)))
    session.commit()
    assert refill_due_keys(session, utc(2026, 3, 15, 0, 5)) == 1  # the day's: the month was refilled
    assert refill_due_keys(session, utc(2026, 3, 15, 0, 6)) == 0  # idempotent: same period
    session.commit()
    assert (
        _row(session, daily.key.key_id).credits_remaining,
        _row(session, monthly.key.key_id).credits_remaining,
    ) == (
        5,
        1,
    )
    assert refill_due_keys(session, utc(2026, 4, 1, 0, 1)) == 2
    session.commit()
    assert _row(session, monthly.key.key_id).credits_remaining == 100
    audits = session.exec(select(AuditEvent).where(AuditEvent.action == "key.refill")).all()
    assert len(audits) == 3


def test_concurrent_spends_are_exact(session: Session, alice: Person, engine: sa.Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's spend runs on the libpq pool: tests/api/test_programmable_keys.py")
    made = key_service.create_key(session, alice.access, alice.actor, "c", program={"credits": 50})
    session.commit()
    row_id = _row(session, made.key.key_id).id
    assert row_id is not None
    lookup = SqliteDigestLookup(str(engine.url.database))
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda _: lookup.spend(row_id, 1), range(200)))
    spent = [r for r in results if r is not None]
    assert sorted(spent) == list(range(50)) and lookup.credits(row_id) == 0


def test_spends_on_an_event_loop_share_a_commit_and_stay_exact(
    session: Session, alice: Person, engine: sa.Engine
) -> None:
    """The verify path's spends (group commit): 200 concurrent calls on 50 credits, 50 spent,
    in one write transaction; a batch's failure fails each call of it and spends nothing."""
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's lookup only")
    made = key_service.create_key(session, alice.access, alice.actor, "g", program={"credits": 50})
    session.commit()
    row_id = _row(session, made.key.key_id).id
    assert row_id is not None
    lookup = SqliteDigestLookup(str(engine.url.database))

    async def spend_all() -> list[int | None]:
        futures = [lookup.spend(row_id, 1) for _ in range(200)]
        assert all(isinstance(f, asyncio.Future) for f in futures)
        return list(await asyncio.gather(*futures))  # type: ignore[arg-type]

    results = run_async(spend_all())
    assert sorted(r for r in results if r is not None) == list(range(50))
    assert results[:50] == list(range(49, -1, -1))  # in the order asked
    assert lookup.credits(row_id) == 0

    changes = key_service.KeyChanges.model_validate({"credits": 5})
    key_service.update_key(session, alice.access, alice.actor, made.key.key_id, changes)
    session.commit()
    missing = lookup.SPEND
    lookup.SPEND = "UPDATE no_such_table SET x = 1 RETURNING x"  # the batch's statement fails

    async def failing() -> list[object]:
        return list(
            await asyncio.gather(lookup.spend(row_id, 1), lookup.spend(row_id, 1), return_exceptions=True)
        )

    try:
        outcomes = run_async(failing())
    finally:
        lookup.SPEND = missing
    assert all(isinstance(o, sqlite3.OperationalError) for o in outcomes)
    assert lookup.credits(row_id) == 5 and not lookup._writer().in_transaction


def test_rolling_copies_the_fields_and_moves_the_balance(session: Session, alice: Person) -> None:
    from rxapp.services import rolling

    made = key_service.create_key(
        session,
        alice.access,
        alice.actor,
        "roll",
        program={
            "credits": 40,
            "refill": {"amount": 100, "interval": "day"},
            "permissions": ["a.b"],
            "meta": {"m": 1},
            "ratelimits": [{"name": "r", "limit": 5, "duration": 1000}],
            "identity": "acme",
        },
    )
    session.commit()
    rolled = rolling.roll_key(session, alice.access, alice.actor, made.key.key_id, dt.timedelta(hours=1))
    session.commit()
    new = key_service.get_key(session, alice.access, rolled.new.key.key_id)
    assert (new.credits, new.permissions, new.meta, new.identity) == (40, ["a.b"], {"m": 1}, "acme")
    assert new.ratelimits == made.key.ratelimits and new.refill == made.key.refill
    assert _row(session, made.key.key_id).credits_remaining == 0  # moved, never doubled
