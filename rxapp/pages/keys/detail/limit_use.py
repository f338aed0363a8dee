"""What is left of a key's limits right now, for its page (issue 24): each named limit (the key's
own, and its identity's shared ones) with the calls left in the current window and when the window
resets, and the per-minute limit's calls left. Read with the limiters' `peek` (rxapp/limiters.py),
which never counts a call.

Where the numbers come from matters: with Redis configured the limiters live there and the page
shows what every worker has counted; without, each worker counts in its own memory and the page
shows this worker's count (the console runs one worker then, unless the operator sets more), and
says so under the list.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from rxapp.components.timefmt import exact_utc, iso
from rxapp.context import app_context
from rxapp.limiters import MemoryKeyLimiter, MemoryNamedLimiter
from rxapp.models import ApiKeyPublic
from rxapp.pages.keys.program_form import duration_text
from rxapp.services import programs

PER_WORKER_NOTE = (
    "Counted in this worker's memory (no Redis configured): with several workers, each counts"
    " its own calls, so a key may get up to the limit from each."
)
SHARED_NOTE = "Counted in Redis, across every worker."

Shared = tuple[int, list[dict[str, Any]]]  # the identity's row id and its limits


def _row(name: str, limit: int, duration: int, scope: str, seen: tuple[int, int | None]) -> dict[str, str]:
    left, reset_ms = seen
    reset = dt.datetime.fromtimestamp(reset_ms / 1000, dt.UTC) if reset_ms is not None else None
    return {
        "id": ("key-page-limit-i-" if scope else "key-page-limit-k-") + name,
        "text": f"{name}{scope}: {limit:,} per {duration_text(duration)}",
        "left": f"{left:,} of {limit:,} left",
        "reset": iso(reset),
        "reset_exact": exact_utc(reset),
    }


async def limit_rows(key: ApiKeyPublic, key_row_id: int, shared: Shared | None) -> list[dict[str, str]]:
    """One row per named limit: its text, what is left now, and when its window resets ("" when no
    window is open: the whole limit is there)."""
    wanted: list[tuple[str, int, int, str, str]] = [
        (programs.key_bucket(key_row_id, item["name"]), item["limit"], item["duration"], item["name"], "")
        for item in key.ratelimits
    ]
    if shared is not None:
        identity_id, limits = shared
        wanted += [
            (
                programs.identity_bucket(identity_id, item["name"]),
                item["limit"],
                item["duration"],
                item["name"],
                f" (shared by {key.identity})",
            )
            for item in limits
        ]
    if not wanted:
        return []
    seen = await app_context.named_limiter.peek([(bucket, limit) for bucket, limit, *_ in wanted])
    return [
        _row(name, limit, duration, scope, one)
        for (_, limit, duration, name, scope), one in zip(wanted, seen, strict=True)
    ]


async def minute_left(key_row_id: int, per_minute: int | None) -> str:
    """`about 4 left now` for the per-minute limit (a sliding-window estimate), `(this worker)`
    added when counted in memory; "" without a limit."""
    if not per_minute:
        return ""
    left = await app_context.key_limiter.peek(key_row_id, per_minute)
    where = " (this worker)" if isinstance(app_context.key_limiter, MemoryKeyLimiter) else ""
    return f"about {left:,} left now{where}"


def counted_where() -> str:
    """The note under the limits: per worker (memory) or across workers (Redis)."""
    return PER_WORKER_NOTE if isinstance(app_context.named_limiter, MemoryNamedLimiter) else SHARED_NOTE
