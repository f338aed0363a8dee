"""The benchmark's report: the result tables, the printed summary and docs/benchmarks.md."""

from __future__ import annotations

from typing import Any

from scripts.lib.bench_common import DOC_PATH, ROOT, SECTIONS, Mode, Results, say
from scripts.lib.bench_targets import evaluate_targets, miss_explanations, usage_note, wrk_row
from scripts.lib.bench_usage import section_rows as usage_section_rows


def rounds_table(results: Results) -> str:
    """Each interleaved run, so the spread behind the medians is visible."""
    rows = [
        [
            run["target"],
            run["round"] + 1,
            f"{run['rps']:,.0f}",
            f"{run['p50_ms']:.2f}",
            f"{run['p99_ms']:.2f}",
            _cpu_cell(run),
        ]
        for run in results.rounds
    ]
    return table(["target", "round", "req/s", "p50 ms", "p99 ms", "server CPU µs/req"], rows)


def _cpu_cell(run: dict[str, Any]) -> str:
    value = run.get("cpu_us_per_request")
    return f"{value:.0f}" if value else ""


def table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def wrk_table(results: Results) -> str:
    rows = []
    for run in results.wrk:
        ceiling = wrk_row(results, "noop", run["concurrency"])
        share = f"{run['rps'] / ceiling['rps']:.0%}" if ceiling and ceiling["rps"] else ""
        bare = wrk_row(results, "bare-pg" if run["target"].endswith("-pg") else "bare", run["concurrency"])
        of_bare = f"{run['rps'] / bare['rps']:.0%}" if bare and bare["rps"] else ""
        p99_ratio = f"{run['p99_ms'] / bare['p99_ms']:.2f}×" if bare and bare["p99_ms"] else ""
        rows.append(
            [
                run["target"],
                run["concurrency"],
                f"{run['rps']:,.0f}",
                of_bare,
                p99_ratio,
                share,
                f"{run['p50_ms']:.2f}",
                f"{run['p99_ms']:.2f}",
                _cpu_cell(run),
                f"{run['requests']:,}",
                run["non_2xx"],
                run["socket_errors"],
            ]
        )
    return table(
        [
            "target",
            "concurrency",
            "req/s",
            "of bare",
            "p99 / bare p99",
            "of no-op",
            "p50 ms",
            "p99 ms",
            "server CPU µs/req",
            "requests",
            "non-2xx",
            "socket errors",
        ],
        rows,
    )


def _pairs(rows: list[tuple[str, Any]]) -> str:
    return table(["", ""], [[name, value] for name, value in rows])


