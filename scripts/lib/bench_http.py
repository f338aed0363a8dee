"""The benchmark's HTTP load (sections verify and usage): wrk against the console and the bare
reference, the interleaved ratio rounds, the usage on/off pair and the in-process usage rounds."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sqlite3
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from scripts.lib.bench_common import (
    CONCURRENCIES,
    PG_TARGETS,
    PROFILE,
    RESULTS_DIR,
    TARGETS,
    Mode,
    Results,
    Seed,
    Server,
    api_console,
    say,
    seed,
)
from scripts.lib.bench_reference import (
    LOAD_CORE,
    SERVER_CORE,
    ReferenceServer,
    pinned,
    pinning_note,
    server_cpu_seconds,
)

# ---------------------------------------------------------------- b. the write counter


WRITE_COUNTER_SQL = """
CREATE TABLE IF NOT EXISTS bench_writes (
    id INTEGER PRIMARY KEY,
    key_row_id INTEGER NOT NULL,
    old_last_used TEXT,
    new_last_used TEXT,
    written_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);
CREATE TRIGGER IF NOT EXISTS bench_count_last_used_writes
AFTER UPDATE OF last_used_at ON api_keys
BEGIN
    INSERT INTO bench_writes (key_row_id, old_last_used, new_last_used)
    VALUES (NEW.id, OLD.last_used_at, NEW.last_used_at);
