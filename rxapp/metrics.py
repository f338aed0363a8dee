"""Prometheus metrics: tiny record functions for the code paths, and the `/metrics` endpoint.

Recording is in memory (a memory-mapped file in multiprocess mode, see metrics_dir.py; the verify
hot path's outcomes are tallied per turn of the event loop and added once), so the hot path pays
microseconds and never touches the database.
Active sessions are counted in the database at scrape time instead of being tracked per worker,
so the figure is right however many workers run and whichever one answers the scrape.

The endpoint is not world-readable: it needs `Authorization: Bearer $APIKEYS_METRICS_TOKEN`, and
without a configured token it answers 404 (see docs/operations.md for why a token).
"""

from __future__ import annotations

import asyncio
import bisect
import hmac
import os
import threading
import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from rxapp.metrics_dir import ENV_VAR

METRICS_PATH = "/metrics"
VERIFY_CODES = frozenset(
    {
        "VALID",
        "NOT_FOUND",
        "INACTIVE",
        "EXPIRED",
        "MALFORMED",
        "RATE_LIMITED",
        "MISSING_KEY",
        "KEY_IN_URL",
        "HEADER_TOO_LARGE",
        "INTERNAL_ERROR",
        "USAGE_EXCEEDED",
        "INSUFFICIENT_PERMISSIONS",
        "FORBIDDEN",
        "INVALID_REQUEST",
        "INVALID_PERMISSION_QUERY",
        "UNKNOWN_RATELIMIT",
    }
)
SIGN_IN_OUTCOMES = frozenset({"success", "failure", "throttled"})
_FAST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_JOB_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0)

VERIFICATIONS = Counter(
    "apikeys_verifications",
    "Key verifications answered, by outcome code (VALID, NOT_FOUND, ... or HTTP_<status> for refusals).",
    ["code"],
)
VERIFY_SECONDS = Histogram(
    "apikeys_verify_duration_seconds",
    "Time from the request reaching the app to the verification outcome.",
    buckets=_FAST_BUCKETS,
)
LAST_USED_FLUSH_SECONDS = Histogram(
    "apikeys_last_used_flush_duration_seconds",
    "Duration of Last Used write-behind flushes that had something to write.",
    buckets=_JOB_BUCKETS,
)
LAST_USED_FLUSH_FAILURES = Counter(
    "apikeys_last_used_flush_failures", "Last Used flushes that failed (the batch is kept and retried)."
)
LAST_USED_ROWS = Counter("apikeys_last_used_rows_flushed", "Keys whose Last Used was written by a flush.")
EXPIRY_RUNS = Counter("apikeys_expiry_job_runs", "Runs of the expiry job, by result.", ["result"])
EXPIRY_SECONDS = Histogram(
    "apikeys_expiry_job_duration_seconds", "Duration of expiry job runs.", buckets=_JOB_BUCKETS
)
KEYS_EXPIRED = Counter("apikeys_keys_expired", "Keys the expiry job marked EXPIRED.")
SIGN_INS = Counter("apikeys_sign_ins", "Sign-in attempts, by outcome.", ["outcome"])

# The labelled child of each known code, looked up once (prometheus-client's labels() costs ~2 µs).
# Keyed `str | None`: a None code (a valid key) is looked up as it is, and is not found.
_VERIFICATION_COUNTERS: dict[str | None, Counter] = {c: VERIFICATIONS.labels(c) for c in VERIFY_CODES}

# Set by the request middleware (rxapp/logs.py) when a request reaches the app; copied into the
# threadpool that runs sync routes, so record_verification() can time the whole request.
request_started: ContextVar[float | None] = ContextVar("request_started", default=None)


# ---------------------------------------------------------------- recording (called from the code paths)


def record_verification(code: str | None, seconds: float | None = None) -> None:
    """Count one verification outcome and observe its latency (default: since the request started).

    On an event loop the outcome joins this turn's tally, published once at the turn's end
    (`_publish_turn`): each published value costs ~1 µs in multiprocess mode (a pid check, a lock
    and a write to the memory-mapped file), three per call when published one by one, and a busy
    turn answers dozens of calls. A scrape can only miss calls still in the current turn."""
    if seconds is None:
        started = request_started.get()
        seconds = None if started is None else time.perf_counter() - started
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        _publish(((code, seconds),))
        return
    turn: list[tuple[str | None, float | None]] | None = getattr(_this_thread, "turn", None)
    if turn is None or _this_thread.loop is not loop:  # this thread's first loop, or a new one
        if turn:
            _publish_turn(turn)  # left by a loop that stopped before its turn ended
        turn = _this_thread.turn = []
        _this_thread.loop = loop
    if not turn:
        loop.call_soon(_publish_turn, turn)
    turn.append((code, seconds))