def result_sections(results: Results) -> list[tuple[str, str]]:
    """(title, table) for every part that ran: printed at the end, and the page's Results."""
    parts = []
    if results.wrk:
        parts.append(("Verification (HTTP, one worker, SQLite; `-pg` rows: PostgreSQL)", wrk_table(results)))
    if results.rounds:
        parts.append(
            (
                "Interleaved runs at concurrency 16 (the ratio targets use their medians)",
                rounds_table(results),
            )
        )
    if results.usage_inproc:
        title = "Usage counting on vs off, in process (CPU per verify call; decides the 5 % target)"
        parts.append((title, _pairs(usage_section_rows(results.usage_inproc))))
    if results.checks:
        parts.append(
            ("Correctness checks before the load", _pairs([(k, f"`{v}`") for k, v in results.checks.items()]))
        )
    if results.last_used:
        lu, lag = results.last_used, results.last_used["last_used_minus_run_end_s"]
        parts.append(
            (
                "Last Used write-behind",
                _pairs(
                    [
                        ("Last Used of the valid key", f"`{lu['last_used_at']}`"),
                        ("End of the last valid-key run", f"`{lu['last_valid_run_end']}`"),
                        ("Last Used − end of the run", "not set" if lag is None else f"{lag:+.2f} s"),
                        ("Valid-key verifications", f"{lu['valid_verifications']:,}"),
                        (
                            "Last Used row writes, valid key / all keys",
                            f"{lu['row_writes_valid_key']:,} / {lu['row_writes_all_keys']:,}",
                        ),
                    ]
                ),
            )
        )
    if results.browser:
        br = results.browser
        parts.append(
            (
                "Browser: create to secret",
                _pairs(
                    [
                        ("Chromium", br["chromium"]),
                        ("Creations timed", br["creations"]),
                        (
                            "p50 / p95 / max",
                            f"{br['p50_ms']:.0f} / {br['p95_ms']:.0f} / {br['max_ms']:.0f} ms",
                        ),
                        ("Warm-up creation (not counted)", f"{br['warmup_ms']:.0f} ms"),
                        (
                            "click → secret shown on the page's own clock, p50 / p95",
                            f"{br.get('in_page_p50_ms')} / {br.get('in_page_p95_ms')} ms",
                        ),
                        *[
                            (f"median, {phase} (in-page clock)", f"{ms:.0f} ms")
                            for phase, ms in br.get("phases_median_ms", {}).items()
                        ],
                    ]
                ),
            )
        )
    for title, ex in (("Expiry job, SQLite", results.expiry), ("Expiry job, PostgreSQL", results.expiry_pg)):
        if ex:
            parts.append(
                (
                    title,
                    _pairs(
                        [
                            ("Keys in the table / due", f"{ex['rows']:,} / {ex['due']:,}"),
                            (
                                "Marked EXPIRED / `key.expire` audit events",
                                f"{ex['expired']:,} / {ex['audit_events']:,}",
                            ),
                            (
                                "`jobs.expire_due_in_chunks` (chunks of 5,000, each committed)",
                                f"{ex['seconds']:.2f} s",
                            ),
                            (
                                "of which CPU time of this process (SQLite's work, without waits)",
                                f"{ex['cpu_seconds']:.2f} s" if ex.get("cpu_seconds") else "not measured",
                            ),
                            ("Second run (nothing due)", f"{ex['second_run_seconds'] * 1000:.1f} ms"),
                            ("Counts correct", "yes" if ex["correct"] else "**NO**"),
                        ]
                    ),
                )
            )
    if results.list_query:
        rows = [
            [
                f"{r['keys']:,}",
                r["query"],
                f"{r['median_ms']:.1f} ms",
                f"{r['p95_ms']:.1f} ms",
                f"{r['cpu_median_ms']:.1f} ms" if r.get("cpu_median_ms") is not None else "",
                f"{r['total_matches']:,}",
                r["page"],
            ]
            for r in results.list_query
        ]
        parts.append(
            (
                "Keys page query",
                table(["keys", "query", "median", "p95", "CPU median", "matching keys", "page"], rows),
            )
        )
    return parts


def summary(results: Results, mode: Mode) -> str:
    parts = [f"{title}\n{body}" for title, body in result_sections(results)]
    targets = evaluate_targets(results, mode)
    parts.append(
        "Targets\n" + table(["target", "measured", "result"], [list(row.values()) for row in targets])
    )
    if results.errors:
        parts.append("Errors\n" + "\n".join(f"- {name}: {error}" for name, error in results.errors.items()))
    return "\n\n".join(parts)


def render_document(results: Results, mode: Mode) -> str:
    """The page: machine and load, targets (each miss with what was measured about it), results.
    How each figure is measured is written once, by hand, in docs/benchmark-method.md."""
    targets = evaluate_targets(results, mode)
    lines = [
        "# Benchmarks",
        "",
        f"Produced by one run of `scripts/bench{' --quick' if mode.quick else ''}` ({results.started_at} to "
        f"{results.finished_at} UTC). How each figure is measured: "
        "[benchmark-method.md](benchmark-method.md).",
        "",
        "## Machine",
        "",
        _pairs(
            [
                *results.machine.items(),
                ("Load average (1/5/15 min) before / after", f"{results.load_before} / {results.load_after}"),
            ]
        ),
        "",
        "## Targets",
        "",
        table(["target", "measured", "result"], [list(row.values()) for row in targets]),
        "",
    ]
    misses = [row for row in targets if row["verdict"] == "MISS"]
    if misses:
        lines += ["### Missed targets", ""]
        for row in misses:
            explanation = next(
                (
                    text
                    for prefix, text in miss_explanations(results).items()
                    if row["target"].startswith(prefix)
                ),
                "**Not yet investigated.**",
            )
            lines += [f"- **{row['target']}**: measured {row['measured']}.", f"  - {explanation}", ""]
    if results.usage_inproc:
        lines += ["### Usage counting on vs off (issues 12 and 14)", "", usage_note(results), ""]
    for name in [n for n in SECTIONS if n not in results.sections_run or n in results.errors]:
        lines.append(f"- Not measured: {name}: {results.errors.get(name, 'not selected in this run')}")
    lines += ["", "## Results", ""]
    for title, body in result_sections(results):
        lines += [f"### {title}", "", body, ""]
    return "\n".join(lines).rstrip() + "\n"


def write_document(results: Results, mode: Mode) -> None:
    DOC_PATH.parent.mkdir(exist_ok=True)
    DOC_PATH.write_text(render_document(results, mode))
    say(f"Wrote {DOC_PATH.relative_to(ROOT)}")
