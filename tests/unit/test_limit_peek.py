"""The limiters' read-only `peek` (issue 24: the key page shows each limit's use): what is left of
a named limit's window and when it resets, and the per-minute limit's calls left, read from this
worker's memory or from Redis (shared by every worker), never counting a call."""

from __future__ import annotations

import uuid

from rxapp.limiters import MemoryKeyLimiter, MemoryNamedLimiter, RedisKeyLimiter, RedisNamedLimiter
from tests.unit.helpers import redis_url, run_async


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000_020.0  # 20 s into a minute

    def __call__(self) -> float:
        return self.now


def _named(limiter, clock: _Clock, bucket: str) -> None:
    async def run() -> None:
        assert await limiter.peek([(bucket, 5)]) == [(5, None)]  # no window open: all of it
        for _ in range(2):
            assert (await limiter.take([(bucket, 5, 60_000, 1)]))[0]
        for _ in range(3):  # peeking never counts
            left, reset = (await limiter.peek([(bucket, 5)]))[0]
            assert left == 3 and reset is not None
            assert abs(reset - (clock.now * 1000 + 60_000)) <= 1000
        assert (await limiter.take([(bucket, 5, 60_000, 3)]))[0]  # the 3 left are still there
        assert (await limiter.peek([(bucket, 5), (bucket + "x", 7)]))[0][0] == 0
        assert (await limiter.peek([(bucket + "x", 7)])) == [(7, None)]

    run_async(run())


def _minute(limiter, key: int) -> None:
    async def run() -> None:
        assert await limiter.peek(key, 4) == 4
        assert await limiter.retry_after(key, 4) == 0
        assert await limiter.peek(key, 4) == 3
        assert await limiter.peek(key, 4) == 3  # not counted
        for _ in range(3):
            assert await limiter.retry_after(key, 4) == 0
        assert await limiter.peek(key, 4) == 0

    run_async(run())


def test_memory_peeks_read_without_counting() -> None:
    clock = _Clock()
    _named(MemoryNamedLimiter(clock), clock, "k1:requests")
    _minute(MemoryKeyLimiter(clock), 1)


def test_redis_peeks_read_what_every_worker_counted() -> None:
    url = redis_url()
    clock = _Clock()
    fresh = uuid.uuid4().hex[:12]

    async def run() -> None:
        one, other = RedisNamedLimiter(url, clock), RedisNamedLimiter(url, clock)
        assert (await one.take([(f"k{fresh}:r", 5, 60_000, 2)]))[0]
        left, reset = (await other.peek([(f"k{fresh}:r", 5)]))[0]  # another "worker" sees it
        assert left == 3 and reset is not None
        assert (await other.peek([(f"k{fresh}:r", 5)]))[0][0] == 3

    run_async(run())
    _named(RedisNamedLimiter(url, clock), clock, f"k{fresh}:requests")
    _minute(RedisKeyLimiter(url, clock), uuid.uuid4().int % 10**9)
