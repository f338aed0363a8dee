"""The benchmark's targets: each measured against its goal, and what the run measured about a miss."""

from __future__ import annotations

import statistics
from typing import Any

from scripts.lib.bench_baseline import baseline_target
from scripts.lib.bench_common import Mode, Results
from scripts.lib.bench_usage import target_row as usage_target_row
from scripts.lib.bench_workers import workers_target


def round_median(results: Results, target: str, key: str) -> float | None:
    values = [run[key] for run in results.rounds if run["target"] == target and run.get(key) is not None]
    return statistics.median(values) if values else None


def wrk_row(results: Results, target: str, concurrency: int) -> dict[str, Any] | None:
    for run in results.wrk:
        if run["target"] == target and run["concurrency"] == concurrency:
            return run
    return None


def _c16(results: Results, target: str) -> dict[str, Any] | None:
    """Median req/s and p99 of the interleaved rounds, else the single run at concurrency 16."""
    rps, p99 = round_median(results, target, "rps"), round_median(results, target, "p99_ms")
    if rps is not None and p99 is not None:
        cpu = round_median(results, target, "cpu_us_per_request")
        return {"rps": rps, "p99_ms": p99, "cpu_us_per_request": cpu}
    return wrk_row(results, target, 16)


def fast_path_targets(results: Results) -> list[dict[str, str]]:
    """Issue 14/16 targets at concurrency 16: ratios within one run, never absolute numbers."""
    rows = []
    bare, valid, authorize = _c16(results, "bare"), _c16(results, "valid"), _c16(results, "authorize")
    if bare and valid and bare["rps"]:
        ratio = valid["rps"] / bare["rps"]
        rows.append(
            {
                "target": "SQLite, one worker: valid-key verify ≥ 60 % of the bare Starlette reference",
                "measured": f"{ratio:.1%} ({valid['rps']:,.0f} vs {bare['rps']:,.0f} req/s)",
                "verdict": "pass" if ratio >= 0.6 else "MISS",
            }
        )
        p99 = valid["p99_ms"] / bare["p99_ms"] if bare["p99_ms"] else float("inf")
        rows.append(
            {
                "target": "SQLite: valid-key verify p99 ≤ 2× the reference's p99",
                "measured": f"{p99:.2f}× ({valid['p99_ms']:.2f} vs {bare['p99_ms']:.2f} ms)",
                "verdict": "pass" if p99 <= 2 else "MISS",
            }
        )
    if valid and authorize and valid["rps"]:
        ratio = authorize["rps"] / valid["rps"]
        rows.append(
            {
                "target": "Forward auth (/authorize) within 10 % of verify",
                "measured": f"{ratio:.0%} of verify ({authorize['rps']:,.0f} vs {valid['rps']:,.0f} req/s)",
                "verdict": "pass" if ratio >= 0.9 else "MISS",
            }
        )
    usage_on, usage_off = _c16(results, "valid-usage-on"), _c16(results, "valid-usage-off")
    if usage_on and usage_off and usage_off["rps"]:
        ratio = usage_on["rps"] / usage_off["rps"]
        rows.append(
            {
                "target": "Verify with usage counting on within 5 % of off (SQLite, one worker)",
                "measured": f"{ratio:.0%} of off ({usage_on['rps']:,.0f} vs {usage_off['rps']:,.0f} req/s)",
                "verdict": _http_usage_verdict(results, ratio),
            }
        )
    if results.usage_inproc:
        rows.append(usage_target_row(results.usage_inproc))
    bare_pg, valid_pg = _c16(results, "bare-pg"), _c16(results, "valid-pg")
    if bare_pg and valid_pg and bare_pg["rps"]:
        ratio = valid_pg["rps"] / bare_pg["rps"]
        rows.append(
            {
                "target": "PostgreSQL, one worker: valid-key verify ≥ 30 % of the reference",
                "measured": f"{ratio:.0%} ({valid_pg['rps']:,.0f} vs {bare_pg['rps']:,.0f} req/s)",
                "verdict": "pass" if ratio >= 0.3 else "MISS",
            }
        )
    rows += high_concurrency_targets(results)
    rows += workers_target(results)
    rows += baseline_target(results)
    programmed = "verify with credits + one named limit"
    for label, target, reference, goal in (
        (f"SQLite, one worker: {programmed} ≥ 50 % of the reference", "programmed", "bare", 0.5),
        (f"PostgreSQL, one worker: {programmed} ≥ 40 % of the reference", "programmed-pg", "bare-pg", 0.4),
    ):
        mine, theirs = _c16(results, target), _c16(results, reference)
        if mine and theirs and theirs["rps"]:
            ratio = mine["rps"] / theirs["rps"]
            rows.append(
                {
                    "target": label,
                    "measured": f"{ratio:.0%} ({mine['rps']:,.0f} vs {theirs['rps']:,.0f} req/s)",
                    "verdict": "pass" if ratio >= goal else "MISS",
                }
            )
    rows += cpu_targets(results)
    return rows


