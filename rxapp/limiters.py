"""The limiters: how many calls a client, a token or a key may make per minute.

- `RateLimiter`: a token bucket per client address (verify's per-client limit) or per management
  token, in this worker's memory.
- `MemoryNamedLimiter` / `RedisNamedLimiter`: programmable keys' named limits (and an identity's
  shared ones): exact windows that open at a bucket's first call, all of a call's limits taken
  together or none (a Lua script in Redis), so N concurrent calls get exactly `limit` through.
- `MemoryKeyLimiter` / `RedisKeyLimiter`: per-key limits, an optional number of calls per minute
  set on the key. A sliding-window estimate (the current minute's count plus the previous
  minute's, weighted by how much of it still lies inside the last 60 s), the scheme Cloudflare and
  Redis' own documentation describe: smooth at minute boundaries, two counters per key, no
  per-call history. With Redis configured the counters live there (one pipelined round trip: INCR
  this minute, GET the last), so the limit holds across every worker; without, in this worker's
  memory. Keys without a limit never reach them: they pay nothing.

Each has a read-only `peek` (the key's page shows what is left of its limits): it reads the same
state (this worker's memory, or Redis) and never counts a call.

The worker's instances are app_context members (rxapp/context.py: `verify_limiter`,
`management_limiter`, `key_limiter`). A low module: it imports nothing from the app but
redis_script.py (low too), so the context can build limiters without depending on the hot path.
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


def _left(limit: int, estimate: float) -> int:
    return max(0, limit - math.ceil(estimate - 1e-9))


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

    async def peek(self, key_row_id: int, limit: int) -> int:
        """Calls left now under the sliding-window estimate; reads, never counts (the key page)."""
        now = self._clock()
        window, into = divmod(now, WINDOW_SECONDS)
        with self._lock:
            current = self._counts.get((key_row_id, int(window)), 0)
            previous = self._counts.get((key_row_id, int(window) - 1), 0)
        return _left(limit, _estimate(current, previous, into))


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

    async def peek(self, key_row_id: int, limit: int) -> int:
        """Calls left now, across every worker; two GETs, nothing counted."""
        window, into = divmod(self._clock(), WINDOW_SECONDS)
        window = int(window)
        current, previous = await self._client.mget(
            f"apikeys:limit:{key_row_id}:{window}", f"apikeys:limit:{key_row_id}:{window - 1}"
        )
        return _left(limit, _estimate(int(current or 0), int(previous or 0), into))


# ---------------------------------------------------------------- named limits (programmable keys)

# One check: (bucket, limit, duration in ms, cost). The bucket names the scope and the limit
# (`k<key row>:<name>` for a key's own, `i<identity row>:<name>` for an identity's shared one).
Check = tuple[str, int, int, int]
# Taken: (True, [(remaining, reset in epoch ms) per check], 0); refused: (False, [], retry_after s)
Taken = tuple[bool, list[tuple[int, int]], int]
# A peek: (bucket, limit); its answer per bucket: (remaining, reset in epoch ms, or None when no
# window is open: the whole limit is there and the next call opens one)
Peek = tuple[str, int]
Seen = tuple[int, int | None]


class MemoryNamedLimiter:
    """Exact windows in this worker's memory: a window opens at a bucket's first call and lasts
    its duration; at most `limit` (in cost units) is taken in it. All of a call's checks are taken
    together or none is (a refused call uses up nothing). One lock, no await: atomic per worker."""

    def __init__(self, clock: Any = time.time) -> None:
        self._clock = clock
        self._windows: dict[str, tuple[int, int]] = {}  # bucket -> (window end ms, used)
        self._lock = threading.Lock()

    async def take(self, checks: list[Check]) -> Taken:
        now = int(self._clock() * 1000)
        with self._lock:
            if len(self._windows) > _MAX_KEYS_IN_MEMORY:
                self._windows = {k: v for k, v in self._windows.items() if v[0] > now}
            states = []
            for bucket, limit, duration, cost in checks:
                end, used = self._windows.get(bucket, (0, 0))
                if end <= now:
                    end, used = now + duration, 0
                if used + cost > limit:
                    return False, [], max(1, math.ceil((end - now) / 1000))
                states.append((end, used))
            taken = []
            for (bucket, limit, _, cost), (end, used) in zip(checks, states, strict=True):
                self._windows[bucket] = (end, used + cost)
                taken.append((limit - used - cost, end))
        return True, taken, 0

    async def peek(self, peeks: list[Peek]) -> list[Seen]:
        """What is left of each bucket's window now, read under the lock; nothing is taken."""
        now = int(self._clock() * 1000)
        seen: list[Seen] = []
        with self._lock:
            for bucket, limit in peeks:
                end, used = self._windows.get(bucket, (0, 0))
                seen.append((max(0, limit - used), end) if end > now else (limit, None))
        return seen


