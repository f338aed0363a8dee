"""Usage per key per hour (write-behind, exact across flushers) and rolling with a grace period."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from rxapp.models import ApiKey, AuditEvent, KeyStatus, KeyUsageHour
from rxapp.services import audit, rolling, usage
from rxapp.services import keys as key_service
from rxapp.services.errors import ConflictError, NotFoundError, ValidationError
from rxapp.services.last_used import LastUsedBuffer
from tests.unit.helpers import Person, utc

T0 = utc(2031, 3, 4, 14, 0)


def _key(session: Session, person: Person, name: str = "checkout", **kwargs) -> key_service.CreatedKey:
    created = key_service.create_key(session, person.access, person.actor, name, now=T0, **kwargs)
    session.commit()
    return created


def _row(session: Session, key_id: str) -> ApiKey:
    session.expire_all()
    return session.exec(select(ApiKey).where(ApiKey.key_id == key_id)).one()


# ---------------------------------------------------------------- usage


def test_counts_are_exact_when_several_workers_flush_the_same_hour(
    engine: sa.Engine, session: Session, alice: Person
) -> None:
    key = _row(session, _key(session, alice).key.key_id)
    workers = [usage.UsageBuffer() for _ in range(3)]
    for index, buffer in enumerate(workers):
        for call in range(100 + index):
            buffer.count(key.id, "" if call % 4 else "INACTIVE", T0 + dt.timedelta(minutes=call % 50))
        buffer.count(key.id, "RATE_LIMITED", T0 + dt.timedelta(hours=1, minutes=5))
    threads = [threading.Thread(target=buffer.flush, args=(engine,)) for buffer in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    series = usage.usage_series(session, key.id, T0 - dt.timedelta(hours=1))
    assert [point.hour for point in series] == [T0, T0 + dt.timedelta(hours=1)]
    total_calls = 100 + 101 + 102
    inactive = sum(len([c for c in range(n) if c % 4 == 0]) for n in (100, 101, 102))
    assert series[0].valid == total_calls - inactive and series[0].inactive == inactive
    assert series[1].rate_limited == 3
    totals = usage.usage_totals(session, [key.id], T0)
    assert totals[key.id] == {
        "valid": total_calls - inactive,
        "inactive": inactive,
        "expired": 0,
        "rate_limited": 3,
        "usage_exceeded": 0,
        "insufficient_permissions": 0,
        "forbidden": 0,
    }
    assert all(buffer.pending() == 0 for buffer in workers)


def test_a_failed_flush_keeps_the_counts_and_deleted_keys_are_skipped(
    engine: sa.Engine, session: Session, alice: Person
) -> None:
    kept = _row(session, _key(session, alice, "kept").key.key_id)
    gone = _row(session, _key(session, alice, "gone").key.key_id)
    buffer = usage.UsageBuffer()
    buffer.count(kept.id, "", T0)
    buffer.count(gone.id, "EXPIRED", T0)
    key_service.delete_key(session, alice.access, alice.actor, gone.key_id)
    session.commit()
    broken = sa.create_engine("sqlite:////nonexistent/dir/x.db")
    with pytest.raises(sa.exc.OperationalError):
        buffer.flush(broken)
    assert buffer.pending() == 2
    assert buffer.flush(engine) == 2
    rows = session.exec(select(KeyUsageHour)).all()
    assert [(row.key_row_id, row.valid) for row in rows] == [(kept.id, 1)]


def test_old_usage_rows_are_pruned(engine: sa.Engine, session: Session, alice: Person) -> None:
    key = _row(session, _key(session, alice).key.key_id)
    buffer = usage.UsageBuffer()
    buffer.count(key.id, "", T0 - dt.timedelta(days=91))
    buffer.count(key.id, "", T0 - dt.timedelta(days=89))
    buffer.flush(engine)
    assert usage.prune(session, dt.timedelta(days=90), now=T0) == 1
    session.commit()
    assert len(session.exec(select(KeyUsageHour)).all()) == 1


# ---------------------------------------------------------------- rolling


def test_roll_keeps_the_purpose_links_the_keys_and_ends_the_old_one_after_the_grace(
    session: Session, alice: Person
) -> None:
    old = _key(session, alice, "billing", expires_at=T0 + dt.timedelta(days=30))
    _row(session, old.key.key_id).rate_limit_per_minute = 120
    session.commit()
    rolled = rolling.roll_key(
        session,
        alice.access,
        alice.actor,
        old.key.key_id,
        rolling.parse_grace("1h"),
        now=T0 + dt.timedelta(days=1),
    )
    session.commit()
    new = _row(session, rolled.new.key.key_id)
    before = _row(session, old.key.key_id)
    assert new.name == "billing" and new.rate_limit_per_minute == 120 and new.rolled_from_id == before.id
    assert rolled.new.secret.startswith("bpk_") and rolled.new.secret not in repr(new)
    # same expiry policy: the same 30-day lifetime from the roll
    assert new.expires_at.replace(tzinfo=dt.UTC) == T0 + dt.timedelta(days=31)
    assert before.expires_at.replace(tzinfo=dt.UTC) == T0 + dt.timedelta(days=1, hours=1)
    assert before.status == KeyStatus.ACTIVE
    assert rolling.links(session, alice.access, before.key_id) == rolling.RollLinks(None, new.key_id)
    assert rolling.links(session, alice.access, new.key_id) == rolling.RollLinks(before.key_id, None)
    assert "key.roll" in session.exec(select(AuditEvent.action)).all()
    # both trails tell the roll (issue 22 item 5): the old key's names the new, the new key's the old
    rolls = session.exec(
        select(AuditEvent.target_id, AuditEvent.detail).where(AuditEvent.action == "key.roll")
    ).all()
    assert {target for target, _ in rolls} == {before.key_id, new.key_id}
    trail = dict(rolls)
    assert trail[before.key_id].startswith(f"rolled to {new.key_id};")
    assert trail[new.key_id] == f"rolled from {before.key_id}"
    new_trail, _ = audit.list_events(session, alice.access, target_id=new.key_id)
    assert [event.action for event in new_trail][:1] == ["key.roll"]


def test_roll_rules(session: Session, alice: Person, bob: Person) -> None:
    key = _key(session, alice)
    with pytest.raises(NotFoundError):
        rolling.roll_key(session, bob.access, bob.actor, key.key.key_id, dt.timedelta(0), now=T0)
    session.rollback()
    with pytest.raises(ValidationError):
        rolling.parse_grace("2h")
    rolled = rolling.roll_key(session, alice.access, alice.actor, key.key.key_id, dt.timedelta(0), now=T0)
    session.commit()
    assert _row(session, key.key.key_id).status == KeyStatus.EXPIRED  # immediately
    with pytest.raises(ConflictError) as error:
        rolling.roll_key(session, alice.access, alice.actor, key.key.key_id, dt.timedelta(hours=1), now=T0)
    assert error.value.code == "KEY_EXPIRED"
    session.rollback()
    # a key in its own grace period can be rolled again: the chain stays readable
    second = rolling.roll_key(
        session, alice.access, alice.actor, rolled.new.key.key_id, dt.timedelta(hours=24), now=T0
    )
    third = rolling.roll_key(
        session, alice.access, alice.actor, second.new.key.key_id, dt.timedelta(hours=1), now=T0
    )
    session.commit()
    assert rolling.links(session, alice.access, second.new.key.key_id) == rolling.RollLinks(
        rolled.new.key.key_id, third.new.key.key_id
    )


def test_the_assistant_follows_real_usage(engine: sa.Engine, session: Session, alice: Person) -> None:
    old = _key(session, alice)
    rolled = rolling.roll_key(
        session, alice.access, alice.actor, old.key.key_id, dt.timedelta(hours=1), now=T0
    )
    session.commit()
    old_row, new_row = _row(session, old.key.key_id), _row(session, rolled.new.key.key_id)
    last_used = LastUsedBuffer()

    def call(row: ApiKey, at: dt.datetime) -> None:
        last_used.record(row.id, at)
        last_used.flush(engine)

    def state(at: dt.datetime) -> str | None:
        session.expire_all()
        status = rolling.rotation_status(session, alice.access, old.key.key_id, now=at)
        return status.state if status else None

    call(old_row, T0 + dt.timedelta(minutes=1))
    assert state(T0 + dt.timedelta(minutes=2)) == "new_unused"
    call(new_row, T0 + dt.timedelta(minutes=3))
    call(old_row, T0 + dt.timedelta(minutes=4))
    assert state(T0 + dt.timedelta(minutes=5)) == "both_in_use"
    call(new_row, T0 + dt.timedelta(minutes=6))
    status = rolling.rotation_status(session, alice.access, old.key.key_id, now=T0 + dt.timedelta(minutes=7))
    assert status is not None and status.new_first_used_at == T0 + dt.timedelta(minutes=3)
    # the old key was last called at :04, after the new key's first use at :03: still in use
    assert status.state == "both_in_use"
    # a fresh roll where the old key goes quiet after the switch
    quiet = _key(session, alice, "quiet")
    quiet_old = _row(session, quiet.key.key_id)
    call(quiet_old, T0 + dt.timedelta(minutes=1))
    again = rolling.roll_key(
        session,
        alice.access,
        alice.actor,
        quiet.key.key_id,
        dt.timedelta(hours=1),
        now=T0 + dt.timedelta(minutes=2),
    )
    session.commit()
    call(_row(session, again.new.key.key_id), T0 + dt.timedelta(minutes=3))
    # quiet since the switch at :03, but not yet for the quiet period: not safe before :18
    status = rolling.rotation_status(
        session, alice.access, quiet.key.key_id, now=T0 + dt.timedelta(minutes=10)
    )
    assert status is not None and status.state == "settling"
    assert status.safe_from == T0 + dt.timedelta(minutes=3) + rolling.QUIET_PERIOD
    status = rolling.rotation_status(
        session, alice.access, quiet.key.key_id, now=T0 + dt.timedelta(minutes=18)
    )
    assert status is not None and status.state == "safe_to_expire"
    rolling.expire_now(
        session, alice.access, alice.actor, quiet.key.key_id, now=T0 + dt.timedelta(minutes=18)
    )
    session.commit()
    assert _row(session, quiet.key.key_id).status == KeyStatus.EXPIRED
    assert (
        rolling.rotation_status(session, alice.access, quiet.key.key_id, now=T0 + dt.timedelta(minutes=19))
        is None
    )


def test_after_an_overlap_the_old_key_is_safe_once_it_has_been_quiet(
    engine: sa.Engine, session: Session, alice: Person
) -> None:
    old = _key(session, alice, "overlap")
    rolled = rolling.roll_key(
        session, alice.access, alice.actor, old.key.key_id, dt.timedelta(days=7), now=T0
    )
    session.commit()
    buffer = LastUsedBuffer()
    for row_key, minute in ((rolled.new.key.key_id, 1), (old.key.key_id, 2), (rolled.new.key.key_id, 20)):
        buffer.record(_row(session, row_key).id, T0 + dt.timedelta(minutes=minute))
        buffer.flush(engine)
    session.expire_all()
    early = rolling.rotation_status(session, alice.access, old.key.key_id, now=T0 + dt.timedelta(minutes=10))
    assert early is not None and early.state == "both_in_use"
    later = rolling.rotation_status(session, alice.access, old.key.key_id, now=T0 + dt.timedelta(minutes=21))
    assert later is not None and later.state == "safe_to_expire"


def test_safe_to_expire_needs_a_quiet_period_after_the_new_keys_first_use() -> None:
    """The verdict on fake times: issue 22 item 4 (the old key called a second before the new one's
    first use was called "safe" at once)."""
    quiet, second, minute = rolling.QUIET_PERIOD, dt.timedelta(seconds=1), dt.timedelta(minutes=1)
    assert quiet >= dt.timedelta(minutes=10)  # longer than a rolling deploy and a 5-minute job's two runs
    new_first = T0

    def verdict(old_last, new_last, at):
        return rolling.verdict(old_last, new_first, new_last, at)

    assert rolling.verdict(T0, None, None, T0 + dt.timedelta(days=1)) == ("new_unused", None)
    # the old key called a second before the switch: settling until the quiet period has passed
    assert verdict(T0 - second, T0, T0 + second) == ("settling", T0 + quiet)
    assert verdict(T0 - second, T0, T0 + quiet - second)[0] == "settling"
    assert verdict(T0 - second, T0, T0 + quiet) == ("safe_to_expire", T0 + quiet)
    # never called at all: the period still counts from the new key's first use
    assert verdict(None, T0, T0 + quiet - second)[0] == "settling"
    assert verdict(None, T0, T0 + quiet)[0] == "safe_to_expire"
    # the old key called a second after the new one: the quiet period starts again from that call
    old_last = T0 + second
    assert verdict(old_last, T0, T0 + 2 * second) == ("both_in_use", old_last + quiet)
    assert verdict(old_last, T0, old_last + 2 * quiet)[0] == "both_in_use"  # old key had the last word
    assert verdict(old_last, T0 + minute, old_last + quiet - second)[0] == "both_in_use"
    assert verdict(old_last, T0 + minute, old_last + quiet) == ("safe_to_expire", old_last + quiet)