def high_concurrency_targets(results: Results) -> list[dict[str, str]]:
    """Issue 27's targets: SQLite ≥ 65 % of the reference at 16 connections and ≥ 60 % at 64,
    PostgreSQL ≥ 60 % at 16 (one worker each)."""
    rows = []
    for label, target, reference, concurrency, goal in (
        (
            "SQLite, one worker, 16 connections: valid-key verify ≥ 65 % of the reference",
            "valid",
            "bare",
            16,
            0.65,
        ),
        (
            "SQLite, one worker, 64 connections: valid-key verify ≥ 60 % of the reference",
            "valid",
            "bare",
            64,
            0.6,
        ),
        (
            "PostgreSQL, one worker, 16 connections: valid-key verify ≥ 60 % of the reference",
            "valid-pg",
            "bare-pg",
            16,
            0.6,
        ),
    ):
        if concurrency == 16:
            mine, theirs = _c16(results, target), _c16(results, reference)
        else:
            mine, theirs = wrk_row(results, target, concurrency), wrk_row(results, reference, concurrency)
        if mine and theirs and theirs["rps"]:
            ratio = mine["rps"] / theirs["rps"]
            rows.append(
                {
                    "target": label,
                    "measured": f"{ratio:.1%} ({mine['rps']:,.0f} vs {theirs['rps']:,.0f} req/s)",
                    "verdict": "pass" if ratio >= goal else "MISS",
                }
            )
    return rows


def _http_usage_verdict(results: Results, ratio: float) -> str:
    """The HTTP pair cannot resolve 5 % on a shared machine: the in-process rounds decide when run."""
    if results.usage_inproc:
        return "n/a (noise; decided in process)"
    return "pass" if ratio >= 0.95 else "MISS"


def cpu_targets(results: Results) -> list[dict[str, str]]:
    """The same ratios from server CPU per request: what one dedicated core would serve.

    On a machine shared with other work, throughput swings with whatever else runs; the CPU a
    request costs the server barely does. bare µs / verify µs = verify's share of the ceiling.
    """
    rows = []
    for label, target, reference, goal in [
        ("SQLite: valid-key verify ≥ 60 % of the reference", "valid", "bare", 0.6),
        ("Usage counting on within 5 % of off", "valid-usage-on", "valid-usage-off", 0.95),
        ("Forward auth within 10 % of verify", "authorize", "valid", 0.9),
        ("PostgreSQL: valid-key verify ≥ 30 % of the reference", "valid-pg", "bare-pg", 0.3),
        ("PostgreSQL: forward auth within 10 % of verify", "authorize-pg", "valid-pg", 0.9),
        ("SQLite: verify with credits + one named limit ≥ 50 % of the reference", "programmed", "bare", 0.5),
        (
            "PostgreSQL: verify with credits + one named limit ≥ 40 % of the reference",
            "programmed-pg",
            "bare-pg",
            0.4,
        ),
    ]:
        measured, ceiling = _c16(results, target), _c16(results, reference)
        mine = (measured or {}).get("cpu_us_per_request")
        theirs = (ceiling or {}).get("cpu_us_per_request")
        if not mine or not theirs:
            continue
        ratio = theirs / mine
        verdict = "pass" if ratio >= goal else "MISS"
        rows.append(
            {
                "target": f"{label}, by server CPU per request",
                "measured": f"{ratio:.1%} ({mine:.1f} vs {theirs:.1f} µs of server CPU per request)",
                "verdict": _http_usage_verdict(results, ratio) if target == "valid-usage-on" else verdict,
            }
        )
    return rows