# Each loop's thread tallies its own turn (one loop per worker in production; tests run more).
_this_thread = threading.local()


def _publish_turn(turn: list[tuple[str | None, float | None]]) -> None:
    outcomes = turn[:]
    turn.clear()
    _publish(outcomes)


def _publish(outcomes: Iterable[tuple[str | None, float | None]]) -> None:
    """Add outcomes to the metrics: one increment per code and per latency bucket, as many
    `observe` calls would give (tests/unit/test_observability.py compares the two expositions)."""
    counts: dict[str | None, int] = {}
    buckets: dict[int, int] = {}
    total = 0.0
    bounds = VERIFY_SECONDS._upper_bounds  # the histogram's own bounds, +Inf last
    for code, seconds in outcomes:
        counts[code] = counts.get(code, 0) + 1
        if seconds is not None:
            total += seconds
            index = bisect.bisect_left(bounds, seconds)
            buckets[index] = buckets.get(index, 0) + 1
    for code, count in counts.items():
        counter = _VERIFICATION_COUNTERS.get(code)  # the known codes: no label lookup per call
        if counter is None:
            counter = VERIFICATIONS.labels(_other(code) if code else "VALID")
        counter.inc(count)
    if buckets:
        VERIFY_SECONDS._sum.inc(total)
        for index, count in buckets.items():
            VERIFY_SECONDS._buckets[index].inc(count)


def _other(code: str) -> str:
    """Refusals counted by the middleware are HTTP_<status>; anything else is bounded to OTHER."""
    return code if code.startswith("HTTP_") and code[5:].isdigit() and len(code) == 8 else "OTHER"


def record_last_used_flush(seconds: float, rows: int) -> None:
    LAST_USED_FLUSH_SECONDS.observe(seconds)
    LAST_USED_ROWS.inc(rows)


def record_last_used_flush_failure() -> None:
    LAST_USED_FLUSH_FAILURES.inc()


def record_expiry_run(seconds: float, expired: int, ok: bool = True) -> None:
    EXPIRY_RUNS.labels("ok" if ok else "error").inc()
    EXPIRY_SECONDS.observe(seconds)
    if expired:
        KEYS_EXPIRED.inc(expired)


def record_sign_in(outcome: str) -> None:
    SIGN_INS.labels(outcome if outcome in SIGN_IN_OUTCOMES else "failure").inc()


# ---------------------------------------------------------------- scrape


class ActiveSessionsCollector(Collector):
    """Signed-in browser sessions that have not expired, counted in the database at scrape time."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        import sqlalchemy as sa

        from rxapp.db import get_engine
        from rxapp.models import UserSession, core_table, utc_now

        table = core_table(UserSession)
        gauge = GaugeMetricFamily("apikeys_active_sessions", "Browser sessions that have not expired.")
        try:
            with get_engine().connect() as connection:
                count = connection.execute(
                    sa.select(sa.func.count()).select_from(table).where(table.c.expires_at > utc_now())
                ).scalar_one()
        except Exception:  # a scrape must still show the counters when the database is down
            return
        gauge.add_metric([], count)
        yield gauge


def _registry() -> CollectorRegistry:
    if os.environ.get(ENV_VAR):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return registry


_sessions_collector = ActiveSessionsCollector()


def render() -> bytes:
    """The exposition text: every worker's counters summed, plus the active-sessions gauge."""
    registry = _registry()
    sessions = CollectorRegistry(auto_describe=False)
    sessions.register(_sessions_collector)
    return generate_latest(registry) + generate_latest(sessions)


def authorized(header: str | None, token: str) -> bool:
    scheme, _, value = (header or "").strip().partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(value.strip(), token)


async def metrics_endpoint(request: Request) -> Response:
    from rxapp.context import get_settings

    token = get_settings().metrics_token
    if not token:
        return JSONResponse(
            {"error": "NOT_FOUND", "message": "Metrics are off: set APIKEYS_METRICS_TOKEN to enable them."},
            status_code=404,
        )
    if not authorized(request.headers.get("authorization"), token):
        return JSONResponse(
            {"error": "UNAUTHORIZED", "message": "Send 'Authorization: Bearer <metrics token>'."},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    body = await asyncio.to_thread(render)
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
