"""The limiters: how many calls a client, a token or a key may make per minute.

- `RateLimiter`: a token bucket per client address (verify's per-client limit) or per management
  token, in this worker's memory.
- `MemoryKeyLimiter` / `RedisKeyLimiter`: per-key limits, an optional number of calls per minute
  set on the key. A sliding-window estimate (the current minute's count plus the previous
  minute's, weighted by how much of it still lies inside the last 60 s), the scheme Cloudflare and
  Redis' own documentation describe: smooth at minute boundaries, two counters per key, no
  per-call history. With Redis configured the counters live there (one pipelined round trip: INCR
  this minute, GET the last), so the limit holds across every worker; without, in this worker's
  memory. Keys without a limit never reach them: they pay nothing.

The worker's instances are app_context members (rxapp/context.py: `verify_limiter`,
`management_limiter`, `key_limiter`). A low module: it imports nothing from the app, so the
context can build limiters without depending on the hot path.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any


class RateLimiter:
    """Token bucket per client address (or per token), in process memory (per worker)."""

    def __init__(self, per_minute: int, max_clients: int = 100_000) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(per_minute / 6.0, 1.0)  # ten seconds' worth of burst
        self.max_clients = max_clients
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int:
        """0 when the call may proceed, else seconds to wait."""
        if self.rate <= 0:
            return 0
        now = time.monotonic()
        with self._lock:
            tokens, stamp = self._buckets.get(client, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - stamp) * self.rate)
            if tokens >= 1.0:
                if len(self._buckets) >= self.max_clients and client not in self._buckets:
                    self._buckets.clear()
                self._buckets[client] = (tokens - 1.0, now)
                return 0
            self._buckets[client] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / self.rate))


# ---------------------------------------------------------------- per-key limits

WINDOW_SECONDS = 60
_MAX_KEYS_IN_MEMORY = 100_000


def _estimate(current: int, previous: int, into_window: float) -> float:
    return current + previous * (1.0 - into_window / WINDOW_SECONDS)


def _retry_after(limit: int, current: int, previous: int, into_window: float) -> int:
    """Seconds until the estimate drops below the limit again (at least 1)."""
    if previous and current < limit:
        # the previous minute's share shrinks linearly: solve current + previous*(1 - t/60) < limit
        needed = (current + previous - limit) * WINDOW_SECONDS / previous
        return max(1, math.ceil(needed - into_window))
    return max(1, math.ceil(WINDOW_SECONDS - into_window))


class MemoryKeyLimiter:
    """Per worker."""

    def __init__(self, clock: Any = time.time) -> None:
        self._clock = clock
        self._counts: dict[tuple[int, int], int] = {}
        self._lock = threading.Lock()

    async def retry_after(self, key_row_id: int, limit: int) -> int:
        """0 when this call may proceed (and it is counted), else seconds to wait."""
        now = self._clock()
        window, into = divmod(now, WINDOW_SECONDS)
        window = int(window)
        with self._lock:
            if len(self._counts) > _MAX_KEYS_IN_MEMORY:
                self._counts = {k: v for k, v in self._counts.items() if k[1] >= window - 1}
            current = self._counts.get((key_row_id, window), 0)
            previous = self._counts.get((key_row_id, window - 1), 0)
            if _estimate(current + 1, previous, into) > limit:
                return _retry_after(limit, current, previous, into)
            self._counts[(key_row_id, window)] = current + 1
        return 0


class RedisKeyLimiter:
    """Across workers: counters in Redis, expiring on their own."""

    def __init__(self, url: str, clock: Any = time.time) -> None:
        import redis.asyncio as redis_asyncio

        self._client = redis_asyncio.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._clock = clock

    async def retry_after(self, key_row_id: int, limit: int) -> int:
        now = self._clock()
        window, into = divmod(now, WINDOW_SECONDS)
        window = int(window)
        current_key = f"apikeys:limit:{key_row_id}:{window}"
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.incr(current_key)
            pipe.expire(current_key, WINDOW_SECONDS * 2)
            pipe.get(f"apikeys:limit:{key_row_id}:{window - 1}")
            current, _, previous = await pipe.execute()
        previous = int(previous or 0)
        if _estimate(int(current), previous, into) > limit:
            # refused calls do not use up the allowance
            await self._client.decr(current_key)
            return _retry_after(limit, int(current) - 1, previous, into)
        return 0
