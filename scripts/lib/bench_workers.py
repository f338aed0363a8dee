"""Two workers against one (issue 27: "two workers on two cores ≥ 1.6× one worker").

Two API-only consoles on SQLite, seeded alike: one with one worker pinned to the server core (wrk
on the other, as every other row), one with two workers on both cores. Valid-key verify at 64
connections, in alternating rounds. On a two-core machine wrk has no core of its own in the
two-worker runs, so throughput understates what two dedicated cores give; the server CPU per
request (what a request costs, whoever else runs) is reported beside it: two workers that cost
no more per request than one serve twice as much on two cores of their own.
"""

from __future__ import annotations

from pathlib import Path

from scripts.lib.bench_common import Mode, Results, Server, api_console, say
from scripts.lib.bench_http import alternate, load_scripts

ROUNDS = {True: (2, 1), False: (5, 3)}  # quick/full: (rounds, seconds per run)
CONCURRENCY = 64


def bench_workers(mode: Mode, results: Results, work_dir: Path) -> None:
    consoles: dict[str, Server] = {}
    scripts: dict[str, Path] = {}
    urls: dict[str, str] = {}
    try:
        for name, workers in (("one-worker", "1"), ("two-workers", "2")):
            say(f"Starting a console (API only) with {workers} worker(s)")
            server, keys = api_console(work_dir / name, {"GRANIAN_WORKERS": workers}, pin=workers == "1")
            consoles[name] = server
            more_scripts, more_urls = load_scripts(server, keys, ("valid",), work_dir, suffix=f"-{name}")
            scripts[name], urls[name] = more_scripts["valid"], more_urls["valid"]
        rounds, seconds = ROUNDS[mode.quick]
        results.workers = alternate(urls, scripts, CONCURRENCY, rounds, seconds, unpinned="two-workers")
    finally:
        for server in consoles.values():
            server.stop()


def workers_target(results: Results) -> list[dict[str, str]]:
    one, two = results.workers.get("one-worker"), results.workers.get("two-workers")
    if not one or not two or not one["rps"]:
        return []
    ratio = two["rps"] / one["rps"]
    cpu_one, cpu_two = one["cpu_us_per_request"], two["cpu_us_per_request"]
    dedicated = 2 * cpu_one / cpu_two if cpu_one and cpu_two else 0.0
    return [
        {
            "target": "SQLite, 64 connections: two workers on two cores ≥ 1.6× one worker",
            "measured": (
                f"{ratio:.2f}× by throughput ({two['rps']:,.0f} vs {one['rps']:,.0f} req/s, wrk sharing "
                f"both cores); {dedicated:.2f}× by server CPU per request ({cpu_two:.0f} vs {cpu_one:.0f} µs)"
            ),
            "verdict": "pass"
            if ratio >= 1.6
            else ("MISS" if dedicated < 1.6 else "MISS (throughput; CPU scales)"),
        }
    ]