END;
"""


def install_write_counter(db_path: Path) -> None:
    connection = sqlite3.connect(db_path, timeout=10)
    try:
        connection.executescript(WRITE_COUNTER_SQL)
        connection.commit()
    finally:
        connection.close()


# ---------------------------------------------------------------- c. wrk


LUA_TEMPLATE = """wrk.method = "{method}"
wrk.body = ""
wrk.headers["Authorization"] = "Bearer {secret}"
"""

_UNITS_TO_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def to_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if not match:
        raise ValueError(f"unexpected wrk time {text!r}")
    return float(match.group(1)) * _UNITS_TO_MS[match.group(2)]


def parse_wrk(output: str) -> dict[str, Any]:
    def grab(pattern: str) -> re.Match[str]:
        match = re.search(pattern, output, re.MULTILINE)
        if not match:
            raise ValueError(f"could not find {pattern!r} in wrk output:\n{output}")
        return match

    parsed: dict[str, Any] = {
        "rps": float(grab(r"^Requests/sec:\s+([\d.]+)").group(1)),
        "p50_ms": to_ms(grab(r"^\s+50%\s+(\S+)").group(1)),
        "p99_ms": to_ms(grab(r"^\s+99%\s+(\S+)").group(1)),
        "requests": int(grab(r"^\s+(\d+) requests in ([\d.]+\w+)").group(1)),
        "elapsed_s": to_ms(grab(r"^\s+(\d+) requests in ([\d.]+\w+)").group(2)) / 1000,
        "non_2xx": 0,
        "socket_errors": 0,
    }
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if non_2xx:
        parsed["non_2xx"] = int(non_2xx.group(1))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if errors:
        parsed["socket_errors"] = sum(int(part) for part in errors.groups())
    return parsed


def run_wrk(
    url: str, script: Path, concurrency: int, seconds: int, pin: bool = True
) -> tuple[dict[str, Any], str]:
    threads = min(concurrency, 2)
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{concurrency}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    port = int(url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
    cpu_before = server_cpu_seconds(port)
    result = subprocess.run(
        pinned(command, LOAD_CORE) if pin else command,
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=False,
    )
    cpu_after = server_cpu_seconds(port)
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stderr}")
    parsed = parse_wrk(result.stdout)
    if cpu_before is not None and cpu_after is not None and parsed["requests"]:
        # requests still in flight when wrk stops are served but not counted: a slight overestimate
        parsed["cpu_us_per_request"] = (cpu_after - cpu_before) / parsed["requests"] * 1e6
    return parsed, result.stdout


def _program_answer(credits: bool, limits: list[str]) -> Any:
    """A valid answer that carries credits (an int) exactly when `credits`, and these named limits."""
    return lambda body: (
        body.get("valid") is True
        and ("credits" in body) == credits
        and (not credits or isinstance(body["credits"], int))
        and [limit["name"] for limit in body.get("ratelimits", [])] == limits
    )


def check_responses(server: Server, keys: Seed, targets: tuple[str, ...] = TARGETS) -> dict[str, str]:
    """Each target answers what it should before we load it (a fast wrong answer is not a result)."""
    expectations = {
        "noop": ("noop", keys.valid, lambda body: body.get("code") == "NOOP"),
        "valid": (
            "verify",
            keys.valid,
            lambda body: (
                body.get("valid") is True and (body.get("bias_profile") or {}).get("name") == PROFILE
            ),
        ),
        "unknown": ("verify", keys.unknown, lambda body: body == {"valid": False, "code": "NOT_FOUND"}),
        "malformed": ("verify", keys.malformed, lambda body: body == {"valid": False, "code": "MALFORMED"}),
        "programmed": ("verify", keys.programmed, _program_answer(credits=True, limits=["requests"])),
        "credits": ("verify", keys.credits, _program_answer(credits=True, limits=[])),
        "limit": ("verify", keys.limit, _program_answer(credits=False, limits=["requests"])),
    }
    checks = {}
    if "authorize" in targets:
        checks["authorize"] = _check_authorize(server, keys)
    for target in targets:
        if target == "authorize":
            continue
        path, secret, ok = expectations[target]
        response = httpx.post(
            f"{server.base_url}/api/v1/{path}", headers={"Authorization": f"Bearer {secret}"}, timeout=10
        )
        body = response.json()
        if response.status_code != 200 or not ok(body):
            raise RuntimeError(f"{target}: unexpected answer {response.status_code} {body}")
        checks[target] = f"{response.status_code} {json.dumps(body, sort_keys=True)[:400]}"
    return checks


def _check_authorize(server: Server, keys: Seed) -> str:
    response = httpx.get(
        f"{server.base_url}/api/v1/authorize", headers={"Authorization": f"Bearer {keys.valid}"}, timeout=10
    )
    if response.status_code != 200 or not response.headers.get("x-key-id", "").startswith("key_"):
        raise RuntimeError(f"authorize: unexpected answer {response.status_code} {response.headers}")
    return f"200 X-Key-Id: {response.headers['x-key-id']}"


RATIO_ROUNDS = {True: (2, 1), False: (5, 2)}  # quick/full: (rounds, seconds per run)


def interleaved_rounds(
    urls: dict[str, str], scripts: dict[str, Path], targets: tuple[str, ...], mode: Mode, results: Results
) -> None:
    """The ratio targets compare runs made seconds apart, in turn (bare, verify, authorize, bare, …):
    a machine shared with other work drifts over minutes, so medians of alternating short runs
    compare like with like where one long run per target would not."""
    rounds, seconds = RATIO_ROUNDS[mode.quick]
    for number in range(rounds):
        for target in targets:
            say(f"interleaved round {number + 1}/{rounds}: {target} at concurrency 16 for {seconds}s")
            parsed, _ = run_wrk(urls[target], scripts[target], 16, seconds)
            ended_at = dt.datetime.now(dt.UTC).isoformat()
            results.rounds.append({"target": target, "round": number, "ended_at": ended_at, **parsed})


def load_scripts(
    server: Server, keys: Seed, targets: tuple[str, ...], work_dir: Path, suffix: str = ""
) -> tuple[dict[str, Path], dict[str, str]]:
    """One wrk script and URL per target (authorize is a GET, as gateways send; the rest POST)."""
    scripts, urls = {}, {}
    paths = {"noop": "noop", "authorize": "authorize"}
    for target in targets:
        secret = keys.valid if target in ("noop", "authorize") else getattr(keys, target)
        method = "GET" if target == "authorize" else "POST"
        scripts[target] = work_dir / f"{target}{suffix}.lua"
        scripts[target].write_text(LUA_TEMPLATE.format(secret=secret, method=method))
        urls[target] = f"{server.base_url}/api/v1/{paths.get(target, 'verify')}"
    return scripts, urls


def bench_verify_postgres(postgres_url: str, mode: Mode, results: Results, work_dir: Path) -> None:
    """Valid-key verify and authorize on PostgreSQL (one worker, no Redis), next to the bare reference."""
    import sqlalchemy as sa

    engine = sa.create_engine(postgres_url)
    with engine.begin() as connection:  # a fresh schema: the benchmark owns this database
        connection.execute(sa.text("DROP SCHEMA public CASCADE"))
        connection.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    pg_dir = work_dir / "postgres"
    pg_dir.mkdir()
    redis_url = os.environ.get("BENCH_REDIS_URL", "")
    server = Server(
        pg_dir, database_url=postgres_url, extra_env={"REDIS_URL": redis_url} if redis_url else None
    )
    try:
        say("PostgreSQL: migrating, seeding and starting a second console")
        server.migrate()
        keys = seed(server, split_programmed=True)
        server.start()
        for target, seen in check_responses(server, keys, PG_TARGETS).items():
            results.checks[f"{target} on PostgreSQL"] = seen
        scripts, urls = load_scripts(server, keys, PG_TARGETS, work_dir, suffix="-pg")
        reference = ReferenceServer(work_dir / "reference-pg.log")
        reference.start()
        scripts["bare"], urls["bare"] = work_dir / "bare-pg.lua", reference.url
        scripts["bare"].write_text(LUA_TEMPLATE.format(secret=keys.valid, method="POST"))
        try:
            for target in ("bare", *PG_TARGETS):
                if mode.warmup_seconds:
                    run_wrk(urls[target], scripts[target], 16, mode.warmup_seconds)
                say(f"wrk {target} on PostgreSQL at concurrency 16 for {mode.wrk_seconds}s")
                parsed, _ = run_wrk(urls[target], scripts[target], 16, mode.wrk_seconds)
                results.wrk.append({"target": f"{target}-pg", "concurrency": 16, **parsed})
            pg_urls = {f"{target}-pg": urls[target] for target in ("bare", *PG_TARGETS)}
            pg_scripts = {f"{target}-pg": scripts[target] for target in ("bare", *PG_TARGETS)}
            interleaved_rounds(pg_urls, pg_scripts, tuple(pg_urls), mode, results)
        finally:
            reference.stop()
    finally:
        server.stop()


def _usage_counted(db_path: Path) -> int:
    with sqlite3.connect(db_path, timeout=10) as connection:
        return connection.execute("SELECT coalesce(sum(valid), 0) FROM key_usage_hours").fetchone()[0]


def start_usage_pair(work_dir: Path) -> dict[str, tuple[Server, Seed]]:
    """Two more consoles, API only and identical but for usage counting (APIKEYS_BENCH_USAGE_OFF=1
    on one): verify against each, in turn, is what counting costs (issue 12)."""
    pair = {}
    for name, flag in (("usage-on", "0"), ("usage-off", "1")):
        say(f"Starting a console (API only) with {name.replace('-', ' counting ')}")
        pair[name] = api_console(work_dir / name, {"APIKEYS_BENCH_USAGE_OFF": flag})
    return pair


def alternate(
    urls: dict[str, str],
    scripts: dict[str, Path],
    concurrency: int,
    rounds: int,
    seconds: int,
    unpinned: str = "",
) -> dict[str, dict[str, Any]]:
    """wrk against each console in turn, `rounds` times (drift over minutes cancels out); the
    medians per console. wrk is pinned to its core except against `unpinned` (two workers)."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in urls}
    for number in range(rounds):
        for name in urls:
            say(f"round {number + 1}/{rounds}: {name}, {concurrency} connections, {seconds}s")
            parsed, _ = run_wrk(urls[name], scripts[name], concurrency, seconds, pin=name != unpinned)
            runs[name].append(parsed)
    return {
        name: {
            "rps": statistics.median(run["rps"] for run in done),
            "cpu_us_per_request": statistics.median(run.get("cpu_us_per_request") or 0 for run in done),
            "p99_ms": statistics.median(run["p99_ms"] for run in done),
            "rounds": len(done),
        }
        for name, done in runs.items()
    }