_TAKE_SCRIPT = """
local counts, ttls, fresh = {}, {}, {}
for i, key in ipairs(KEYS) do
  local limit, duration, cost = tonumber(ARGV[3*i-2]), tonumber(ARGV[3*i-1]), tonumber(ARGV[3*i])
  local ttl = redis.call('PTTL', key)
  local used = 0
  fresh[i] = ttl < 0
  if fresh[i] then ttl = duration else used = tonumber(redis.call('GET', key) or '0') end
  if used + cost > limit then return {0, ttl} end
  counts[i], ttls[i] = used, ttl
end
local answer = {1}
for i, key in ipairs(KEYS) do
  local limit, duration, cost = tonumber(ARGV[3*i-2]), tonumber(ARGV[3*i-1]), tonumber(ARGV[3*i])
  if fresh[i] then
    redis.call('SET', key, cost, 'PX', duration)
  elseif cost > 0 then
    redis.call('INCRBY', key, cost)
  end
  answer[#answer + 1] = limit - counts[i] - cost
  answer[#answer + 1] = ttls[i]
end
return answer
"""


class RedisNamedLimiter:
    """The same windows across every worker: one Lua script per call checks and takes all of a
    call's limits atomically in Redis (exact: no two workers can both take the last unit)."""

    def __init__(self, url: str, clock: Any = time.time) -> None:
        import redis.asyncio as redis_asyncio

        from rxapp.redis_script import RedisScript

        self._client = redis_asyncio.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        # the call of every verification with a named limit: pipelined, not redis-py (redis_script.py)
        self._script: Any
        try:
            self._script = RedisScript(url, _TAKE_SCRIPT, timeout=2)
        except ValueError:  # unix:// and the like: redis-py speaks them
            registered = self._client.register_script(_TAKE_SCRIPT)
            self._script = lambda keys, args: registered(keys=keys, args=args)
        self._clock = clock

    async def take(self, checks: list[Check]) -> Taken:
        keys = [f"apikeys:rl:{bucket}" for bucket, _, _, _ in checks]
        args: list[int] = []
        for _, limit, duration, cost in checks:
            args += [limit, duration, cost]
        answer = await self._script(keys, args)
        now = int(self._clock() * 1000)
        if not int(answer[0]):
            return False, [], max(1, math.ceil(int(answer[1]) / 1000))
        values = [int(value) for value in answer[1:]]
        return True, [(values[i], now + values[i + 1]) for i in range(0, len(values), 2)], 0

    async def peek(self, peeks: list[Peek]) -> list[Seen]:
        """The same, across every worker: GET and PTTL per bucket in one pipelined round trip."""
        if not peeks:
            return []
        async with self._client.pipeline(transaction=False) as pipe:
            for bucket, _ in peeks:
                pipe.get(f"apikeys:rl:{bucket}")
                pipe.pttl(f"apikeys:rl:{bucket}")
            answers = await pipe.execute()
        now = int(self._clock() * 1000)
        seen: list[Seen] = []
        for index, (_, limit) in enumerate(peeks):
            used, ttl = answers[2 * index], int(answers[2 * index + 1])
            seen.append((max(0, limit - int(used or 0)), now + ttl) if ttl > 0 else (limit, None))
        return seen
