"""Per-key limits: the sliding window holds the limit, smoothly, per worker or across workers."""

from __future__ import annotations

import uuid

import pytest

from rxapp.limiters import MemoryKeyLimiter, RedisKeyLimiter
from tests.unit.helpers import run_async


class Clock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def _allowed_over(limiters, clock: Clock, key: int, limit: int, calls: int, seconds: float) -> int:
    async def run() -> int:
        allowed = 0
        for index in range(calls):
            clock.now = START + seconds * index / calls
            limiter = limiters[index % len(limiters)]
            if await limiter.retry_after(key, limit) == 0:
                allowed += 1
        return allowed

    return run_async(run())


START = 1_800_000_000.0  # a minute boundary


def test_a_steady_flood_gets_the_limit_and_no_more() -> None:
    clock = Clock(START)
    limiter = MemoryKeyLimiter(clock)
    # 10 calls a second for 3 minutes against 120/min: about 360 allowed, never a burst above
    allowed = _allowed_over([limiter], clock, key=1, limit=120, calls=1800, seconds=180)
    assert 120 * 3 * 0.9 <= allowed <= 120 * 3 * 1.1


def test_refusals_say_when_to_retry_and_other_keys_are_untouched() -> None:
    clock = Clock(START + 30)
    limiter = MemoryKeyLimiter(clock)

    async def run() -> None:
        for _ in range(5):
            assert await limiter.retry_after(1, 5) == 0
        wait = await limiter.retry_after(1, 5)
        assert 1 <= wait <= 60
        assert await limiter.retry_after(2, 5) == 0

    run_async(run())


def test_with_redis_the_limit_holds_across_workers() -> None:
    redis = pytest.importorskip("redis")
    url = "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception:
        pytest.skip("no Redis on 127.0.0.1:6379")
    clock = Clock(START)
    key = uuid.uuid4().int % 10**9  # a fresh key id for this run

    async def run() -> int:
        workers = [RedisKeyLimiter(url, clock) for _ in range(3)]
        allowed = 0
        for index in range(1200):  # 3 "workers" share 10 calls/s for two minutes
            clock.now = START + 120 * index / 1200
            if await workers[index % 3].retry_after(key, 60) == 0:
                allowed += 1
        return allowed

    allowed = run_async(run())
    assert 60 * 2 * 0.9 <= allowed <= 60 * 2 * 1.1