USAGE_ROUNDS = {True: (20, 1_000), False: (150, 2_000)}  # quick/full: (pairs of rounds, calls per round)


def bench_usage_inproc(mode: Mode, results: Results, work_dir: Path) -> None:
    """Usage counting on vs off in process (scripts/lib/bench_usage.py), on a database migrated and
    seeded by the CLI like the consoles'; the environment is restored afterwards."""
    from rxapp.context import app_context
    from rxapp.db import get_engine
    from scripts.lib.bench_usage import measure

    directory = work_dir / "usage-inproc"
    directory.mkdir()
    server = Server(directory)
    say("In process: migrating and seeding a database for the usage on/off rounds")
    server.migrate()
    keys = seed(server)
    saved = dict(os.environ)
    names = ("APIKEYS_DATA_DIR", "DATABASE_URL", "APIKEYS_PEPPER", "APIKEYS_ENV", "APIKEYS_VERIFY_RATE_LIMIT")
    os.environ.update({name: server.env[name] for name in names})
    app_context.reset()
    get_engine.cache_clear()  # built from the settings just set, disposed below
    try:
        rounds, calls = USAGE_ROUNDS[mode.quick]
        say(f"In process: {rounds} pairs of rounds of {calls:,} verify calls, usage counting on/off")
        results.usage_inproc = measure(keys.valid, rounds, calls, core=SERVER_CORE)
    finally:
        get_engine().dispose()
        get_engine.cache_clear()
        os.environ.clear()
        os.environ.update(saved)
        app_context.reset()