def evaluate_targets(results: Results, mode: Mode) -> list[dict[str, str]]:
    """Measured vs target. A target measured at quick-mode sizes is not judged."""
    rows = fast_path_targets(results)
    noop, valid = wrk_row(results, "noop", 16), wrk_row(results, "valid", 16)
    if noop and valid:
        ratio = valid["rps"] / noop["rps"] if noop["rps"] else 0.0
        rows.append(
            {
                "target": "Valid-key verification at concurrency 16 ≥ 50 % of the no-op ceiling "
                "(SQLite, one worker)",
                "measured": f"{ratio:.0%} ({valid['rps']:,.0f} vs {noop['rps']:,.0f} req/s)",
                "verdict": "pass" if ratio >= 0.5 else "MISS",
            }
        )
        rows.append(
            {
                "target": "Valid-key verification p99 at concurrency 16 < 10 ms",
                "measured": f"{valid['p99_ms']:.2f} ms",
                "verdict": "pass" if valid["p99_ms"] < 10 else "MISS",
            }
        )
    else:
        rows.append(
            {"target": "Verification throughput and p99", "measured": "not measured", "verdict": "n/a"}
        )
    if results.last_used:
        writes = results.last_used["row_writes_valid_key"]
        verifications = results.last_used["valid_verifications"]
        share = writes / verifications if verifications else 0.0
        rows.append(
            {
                "target": "No database write per verification (Last Used row writes ≤ 1 % of verifications)",
                "measured": f"{writes:,} writes for {verifications:,} verifications ({share:.4%})",
                "verdict": "pass" if share <= 0.01 else "MISS",
            }
        )
        lag = results.last_used["last_used_minus_run_end_s"]
        rows.append(
            {
                "target": "Last Used set and within ~2 s of the end of the last valid-key run",
                "measured": "not set" if lag is None else f"Last Used − run end = {lag:+.2f} s",
                "verdict": "pass" if lag is not None and abs(lag) <= 2 else "MISS",
            }
        )
    if results.expiry:
        judged = results.expiry["due"] >= 100_000
        ok = results.expiry["seconds"] < 10 and results.expiry["correct"]
        rows.append(
            {
                "target": "Expiry job < 10 s for 100,000 due keys",
                "measured": f"{results.expiry['seconds']:.2f} s for {results.expiry['due']:,} due of "
                f"{results.expiry['rows']:,}" + ("" if results.expiry["correct"] else " (WRONG COUNT)"),
                "verdict": ("pass" if ok else "MISS") if judged else "n/a (quick sizes)",
            }
        )
    if results.list_query:
        largest = max(row["keys"] for row in results.list_query)
        worst = max(
            (row for row in results.list_query if row["keys"] == largest), key=lambda row: row["p95_ms"]
        )
        rows.append(
            {
                "target": "Keys page query < 50 ms at 100,000 keys (worst p95 of the seven queries)",
                "measured": f"{worst['p95_ms']:.1f} ms ({worst['query']}, {largest:,} keys)",
                "verdict": ("pass" if worst["p95_ms"] < 50 else "MISS")
                if largest >= 100_000
                else "n/a (quick sizes)",
            }
        )
    if results.browser:
        rows.append(
            {
                "target": "Create-to-secret in the browser < 300 ms (p95)",
                "measured": f"p95 {results.browser['p95_ms']:.0f} ms, p50 {results.browser['p50_ms']:.0f} ms",
                "verdict": "pass" if results.browser["p95_ms"] < 300 else "MISS",
            }
        )
    elif "browser" in results.sections_run:
        rows.append(
            {
                "target": "Create-to-secret in the browser < 300 ms (p95)",
                "measured": "not measured",
                "verdict": "n/a",
            }
        )
    return rows


def _spread(results: Results, target: str, key: str = "rps") -> str:
    values = [run[key] for run in results.rounds if run["target"] == target and run.get(key)]
    return f"{min(values):,.0f}–{max(values):,.0f}" if values else "n/a"


