"""What usage counting costs a verification, measured in process (issues 12 and 14: "within 5 %").

The HTTP pair in bench.py (two consoles, one with APIKEYS_BENCH_USAGE_OFF=1) swings far more than
5 % between rounds on a shared machine. Here the production ASGI entry for `POST /api/v1/verify`
(the same composition as `FastPathApp.__call__`: outermost -> the direct fast path, the
real SQLite lookup on a migrated database, the real Last Used buffer and usage counter) is driven
directly, with no network, in many short rounds alternating counting on and off, and the process
CPU time per call is compared round by round. Counting off is `switch_off_for_benchmark`, the
switch the HTTP pair uses; counting on is the buffer's own method, i.e. exactly production.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import statistics
import time
from dataclasses import dataclass
from typing import Any

from rxapp import routes
from rxapp.db import get_engine
from rxapp.hotpath import direct_fast_path, outermost
from rxapp.services import last_used, usage

_VALID = b'"valid":true'


async def _unreached(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError(f"{scope['path']} left the fast path")


def production_entry() -> Any:
    """`FastPathApp.__call__` with access logging off (the default): Reflex's stack is never reached."""
    return outermost(_unreached, direct_fast_path())


def set_counting(on: bool) -> None:
    """Off: the benchmark switch. On: drop the instance override, so `count` is the class's method."""
    if on:
        vars(usage.buffer).pop("count", None)
    else:
        usage.buffer.switch_off_for_benchmark()


@dataclass
class Round:
    counting: bool
    calls: int
    cpu_us_per_call: float
    counted: int  # valid calls the usage buffer held after the round
    flush_cpu_ms: float  # the real flush of both buffers after the round (not in the per-call figure)


class Harness:
    """One prebuilt request (scope, receive, send) for a valid key, sent to the production entry."""

    def __init__(self, secret: str) -> None:
        self.entry = production_entry()
        self.scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": routes.API_VERIFY,
            "raw_path": routes.API_VERIFY.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"127.0.0.1:8000"),
                (b"authorization", f"Bearer {secret}".encode()),
                (b"content-length", b"0"),
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        self.status = 0
        self.body = b""
        self.loop = asyncio.new_event_loop()

    async def _receive(self) -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def _send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        else:
            self.body = message["body"]

    async def _calls(self, calls: int) -> float:
        entry, scope, receive, send = self.entry, self.scope, self._receive, self._send
        started = time.process_time()
        for _ in range(calls):
            await entry(scope, receive, send)
        return time.process_time() - started

    def round(self, counting: bool, calls: int) -> Round:
        set_counting(counting)
        gc.collect()
        cpu = self.loop.run_until_complete(self._calls(calls))
        if self.status != 200 or _VALID not in self.body:
            raise RuntimeError(f"verify answered {self.status} {self.body[:200]!r}, not a valid key")
        batch = usage.buffer.drain()  # read what this round counted, then flush it as the job does
        counted = sum(counts[0] for counts in batch.values())
        usage.buffer.restore(batch)
        flushed = time.process_time()
        engine = get_engine()
        last_used.buffer.flush(engine)
        usage.buffer.flush(engine)
        return Round(counting, calls, cpu / calls * 1e6, counted, (time.process_time() - flushed) * 1e3)

    def close(self) -> None:
        set_counting(True)
        self.loop.close()


def _bootstrap(pairs: list[tuple[float, float]], statistic: Any, draws: int = 2000) -> tuple[float, float]:
    """95 % interval of `statistic(pairs)`, resampling the adjacent on/off pairs together."""
    rng = random.Random(12)
    values = sorted(statistic([rng.choice(pairs) for _ in pairs]) for _ in range(draws))
    return values[int(0.025 * draws)], values[int(0.975 * draws) - 1]


def _ratio_of_medians(pairs: list[tuple[float, float]]) -> float:
    return statistics.median(on for on, _ in pairs) / statistics.median(off for _, off in pairs)


def _median_paired_ratio(pairs: list[tuple[float, float]]) -> float:
    return statistics.median(on / off for on, off in pairs)