def bench_verify(server: Server, keys: Seed, mode: Mode, results: Results, work_dir: Path) -> None:
    say("Installing the Last Used write counter (SQLite trigger)")
    install_write_counter(server.db_path)
    say("Checking each target's answer")
    results.checks = check_responses(server, keys)
    valid_verifications = 2  # the checks above
    scripts, urls = load_scripts(server, keys, TARGETS, work_dir)
    pair = start_usage_pair(work_dir)
    for name, (other, other_keys) in pair.items():
        results.checks[f"valid, API-only console, {name}"] = check_responses(other, other_keys)["valid"]
        more_scripts, more_urls = load_scripts(other, other_keys, ("valid",), work_dir, suffix=f"-{name}")
        scripts[f"valid-{name}"], urls[f"valid-{name}"] = more_scripts["valid"], more_urls["valid"]
    reference = ReferenceServer(work_dir / "reference.log")
    say(f"Starting the bare Starlette reference on Granian ({pinning_note()})")
    reference.start()
    scripts["bare"], urls["bare"] = scripts["noop"], reference.url
    raw_log = []
    if mode.warmup_seconds:
        say("Warming up (not reported)")
        for target in TARGETS:
            parsed, output = run_wrk(urls[target], scripts[target], 16, mode.warmup_seconds)
            raw_log.append(f"### warm-up {target} c=16\n{output}")
            if target in ("valid", "authorize"):
                valid_verifications += parsed["requests"]
    last_valid_end: dt.datetime | None = None
    try:
        for concurrency in CONCURRENCIES:
            for target in ("bare", *TARGETS):
                say(f"wrk {target} at concurrency {concurrency} for {mode.wrk_seconds}s")
                parsed, output = run_wrk(urls[target], scripts[target], concurrency, mode.wrk_seconds)
                raw_log.append(f"### {target} c={concurrency}\n{output}")
                results.wrk.append({"target": target, "concurrency": concurrency, **parsed})
                if target in ("valid", "authorize"):  # both use the valid key: both feed Last Used
                    valid_verifications += parsed["requests"]
                    last_valid_end = dt.datetime.now(dt.UTC)
        before = len(results.rounds)
        ratio_targets = ("bare", "valid", "authorize", "programmed", "valid-usage-on", "valid-usage-off")
        interleaved_rounds(urls, scripts, ratio_targets, mode, results)
        main_runs = [run for run in results.rounds[before:] if run["target"] in ("valid", "authorize")]
        valid_verifications += sum(run["requests"] for run in main_runs)
        # the last run that used this console's key (the usage pair's runs come after it)
        last_valid_end = dt.datetime.fromisoformat(main_runs[-1]["ended_at"])
    finally:
        reference.stop()
        for other, _ in pair.values():
            other.stop()
    (work_dir / "wrk.log").write_text("\n".join(raw_log))
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "wrk-raw.txt").write_text("\n".join(raw_log))

    say("Waiting 2 s for the Last Used flush")
    time.sleep(2)
    assert last_valid_end is not None
    with sqlite3.connect(server.db_path, timeout=10) as connection:
        (last_used,) = connection.execute(
            "SELECT last_used_at FROM api_keys WHERE id = ?", (keys.valid_row_id,)
        ).fetchone()
        writes_valid = connection.execute(
            "SELECT count(*) FROM bench_writes WHERE key_row_id = ?", (keys.valid_row_id,)
        ).fetchone()[0]
        writes_all = connection.execute("SELECT count(*) FROM bench_writes").fetchone()[0]
    counted_on, counted_off = (  # stopped: their last flush is done
        _usage_counted(pair["usage-on"][0].db_path),
        _usage_counted(pair["usage-off"][0].db_path),
    )
    results.checks["usage counted (valid calls), counting on / off"] = f"{counted_on:,} / {counted_off:,}"
    if counted_off or not counted_on:
        raise RuntimeError(f"usage counting switch not effective: on {counted_on}, off {counted_off}")
    lag = None
    if last_used:
        parsed_last_used = dt.datetime.fromisoformat(last_used)
        if parsed_last_used.tzinfo is None:
            parsed_last_used = parsed_last_used.replace(tzinfo=dt.UTC)
        lag = (parsed_last_used - last_valid_end).total_seconds()
    valid_seconds = sum(run["elapsed_s"] for run in results.wrk if run["target"] == "valid")
    results.last_used = {
        "last_used_at": last_used,
        "last_valid_run_end": last_valid_end.isoformat(),
        "last_used_minus_run_end_s": lag,
        "valid_verifications": valid_verifications,
        "valid_load_seconds": round(valid_seconds + mode.warmup_seconds, 2),
        "row_writes_valid_key": writes_valid,
        "row_writes_all_keys": writes_all,
        "note": "verifications = wrk's completed requests + 1 correctness check; requests still in flight "
        "when wrk stops (at most the concurrency, per run) are still served but not counted, which is also "
        "why Last Used can be slightly later than the moment wrk ended",
    }
