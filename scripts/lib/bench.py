"""The benchmark behind `scripts/bench`: one production server process, SQLite, one worker.

Measures, in one run:
  a/b. seeds a user, a profile and keys with the CLI; counts Last Used row writes with a SQLite trigger
  c.   wrk load on /api/v1/noop (the ceiling), and /api/v1/verify with a valid, an unknown and a
       malformed key, at several concurrencies
  d.   whether Last Used caught up after the load, and how many row writes the verifications caused
  g.   Chromium: click "Create API Key" until the secret is shown
  e.   the expiry job on a large temporary database (in process, with the server stopped)
  f.   the keys page query on temporary databases of 10,000 and 100,000 keys (in process)
then prints a table and (full run, or --write) writes docs/benchmarks.md.

The parts live next to this file: bench_common.py (constants, Mode, Results, the server and its
seed data), bench_http.py (wrk, verify and usage), bench_browser.py, bench_db.py (expiry and the
keys page query), bench_targets.py (targets and miss explanations) and bench_report.py (tables,
summary, docs/benchmarks.md); bench_reference.py and bench_usage.py as before.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scripts.lib.bench_baseline import bench_baseline
from scripts.lib.bench_browser import bench_browser
from scripts.lib.bench_common import (
    RESULTS_DIR,
    ROOT,
    SECTIONS,
    Mode,
    Results,
    Seed,
    Server,
    loadavg,
    machine_description,
    say,
    seed,
)
from scripts.lib.bench_db import (
    _in_process_environment,
    bench_expiry,
    bench_expiry_postgres,
    bench_list,
)
from scripts.lib.bench_http import bench_usage_inproc, bench_verify, bench_verify_postgres
from scripts.lib.bench_reference import pinning_note
from scripts.lib.bench_report import summary, write_document
from scripts.lib.bench_workers import bench_workers

# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs and small sizes (smoke test)")
    parser.add_argument("--write", action="store_true", help="write docs/benchmarks.md even with --quick")
    parser.add_argument("--render", metavar="JSON", help="re-render docs/benchmarks.md from saved results")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        default=os.environ.get("BENCH_POSTGRES_URL", ""),
        help="also measure verify and authorize on this PostgreSQL database (its schema is DROPPED)",
    )
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated subset of {','.join(SECTIONS)} (default: all)",
    )
    args = parser.parse_args(argv)
    sections = [part.strip() for part in args.only.split(",") if part.strip()]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    if args.render:
        saved = json.loads(Path(args.render).read_text())
        results = Results(**saved)
        mode = Mode(**{**saved["mode_settings"], "list_sizes": tuple(saved["mode_settings"]["list_sizes"])})
        print(summary(results, mode))
        write_document(results, mode)
        return 0
    mode = Mode.make(args.quick)
    results = Results(
        mode="quick" if mode.quick else "full",
        sections_run=sections,
        mode_settings=asdict(mode),
        load_before=loadavg(),
        started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    results.machine = {**machine_description(), "Pinning": pinning_note()}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks on SIGTERM too
    work_dir = Path(tempfile.mkdtemp(prefix="apikeys-bench-"))
    server: Server | None = None
    begun = time.perf_counter()

    def section(name: str, work) -> bool:
        """Run one part; a failure is reported (and makes the exit code 1) without losing the others."""
        started = time.perf_counter()
        try:
            work()
            return True
        except Exception as error:
            results.errors[name] = f"{type(error).__name__}: {' '.join(str(error).split())[:400]}"
            say(f"{name} failed: {results.errors[name]}")
            return False
        finally:
            results.timings[f"{name}_s"] = round(time.perf_counter() - started, 1)

    try:
        if "verify" in sections or "browser" in sections:
            server = Server(work_dir)
            seeded: list[Seed] = []

            def start_server() -> None:
                assert server is not None
                say("Migrating and seeding a fresh SQLite database")
                server.migrate()
                seeded.append(seed(server))
                say(f"Starting the console in production mode on port {server.port} (builds the frontend)")
                server.start()

            if section("server_start", start_server):
                if "verify" in sections:
                    section("verify", lambda: bench_verify(server, seeded[0], mode, results, work_dir))
                if "browser" in sections:
                    say("Chromium: create-to-secret")
                    section("browser", lambda: bench_browser(server, mode, results))
            else:
                for name in ("verify", "browser"):
                    if name in sections:
                        results.errors[name] = "the server did not start (see server_start)"
            say("Stopping the console")
            server.stop()
            if "verify" in sections:
                section("workers", lambda: bench_workers(mode, results, work_dir))
                section("baseline", lambda: bench_baseline(mode, results, work_dir))
            if "verify" in sections and args.postgres:
                section("verify_pg", lambda: bench_verify_postgres(args.postgres, mode, results, work_dir))
        if "usage" in sections:
            section("usage", lambda: bench_usage_inproc(mode, results, work_dir))
        if "expiry" in sections or "list" in sections:
            _in_process_environment(work_dir)
        if "expiry" in sections:
            section("expiry", lambda: bench_expiry(mode, results, work_dir))
            if args.postgres:
                section("expiry_pg", lambda: bench_expiry_postgres(args.postgres, mode, results))
        if "list" in sections:
            section("list", lambda: bench_list(mode, results, work_dir))
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work_dir, ignore_errors=True)
    results.timings["total_s"] = round(time.perf_counter() - begun, 1)
    results.load_after = loadavg()
    results.finished_at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")
    print(summary(results, mode))
    print(f"\nPhase timings (s): {results.timings}")
    RESULTS_DIR.mkdir(exist_ok=True)
    saved_path = RESULTS_DIR / f"results-{results.mode}.json"
    saved_path.write_text(json.dumps(asdict(results), indent=2, default=str))
    shown = saved_path.relative_to(ROOT)
    say(f"Raw results: {shown} (re-render the page with `scripts/bench --render {shown}`)")
    if args.write or (not mode.quick and set(sections) == set(SECTIONS)):
        write_document(results, mode)
    elif not mode.quick:
        say("Partial run (--only): docs/benchmarks.md left unchanged (use --write to overwrite it)")
    return 1 if results.errors else 0


if __name__ == "__main__":
    sys.exit(main())