def summarize(rounds: list[Round]) -> dict[str, Any]:
    """Medians per side and their ratio; the paired ratios (each on round over the off round next to
    it, so drift cancels) with their median and quartiles. Both medians get a bootstrap 95 %
    interval; the verdict uses the paired one: a round slowed by other work on the core moves one
    pair's ratio, up or down, not the median of them all."""
    on = [r.cpu_us_per_call for r in rounds if r.counting]
    off = [r.cpu_us_per_call for r in rounds if not r.counting]
    pairs = list(zip(on, off, strict=True))
    quartiles = statistics.quantiles([a / b for a, b in pairs], n=4)
    paired_ci = _bootstrap(pairs, _median_paired_ratio)
    return {
        "rounds_per_side": len(on),
        "calls_per_round": rounds[0].calls,
        "on_median_us": statistics.median(on),
        "off_median_us": statistics.median(off),
        "on_range_us": [min(on), max(on)],
        "off_range_us": [min(off), max(off)],
        "ratio": _ratio_of_medians(pairs),
        "ratio_ci95": list(_bootstrap(pairs, _ratio_of_medians)),
        "paired_median": _median_paired_ratio(pairs),
        "paired_ci95": list(paired_ci),
        "paired_iqr": [quartiles[0], quartiles[2]],
        "counted_on": sum(r.counted for r in rounds if r.counting),
        "counted_off": sum(r.counted for r in rounds if not r.counting),
        "calls_per_side": sum(r.calls for r in rounds if r.counting),
        "flush_cpu_ms_median": statistics.median(r.flush_cpu_ms for r in rounds if r.counting),
        "flush_cpu_ms_off_median": statistics.median(r.flush_cpu_ms for r in rounds if not r.counting),
        "within_5_percent": paired_ci[1] <= 1.05,
        "on_us": [round(value, 2) for value in on],  # every round, in order, for a second look
        "off_us": [round(value, 2) for value in off],
    }


def measure(secret: str, rounds: int, calls: int, core: int | None = None) -> dict[str, Any]:
    """`rounds` pairs, the order inside each pair alternating (on-off, off-on, ...), pinned to `core`
    when the machine has two or more (the affinity is restored afterwards)."""
    previous = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    pinned = core is not None and previous is not None and len(previous) >= 2 and core in previous
    if pinned:
        os.sched_setaffinity(0, {core})
    harness = Harness(secret)
    try:
        harness.round(True, calls)  # warm-up: connection, caches, the hour (not reported)
        harness.round(False, calls)
        measured = []
        for number in range(rounds):
            order = (True, False) if number % 2 == 0 else (False, True)
            measured += [harness.round(counting, calls) for counting in order]
    finally:
        harness.close()
        if pinned:
            os.sched_setaffinity(0, previous)
    result = summarize(measured)
    result["pinned_core"] = core if pinned else None
    if result["counted_off"] or result["counted_on"] != result["calls_per_side"]:
        raise RuntimeError(f"usage counting switch not effective: {result}")
    return result


# ---------------------------------------------------------------- report (scripts/bench)


def _percent(ratio: float) -> str:
    return f"{(ratio - 1) * 100:+.1f} %"


def target_row(result: dict[str, Any]) -> dict[str, str]:
    """The issue 12/14 verdict: pass when the paired ratios' whole 95 % interval is at most 1.05."""
    low, high = result["paired_ci95"]
    verdict = "pass" if high <= 1.05 else ("MISS" if low > 1.05 else "not resolved")
    return {
        "target": "Verify with usage counting on within 5 % of off, in process (CPU per call)",
        "measured": f"on costs {_percent(result['paired_median'])} (median of paired rounds; 95 % interval "
        f"{_percent(low)} to {_percent(high)}; medians {result['on_median_us']:.1f} vs "
        f"{result['off_median_us']:.1f} µs per call; {result['rounds_per_side']} alternating pairs of "
        f"{result['calls_per_round']:,} calls)",
        "verdict": verdict,
    }


def _median_range(result: dict[str, Any], side: str) -> str:
    low, high = result[f"{side}_range_us"]
    return f"{result[f'{side}_median_us']:.2f} µs ({low:.1f}–{high:.1f})"


def section_rows(result: dict[str, Any]) -> list[tuple[str, str]]:
    low, high = result["ratio_ci95"]
    q1, q3 = result["paired_iqr"]
    p_low, p_high = result["paired_ci95"]
    core = result.get("pinned_core")
    return [
        ("Driven", "production ASGI entry for POST /api/v1/verify, in process, valid key, SQLite"),
        (
            "Rounds",
            f"{result['rounds_per_side']} on + {result['rounds_per_side']} off, alternating, "
            f"{result['calls_per_round']:,} calls each"
            + (f", pinned to core {core}" if core is not None else ""),
        ),
        (
            "CPU per call, counting on: median (range)",
            _median_range(result, "on"),
        ),
        (
            "CPU per call, counting off: median (range)",
            _median_range(result, "off"),
        ),
        (
            "on / off, ratio of medians (bootstrap 95 % interval)",
            f"{result['ratio']:.3f} ({low:.3f}–{high:.3f})",
        ),
        (
            "on / off, paired rounds: median (bootstrap 95 % interval; interquartile range)",
            f"{result['paired_median']:.3f} ({p_low:.3f}–{p_high:.3f}; {q1:.3f}–{q3:.3f})",
        ),
        (
            "Valid calls counted, on / off",
            f"{result['counted_on']:,} of {result['calls_per_side']:,} / {result['counted_off']:,}",
        ),
        (
            "Flush after a round, CPU median, on / off (Last Used, + the usage upsert when on; "
            "production flushes once a second)",
            f"{result['flush_cpu_ms_median']:.2f} / {result.get('flush_cpu_ms_off_median', 0):.2f} ms",
        ),
    ]
