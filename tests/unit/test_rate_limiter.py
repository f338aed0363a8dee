"""The token bucket in front of verify and the management API (rxapp.limiters.RateLimiter)."""

from __future__ import annotations

import pytest

from rxapp import limiters as limiters_module
from rxapp.limiters import RateLimiter


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> _Clock:
    fake = _Clock()
    monkeypatch.setattr(limiters_module.time, "monotonic", fake)
    return fake


def test_allows_a_burst_then_asks_to_wait(clock: _Clock) -> None:
    limiter = RateLimiter(per_minute=60)  # 1 per second, burst of 10
    assert [limiter.retry_after("10.0.0.1") for _ in range(10)] == [0] * 10
    wait = limiter.retry_after("10.0.0.1")
    assert wait > 0
    assert wait == 1
    assert limiter.retry_after("10.0.0.2") == 0  # buckets are per client


def test_tokens_refill_over_time(clock: _Clock) -> None:
    limiter = RateLimiter(per_minute=60)
    for _ in range(10):
        limiter.retry_after("c")
    assert limiter.retry_after("c") > 0
    clock.now += 1.0
    assert limiter.retry_after("c") == 0
    assert limiter.retry_after("c") > 0
    clock.now += 3600
    assert [limiter.retry_after("c") for _ in range(10)] == [0] * 10  # refills only up to the burst
    assert limiter.retry_after("c") > 0


def test_slow_rate_gives_a_longer_positive_retry_after(clock: _Clock) -> None:
    limiter = RateLimiter(per_minute=1)  # burst of 1
    assert limiter.retry_after("c") == 0
    wait = limiter.retry_after("c")
    assert 1 <= wait <= 60


def test_zero_means_unlimited(clock: _Clock) -> None:
    limiter = RateLimiter(per_minute=0)
    assert all(limiter.retry_after("c") == 0 for _ in range(10_000))


def test_real_clock_burst() -> None:
    limiter = RateLimiter(per_minute=6)  # burst of 1
    assert limiter.retry_after("x") == 0
    assert limiter.retry_after("x") > 0


def test_client_table_is_bounded(clock: _Clock) -> None:
    limiter = RateLimiter(per_minute=60, max_clients=5)
    for index in range(50):
        assert limiter.retry_after(f"client-{index}") == 0
    assert len(limiter._buckets) <= 5