def miss_explanations(results: Results) -> dict[str, str]:
    """Why a target was missed, from what this run measured (and, where said, a named probe)."""
    load = f"load average {results.load_before} before, {results.load_after} after, on 2 cores"
    cpu = {
        target: (wrk_row(results, target, 16) or {}).get("cpu_us_per_request") or 0
        for target in ("bare", "malformed", "unknown", "valid")
    }
    bare_c16, valid_c16 = _c16(results, "bare") or {}, _c16(results, "valid") or {}
    by_rps = valid_c16.get("rps", 0) / (bare_c16.get("rps") or 1)
    by_cpu = (bare_c16.get("cpu_us_per_request") or 0) / (valid_c16.get("cpu_us_per_request") or 1)
    fast_path = (
        "Server CPU per request at concurrency 16 in this run: "
        f"bare {cpu['bare']:.0f} µs, "
        f"malformed key {cpu['malformed']:.0f} µs (same fast path, no database), unknown key "
        f"{cpu['unknown']:.0f} µs (+ HMAC and the lookup), valid key {cpu['valid']:.0f} µs. What separates "
        "a valid key from an unknown one is the joined row it reads, its Last Used and usage bookkeeping, "
        "and its larger answer (a ~260-byte body, rendered once per key row and remembered; "
        f"docs/fast-path.md). Medians of the interleaved rounds: {by_rps:.1%} of the reference by "
        f"throughput, {by_cpu:.1%} by server CPU; single runs of verify served "
        f"{_spread(results, 'valid')} req/s ({load})."
    )
    usage = (
        "Counting itself is cheap: `UsageBuffer.count` measured 0.4 µs of CPU per verification in "
        "process (200,000 calls), under 1 % of the "
        f"{(_c16(results, 'valid-usage-off') or {}).get('cpu_us_per_request') or 0:.0f} µs of server CPU a "
        "verification costs. This machine cannot resolve 5 % in this run: across the five interleaved "
        f"rounds, the usage-on console served {_spread(results, 'valid-usage-on')} req/s and the identical "
        f"usage-off console {_spread(results, 'valid-usage-off')} req/s ({load}). A separate probe of 8 "
        "alternating on/off pairs (3 s each) gave on/off CPU-per-request ratios "
        "from 0.91 to 1.38 between adjacent runs of the same two consoles."
    )

    def forward_auth(suffix: str) -> str:
        """For the SQLite targets (suffix "") or the PostgreSQL ones ("-pg"), from their own rounds."""
        verify, authorize = "valid" + suffix, "authorize" + suffix
        verify_cpu, authorize_cpu = (
            (_c16(results, target) or {}).get("cpu_us_per_request") or 0 for target in (verify, authorize)
        )
        return (
            "Authorize sends ~200 bytes of identity headers that verify does not (rendered once per key "
            "row, as verify's body is; docs/fast-path.md). In this run: "
            f"{authorize_cpu:.0f} vs {verify_cpu:.0f} µs of server CPU per request "
            "(medians of the interleaved rounds; single runs: authorize "
            f"{_spread(results, authorize, 'cpu_us_per_request')} µs, verify "
            f"{_spread(results, verify, 'cpu_us_per_request')} µs), on a shared machine ({load})."
        )

    def at(target: str, concurrency: int) -> float:
        return (wrk_row(results, target, concurrency) or {}).get("cpu_us_per_request") or 0

    high_concurrency = (
        "The reference gets cheaper per request as connections grow (Granian and the loop batch their "
        f"work): bare {at('bare', 16):.0f} µs of server CPU at 16 connections, {at('bare', 64):.0f} µs at "
        f"64. A verification's own work does not shrink: at 64, malformed key {at('malformed', 64):.0f} µs "
        f"(no database), unknown key {at('unknown', 64):.0f} µs (+ HMAC and the lookup), valid key "
        f"{at('valid', 64):.0f} µs (the joined row, Last Used and usage, the answer). Profiled with "
        "py-spy (--native): a third of a lookup was SQLite taking and dropping WAL's read lock "
        "(fcntl) per statement; the lookups of one turn of the event loop now share one read "
        "transaction (A/B at 64 connections, server pinned: ~12,900 -> ~15,500 req/s, 77 -> 62 µs). "
        "uvloop was tried and not kept: it made the reference 35 % faster and the console no faster "
        "(its time is not in the loop)."
    )
    explanations = {
        "SQLite, one worker, 64 connections": high_concurrency,
        "PostgreSQL, one worker, 16 connections": (
            f"Lookups run on a pool of 4 libpq connections; when all are busy, the waiting ones go "
            f"as one SELECT ... = ANY(digests) (server CPU "
            f"{(_c16(results, 'valid-pg') or {}).get('cpu_us_per_request') or 0:.0f} µs per request; "
            "PostgreSQL's own CPU, on the same two cores, is not in that figure)."
        ),
        "SQLite, 64 connections: two workers": (
            "wrk has no core of its own beside two workers on a two-core machine, so throughput "
            "understates scaling; by server CPU per request the second worker costs more than the first "
            "(both share SQLite's WAL locks and the one disk). Not investigated further."
        ),
        "PostgreSQL, one worker: verify with credits": (
            "Spends are group-committed on PostgreSQL (one UPDATE per key for the spends that arrive "
            "while a batch commits), a turn's lookups go as one statement and the named limit's Lua "
            "script goes over a pipelined connection. What is left is three round trips per call "
            "(lookup, Redis, spend) through the event loop: in A/B runs the Redis stage costs ~17 µs of "
            "the worker's CPU per call over HTTP, while encoding and parsing the call cost under 4 µs; "
            "batching a turn's limit calls into one EVALSHA, a second spend batch in flight and pinning "
            "PostgreSQL and Redis to wrk's core gained nothing (docs/fast-path.md)."
        ),
        "PostgreSQL: verify with credits": (
            "As above: three waits per call, and PostgreSQL and Redis share the cores."
        ),
        "Forward auth": forward_auth(""),
        "PostgreSQL: forward auth": forward_auth("-pg"),
        "SQLite, one worker: valid-key verify": fast_path,
        "SQLite: valid-key verify ≥ 60 %": fast_path,
        "Verify with usage counting": usage,
        "Usage counting on within 5 %": usage,
        "Valid-key verification p99": (
            f"The machine ({load}): the bare Starlette reference's own p99 at concurrency 16 was "
            f"{(wrk_row(results, 'bare', 16) or {}).get('p99_ms', 0):.1f} ms in its single run. "
            "The comparable "
            "figure is verify's p99 relative to the reference's, in the target above it."
        ),
        "Last Used set": (
            "Last Used is compared with the end of the last run that used this console's key; the "
            f"flush runs every second on the server's one core, which was shared ({load})."
        ),
    }
    if results.list_query:
        largest = max(row["keys"] for row in results.list_query)
        rows = [row for row in results.list_query if row["keys"] == largest]
        worst = max(rows, key=lambda row: row["p95_ms"])
        explanations["Keys page query"] = (
            "Waiting for a core, not the query: SQLite runs in the benchmark's own process, and the "
            f"CPU time of '{worst['query']}' was {worst.get('cpu_median_ms', 0):.1f} ms (median) against "
            f"{worst['median_ms']:.1f} ms median and {worst['p95_ms']:.1f} ms p95 on the wall clock "
            f"({load}). "
            f"The most expensive query by CPU was {max(r.get('cpu_median_ms') or 0 for r in rows):.1f} ms."
        )
    if results.browser:
        br, phases = results.browser, results.browser.get("phases_median_ms", {})
        explanations["Create-to-secret"] = (
            f"On the page's own clock, click to secret shown was p50 {br.get('in_page_p50_ms')} ms / p95 "
            f"{br.get('in_page_p95_ms')} ms; medians: click → create event sent "
            f"{phases.get('click → event sent', 0):.0f} ms (the name now travels with the event), event "
            f"sent → secret received {phases.get('event sent → secret received', 0):.0f} ms (the server's "
            f"create and the websocket), received → shown {phases.get('secret received → shown', 0):.0f} ms "
            "(React). The rest of the time measured from Python is Playwright's own round trips (the "
            f"click's actionability checks, the polling of the wait) on a busy machine ({load})."
        )
    if results.expiry:
        ex = results.expiry
        explanations["Expiry job"] = (
            f"{ex.get('cpu_seconds', 0):.2f} s of the {ex['seconds']:.2f} s were CPU time of the process "
            f"(SQLite works in it); the rest was waiting for a core or the disk ({load})."
        )
    return explanations


