"""APIKEYS_BENCH_USAGE_OFF: the benchmark's switch that turns usage counting off (and only that)."""

from __future__ import annotations

import datetime as dt

import pytest

from rxapp.bench_switches import BenchSwitches
from rxapp.services.usage import UsageBuffer


def test_counting_is_on_by_default_and_the_switch_makes_it_a_no_op() -> None:
    now = dt.datetime.now(dt.UTC)
    counted, switched = UsageBuffer(), UsageBuffer()
    switched.switch_off_for_benchmark()
    for buffer in (counted, switched):
        buffer.count(1, "", now)
        buffer.count(1, "EXPIRED", now)
    assert counted.drain() == {(1, now.replace(minute=0, second=0, microsecond=0)): [1, 0, 1, 0, 0, 0, 0]}
    assert switched.pending() == 0


@pytest.mark.parametrize(("value", "off"), [(None, False), ("0", False), ("1", True)])
def test_the_switch_is_off_unless_the_benchmark_asks(
    app_settings, monkeypatch: pytest.MonkeyPatch, value: str | None, off: bool
) -> None:
    if value is None:
        monkeypatch.delenv("APIKEYS_BENCH_USAGE_OFF", raising=False)
    else:
        monkeypatch.setenv("APIKEYS_BENCH_USAGE_OFF", value)
    assert BenchSwitches().usage_off is off


def test_counts_land_in_the_hour_of_each_call_across_hour_boundaries() -> None:
    """The hot path works the hour out once per hour; a call in another hour still lands there."""
    buffer = UsageBuffer()
    ten = dt.datetime(2026, 1, 1, 10, 0, tzinfo=dt.UTC)
    for when, code in [
        (ten + dt.timedelta(minutes=59, seconds=59), ""),
        (ten + dt.timedelta(hours=1), "EXPIRED"),
        (ten - dt.timedelta(hours=3), ""),  # a late call from an earlier hour
        (ten + dt.timedelta(minutes=30), "RATE_LIMITED"),
    ]:
        buffer.count(7, code, when)
    assert buffer.drain() == {
        (7, ten): [1, 0, 0, 1, 0, 0, 0],
        (7, ten + dt.timedelta(hours=1)): [0, 0, 1, 0, 0, 0, 0],
        (7, ten - dt.timedelta(hours=3)): [1, 0, 0, 0, 0, 0, 0],
    }
