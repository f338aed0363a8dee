"""scripts/lib/bench_usage.py: the in-process usage on/off rounds really count when on, and only then.

Correctness of the harness, not timing: the benchmark's verdict is only meaningful if "on" is
production's counting (counts in the buffer, then in `key_usage_hours` after the real flush) and
"off" counts nothing while verify still answers and Last Used still moves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest
import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from rxapp import db
from rxapp.context import app_context
from rxapp.limiters import RateLimiter
from rxapp.models import ApiKey, KeyUsageHour
from rxapp.services import keys as key_service
from rxapp.services import last_used, usage
from rxapp.settings import Settings
from scripts.lib.bench_usage import Harness, summarize
from tests.unit.helpers import new_user


@pytest.fixture
def valid_secret(app_settings: Settings) -> Iterator[str]:
    """A real key in the database the settings point at (the one the fast path looks up)."""
    db.get_engine.cache_clear()  # cached process-wide: this test's data directory, not a previous one
    engine = db.get_engine()
    SQLModel.metadata.create_all(engine)
    with Session(engine, expire_on_commit=False) as session:
        alice = new_user(session, "alice@example.com")
        created = key_service.create_key(session, alice.access, alice.actor, "bench")
        session.commit()
    usage.buffer.drain()  # nothing left over from another test in these process-wide buffers
    last_used.buffer.flush(engine)
    with app_context.override(verify_limiter=RateLimiter(0)):  # as the benchmark's consoles
        yield created.secret
    engine.dispose()
    db.get_engine.cache_clear()


T = TypeVar("T")


def _in_thread(work: Callable[[], T]) -> T:
    """The harness runs its own event loop; in a full run Playwright owns this thread's loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(work).result()


def _stored() -> tuple[int, object]:
    with db.get_engine().connect() as connection:
        counted = connection.execute(sa.select(sa.func.coalesce(sa.func.sum(KeyUsageHour.valid), 0))).scalar()
        used = connection.execute(sa.select(ApiKey.last_used_at)).scalar()
    return int(counted or 0), used


def test_rounds_count_usage_when_on_and_not_when_off(valid_secret: str) -> None:
    _in_thread(lambda: _count_on_off_on(valid_secret))
    usage.buffer.count(1, "", on_hour := usage.hour_of(usage.utc_now()))  # counting is on again
    assert usage.buffer.drain() == {(1, on_hour): [1, 0, 0, 0, 0, 0, 0]}


def _count_on_off_on(valid_secret: str) -> None:
    harness = Harness(valid_secret)
    try:
        on = harness.round(True, 40)
        assert (on.counted, _stored()[0]) == (40, 40)
        assert _stored()[1] is not None  # Last Used flushed as in production

        off = harness.round(False, 25)
        assert (off.counted, _stored()[0]) == (0, 40)
        assert harness.status == 200 and b'"valid":true' in harness.body

        again = harness.round(True, 15)
        assert (again.counted, _stored()[0]) == (15, 55)
        assert on.cpu_us_per_call > 0 and off.cpu_us_per_call > 0
    finally:
        harness.close()


def _four_rounds(valid_secret: str) -> list:
    harness = Harness(valid_secret)
    try:
        return [harness.round(counting, 10) for counting in (True, False, False, True)]
    finally:
        harness.close()


def test_the_summary_pairs_adjacent_rounds(valid_secret: str) -> None:
    rounds = _in_thread(lambda: _four_rounds(valid_secret))
    result = summarize(rounds)
    assert (result["rounds_per_side"], result["counted_on"], result["counted_off"]) == (2, 20, 0)
    for estimate, interval in (("ratio", "ratio_ci95"), ("paired_median", "paired_ci95")):
        low, high = result[interval]
        assert low <= result[estimate] <= high