def usage_note(results: Results) -> str:
    """Why the in-process rounds, not the HTTP pair, decide the usage target (issues 12 and 14)."""
    inproc = results.usage_inproc
    low, high = inproc["paired_ci95"]
    http = ""
    if _c16(results, "valid-usage-on"):
        http = (
            f"The HTTP pair cannot resolve 5 % on this machine: across its interleaved rounds the "
            f"usage-on console served {_spread(results, 'valid-usage-on')} req/s and the identical "
            f"usage-off console {_spread(results, 'valid-usage-off')} req/s. "
        )
    verdict = "at most 5 %: the target is met" if high <= 1.05 else "not shown to be within 5 %"
    return (
        f"{http}In process, the production verify entry costs {inproc['on_median_us']:.1f} µs of CPU per "
        f"call with counting on and {inproc['off_median_us']:.1f} µs with it off (medians of "
        f"{inproc['rounds_per_side']} alternating rounds of {inproc['calls_per_round']:,} calls each); "
        f"the median of the paired on/off ratios is {inproc['paired_median']:.3f}, 95 % interval "
        f"{low:.3f}–{high:.3f}, so counting costs {verdict}. The usage upsert adds "
        f"{inproc['flush_cpu_ms_median'] - inproc.get('flush_cpu_ms_off_median', 0):.1f} ms of CPU to "
        "the flush, which runs once a second."
    )
