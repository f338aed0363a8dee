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
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import random
import re
import secrets
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from scripts.lib.bench_reference import (  # noqa: E402
    LOAD_CORE,
    SERVER_CORE,
    SERVER_GROUPS,
    ReferenceServer,
    pinned,
    pinning_note,
    server_cpu_seconds,
)
from scripts.lib.bench_usage import section_rows as usage_section_rows  # noqa: E402
from scripts.lib.bench_usage import target_row as usage_target_row  # noqa: E402
from tests import harness  # noqa: E402
from tests.harness import free_port  # noqa: E402

DOC_PATH = ROOT / "docs" / "benchmarks.md"
RESULTS_DIR = ROOT / "bench-results"
PASSWORD = "bench-password-not-secret-42"
EMAIL = "bench@example.com"
PROFILE = "bench-profile"
SECTIONS = ("verify", "usage", "browser", "expiry", "list")
TARGETS = ("noop", "valid", "authorize", "unknown", "malformed")
PG_TARGETS = ("valid", "authorize")  # on PostgreSQL (--postgres), next to the same bare reference
CONCURRENCIES = (1, 16, 64)


def say(message: str) -> None:
    print(f"\033[1;34m==>\033[0m {message}", file=sys.stderr, flush=True)


@dataclass
class Mode:
    quick: bool
    wrk_seconds: int
    warmup_seconds: int
    expiry_rows: int
    expiry_due: int
    list_sizes: tuple[int, ...]
    list_runs: int
    browser_creations: int

    @classmethod
    def make(cls, quick: bool) -> Mode:
        if quick:
            return cls(True, 1, 0, 100_000, 10_000, (1_000, 10_000), 5, 5)
        return cls(False, 5, 1, 1_000_000, 100_000, (10_000, 100_000), 20, 20)


@dataclass
class Results:
    started_at: str = ""
    finished_at: str = ""
    mode: str = ""
    machine: dict[str, str] = field(default_factory=dict)
    load_before: str = ""
    load_after: str = ""
    sections_run: list[str] = field(default_factory=list)
    mode_settings: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    wrk: list[dict[str, Any]] = field(default_factory=list)
    checks: dict[str, str] = field(default_factory=dict)
    last_used: dict[str, Any] = field(default_factory=dict)
    browser: dict[str, Any] = field(default_factory=dict)
    expiry: dict[str, Any] = field(default_factory=dict)
    expiry_pg: dict[str, Any] = field(default_factory=dict)
    list_query: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    rounds: list[dict[str, Any]] = field(default_factory=list)  # interleaved ratio runs (c=16)
    usage_inproc: dict[str, Any] = field(default_factory=dict)  # bench_usage.py: CPU per verify call


# ---------------------------------------------------------------- helpers


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (no interpolation): p95 of 20 runs is the 19th smallest."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.4999)))
    return ordered[rank - 1]


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def machine_description() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    os_name = platform.system()
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    except OSError:
        pass

    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "not installed"

    wrk_version = "unknown"
    if shutil.which("wrk"):
        probe = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
        wrk_version = (
            (probe.stdout or probe.stderr).splitlines()[0].split(" [")[0]
            if (probe.stdout or probe.stderr)
            else "unknown"
        )
    return {
        "CPU": cpu,
        "Cores (logical)": str(os.cpu_count()),
        "RAM": ram,
        "OS": f"{os_name} (kernel {platform.release()})",
        "Python": platform.python_version(),
        "SQLite": sqlite3.sqlite_version,
        "Reflex": version("reflex"),
        "Granian": version("granian"),
        "SQLAlchemy": version("SQLAlchemy"),
        "wrk": wrk_version,
    }


# ---------------------------------------------------------------- the server


class Server:
    """The console as the tests boot it (tests/harness.py), with the benchmark's environment, pinned
    to the server core; `backend_only` serves the API without building the frontend again."""

    def __init__(
        self,
        work_dir: Path,
        database_url: str | None = None,
        extra_env: dict[str, str] | None = None,
        backend_only: bool = False,
    ) -> None:
        self.data_dir = work_dir / "data"
        self.data_dir.mkdir()
        self.port = free_port()
        self.db_path = self.data_dir / "console.db"
        self.log_path = work_dir / "console.log"
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.browser_url = f"http://localhost:{self.port}"
        self.backend_only = backend_only
        self.process: subprocess.Popen | None = None
        self.env = {
            **os.environ,
            "APIKEYS_DATA_DIR": str(self.data_dir),
            "DATABASE_URL": database_url or f"sqlite:///{self.db_path}",
            "APIKEYS_PEPPER": secrets.token_urlsafe(48),
            "APIKEYS_ALLOWED_ORIGINS": f"http://localhost:{self.port},http://127.0.0.1:{self.port}",
            "APIKEYS_ENV": "production",
            "APIKEYS_VERIFY_RATE_LIMIT": "0",
            "APIKEYS_BENCH_NOOP": "1",  # the ceiling route, served only for the benchmark
            "GRANIAN_WORKERS": "1",
            "REFLEX_TELEMETRY_ENABLED": "false",
            "REFLEX_CHECK_LATEST_VERSION": "false",
            "REFLEX_USE_NPM": "1",
            **(extra_env or {}),
        }
        self.env.pop("REDIS_URL", None)

    def cli(self, *args: str, input_text: str | None = None) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "rxapp", *args],
            cwd=ROOT,
            env=self.env,
            input=input_text,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"rxapp {args[0]} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
        return result.stdout

    def migrate(self) -> None:
        harness.migrate(self.env)

    def start(self) -> None:
        self.process = harness.start_console(
            self.env, self.port, self.log_path, prefix=pinned([], SERVER_CORE), backend_only=self.backend_only
        )
        SERVER_GROUPS[self.port] = self.process.pid

    def stop(self) -> None:
        if self.process is not None:
            process, self.process = self.process, None
            harness.stop_console(process)


# ---------------------------------------------------------------- a/b. seed data and the write counter


@dataclass
class Seed:
    valid: str
    unknown: str
    malformed: str
    valid_row_id: int


def seed(server: Server) -> Seed:
    from rxapp.services import key_format

    server.cli("create-user", EMAIL, input_text=PASSWORD + "\n")
    server.cli(
        "create-profile",
        EMAIL,
        PROFILE,
        "--categories",
        "gender,age",
        "--sensitivity",
        "0.7",
        "--action",
        "flag",
        "--description",
        "benchmark profile",
    )
    valid = server.cli("create-key", EMAIL, "bench-valid", "--profile", PROFILE).strip()
    assert valid.startswith("bpk_"), "create-key must print only the secret"
    unknown = key_format.generate_secret("bpk")
    # Right length and alphabet, wrong checksum: rejected after the full format check, before the database.
    malformed = unknown[:-1] + ("A" if unknown[-1] != "A" else "B")
    assert not key_format.is_well_formed(malformed, "bpk")
    import sqlalchemy as sa

    engine = sa.create_engine(server.env["DATABASE_URL"])
    with engine.connect() as connection:
        query = sa.text("SELECT id FROM api_keys WHERE name = 'bench-valid'")
        row_id = connection.execute(query).scalar_one()
    engine.dispose()
    return Seed(valid=valid, unknown=unknown, malformed=malformed, valid_row_id=row_id)


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


def run_wrk(url: str, script: Path, concurrency: int, seconds: int) -> tuple[dict[str, Any], str]:
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
        pinned(command, LOAD_CORE), capture_output=True, text=True, timeout=seconds + 30, check=False
    )
    cpu_after = server_cpu_seconds(port)
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stderr}")
    parsed = parse_wrk(result.stdout)
    if cpu_before is not None and cpu_after is not None and parsed["requests"]:
        # requests still in flight when wrk stops are served but not counted: a slight overestimate
        parsed["cpu_us_per_request"] = (cpu_after - cpu_before) / parsed["requests"] * 1e6
    return parsed, result.stdout


def check_responses(server: Server, keys: Seed) -> dict[str, str]:
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
    }
    checks = {}
    response = httpx.get(
        f"{server.base_url}/api/v1/authorize", headers={"Authorization": f"Bearer {keys.valid}"}, timeout=10
    )
    if response.status_code != 200 or not response.headers.get("x-key-id", "").startswith("key_"):
        raise RuntimeError(f"authorize: unexpected answer {response.status_code} {response.headers}")
    checks["authorize"] = f"200 X-Key-Id: {response.headers['x-key-id']}"
    for target, (path, secret, ok) in expectations.items():
        response = httpx.post(
            f"{server.base_url}/api/v1/{path}", headers={"Authorization": f"Bearer {secret}"}, timeout=10
        )
        body = response.json()
        if response.status_code != 200 or not ok(body):
            raise RuntimeError(f"{target}: unexpected answer {response.status_code} {body}")
        checks[target] = f"{response.status_code} {json.dumps(body, sort_keys=True)[:400]}"
    return checks


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


def round_median(results: Results, target: str, key: str) -> float | None:
    values = [run[key] for run in results.rounds if run["target"] == target and run.get(key) is not None]
    return statistics.median(values) if values else None


def load_scripts(
    server: Server, keys: Seed, targets: tuple[str, ...], work_dir: Path, suffix: str = ""
) -> tuple[dict[str, Path], dict[str, str]]:
    """One wrk script and URL per target (authorize is a GET, as gateways send; the rest POST)."""
    scripts, urls = {}, {}
    paths = {"noop": "noop", "authorize": "authorize"}
    for target in targets:
        secret = {"malformed": keys.malformed, "unknown": keys.unknown}.get(target, keys.valid)
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
    server = Server(pg_dir, database_url=postgres_url)
    try:
        say("PostgreSQL: migrating, seeding and starting a second console")
        server.migrate()
        keys = seed(server)
        server.start()
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
            interleaved_rounds(pg_urls, pg_scripts, ("bare-pg", "valid-pg", "authorize-pg"), mode, results)
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
        directory = work_dir / name
        directory.mkdir()
        server = Server(directory, extra_env={"APIKEYS_BENCH_USAGE_OFF": flag}, backend_only=True)
        say(f"Starting a console (API only) with {name.replace('-', ' counting ')}")
        server.migrate()
        keys = seed(server)
        server.start()
        pair[name] = (server, keys)
    return pair


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
        ratio_targets = ("bare", "valid", "authorize", "valid-usage-on", "valid-usage-off")
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


# ---------------------------------------------------------------- g. the browser


# In the page: when the click reached the Create button, when the create event left on the
# websocket (socket.io text frame naming `submit_form`), when the first frame carrying the secret
# arrived; `shown` is set by the wait below. All on the page's own clock.
PHASE_PROBE = """
window.__bench = {};
document.addEventListener('click', (event) => {
  if (event.target.closest && event.target.closest('#create-submit'))
    window.__bench.clicked = performance.now();
}, true);
const NativeWebSocket = window.WebSocket;
window.WebSocket = class extends NativeWebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener('message', (event) => {
      if (typeof event.data === 'string' && event.data.includes('bpk_') && window.__bench.sent
          && !window.__bench.received) window.__bench.received = performance.now();
    });
  }
  send(data) {
    if (typeof data === 'string' && data.includes('submit_form') && !window.__bench.sent)
      window.__bench.sent = performance.now();
    return super.send(data);
  }
};
"""


def bench_browser(server: Server, mode: Mode, results: Results) -> None:
    from playwright.sync_api import sync_playwright

    launch: dict[str, Any] = {
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }
    chromium = os.environ.get("CHROMIUM_PATH") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else ""
    )
    if chromium:
        launch["executable_path"] = chromium
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**launch)
        try:
            context = browser.new_context(
                permissions=["clipboard-read", "clipboard-write"], viewport={"width": 1400, "height": 900}
            )
            context.add_init_script(PHASE_PROBE)
            page = context.new_page()
            page.set_default_timeout(30_000)
            email = f"web-{secrets.token_hex(6)}@example.com"
            page.goto(f"{server.browser_url}/sign-up")
            page.fill("#sign-up-email", email)
            page.fill("#sign-up-password", PASSWORD)
            page.fill("#sign-up-confirm", PASSWORD)
            page.click("#sign-up-submit")
            page.wait_for_url(re.compile(r".*/keys/?$"))
            page.wait_for_selector("#create-key-button")
            timings = []
            phases: dict[str, list[float]] = {
                "click → event sent": [],
                "event sent → secret received": [],
                "secret received → shown": [],
            }
            in_page: list[float] = []  # click to secret shown, on the page's own clock
            warmup_ms = None
            for iteration in range(mode.browser_creations + 1):
                page.click("#create-key-button")
                page.wait_for_selector("#create-name")
                page.fill("#create-name", f"browser-key-{iteration}")
                started = time.perf_counter()
                page.click("#create-submit")
                page.wait_for_function(
                    "() => { const input = document.querySelector('#new-key-secret');"
                    " const shown = !!input && input.value.startsWith('bpk_');"
                    " if (shown && !window.__bench.shown) window.__bench.shown = performance.now();"
                    " return shown; }",
                    timeout=15_000,
                )
                elapsed_ms = (time.perf_counter() - started) * 1000
                marks = page.evaluate("() => { const m = window.__bench; window.__bench = {}; return m; }")
                if iteration == 0:
                    warmup_ms = elapsed_ms
                else:
                    timings.append(elapsed_ms)
                    if all(marks.get(name) for name in ("clicked", "sent", "received", "shown")):
                        phases["click → event sent"].append(marks["sent"] - marks["clicked"])
                        phases["event sent → secret received"].append(marks["received"] - marks["sent"])
                        phases["secret received → shown"].append(marks["shown"] - marks["received"])
                        in_page.append(marks["shown"] - marks["clicked"])
                page.click("#copy-new-key")
                page.click("#create-done")
                try:
                    page.wait_for_selector("#new-key-secret", state="hidden", timeout=5_000)
                except Exception:
                    if page.locator("#discard-confirm").is_visible():  # the copy did not register
                        page.click("#discard-confirm")
                    page.wait_for_selector("#new-key-secret", state="hidden", timeout=10_000)
            results.browser = {
                "chromium": browser.version,
                "creations": len(timings),
                "warmup_ms": round(warmup_ms or 0, 1),
                "p50_ms": round(statistics.median(timings), 1),
                "p95_ms": round(percentile(timings, 0.95), 1),
                "max_ms": round(max(timings), 1),
                "all_ms": [round(value, 1) for value in timings],
                # in-page clock (performance.now): where the time goes, median of each phase
                "phases_median_ms": {name: round(statistics.median(v), 1) for name, v in phases.items() if v},
                "in_page_p50_ms": round(statistics.median(in_page), 1) if in_page else None,
                "in_page_p95_ms": round(percentile(in_page, 0.95), 1) if in_page else None,
            }
        finally:
            browser.close()


# ---------------------------------------------------------------- e/f. in-process database work


def _in_process_environment(work_dir: Path) -> None:
    """The service layer reads settings lazily; point them at a throwaway directory, never at data/."""
    os.environ["APIKEYS_DATA_DIR"] = str(work_dir / "inproc")
    os.environ["DATABASE_URL"] = f"sqlite:///{work_dir / 'inproc' / 'unused.db'}"
    os.environ.setdefault("APIKEYS_PEPPER", secrets.token_urlsafe(48))
    os.environ.pop("APIKEYS_ENV", None)
    from rxapp.context import app_context

    app_context.reset()


def _sqlite_timestamps(values: list[dt.datetime]) -> list[str]:
    """Format datetimes exactly as SQLAlchemy stores them in SQLite, so queries compare correctly."""
    import sqlalchemy as sa
    from sqlalchemy.dialects import sqlite

    dialect = sqlite.dialect()
    process = sa.DateTime().dialect_impl(dialect).bind_processor(dialect)
    assert process is not None
    return [process(value) for value in values]


def _new_database(path: Path):
    from sqlmodel import SQLModel

    import rxapp.models  # noqa: F401 - registers the tables
    from rxapp.db import make_engine

    engine = make_engine(f"sqlite:///{path}")
    SQLModel.metadata.create_all(engine)
    return engine


def _bulk_connection(path: Path) -> sqlite3.Connection:
    """Setup only (not measured): no journal, no fsync and a large page cache while loading rows.

    The timed work opens the file again through rxapp.db.make_engine (WAL, synchronous=FULL).
    """
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=OFF")
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute("PRAGMA cache_size=-1048576")  # 1 GiB: the random-order digest index stays cached
    connection.execute("PRAGMA foreign_keys=ON")
    return connection


def _insert_users_and_profiles(
    connection: sqlite3.Connection, users: int, profiles_per_user: int, stamp: str
) -> tuple[list[int], dict[int, list[int]]]:
    user_ids = []
    profiles: dict[int, list[int]] = {}
    for number in range(users):
        cursor = connection.execute(
            "INSERT INTO users (email, password_hash, created_at) VALUES (?, ?, ?)",
            (f"owner{number}@example.com", "$argon2id$v=19$m=65536,t=3,p=4$not-a-real-hash", stamp),
        )
        user_id = cursor.lastrowid
        assert user_id is not None
        # a personal workspace with the user's own id, so rows below can use one id for both
        connection.execute(
            "INSERT INTO workspaces (id, public_id, name, personal, created_at)"
            " VALUES (?, ?, 'Personal', 1, ?)",
            (user_id, f"ws_bench{user_id:012d}", stamp),
        )
        connection.execute(
            "INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES (?, ?, 'owner', ?)",
            (user_id, user_id, stamp),
        )
        user_ids.append(user_id)
        profiles[user_id] = []
        for index in range(profiles_per_user):
            cursor = connection.execute(
                "INSERT INTO bias_profiles (owner_id, workspace_id, name, description, categories, "
                "sensitivity, action, created_at, updated_at, version)"
                " VALUES (?1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1)",
                (
                    user_id,
                    f"profile-{index}",
                    "generated",
                    json.dumps(["gender", "age"]),
                    0.5,
                    "flag",
                    stamp,
                    stamp,
                ),
            )
            assert cursor.lastrowid is not None
            profiles[user_id].append(cursor.lastrowid)
    return user_ids, profiles


_INSERT_KEY = (
    "INSERT INTO api_keys (key_id, owner_id, workspace_id, name, digest, masked, status, expires_at, "
    "last_used_at, bias_profile_id, created_at, updated_at, version) "
    "VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 1)"
)
SERVICES = (
    "checkout",
    "billing",
    "search",
    "mobile-app",
    "analytics",
    "crm",
    "warehouse",
    "support-bot",
    "recommendations",
    "payments",
    "email",
    "reporting",
)
ENVIRONMENTS = ("production", "staging", "dev", "ci", "eu", "us")


def _unique_strings(number: int, salt: bytes) -> tuple[str, str]:
    """A realistic-looking digest (random spread in the unique index) and key_id, without HMAC."""
    digest = hashlib.sha256(salt + number.to_bytes(8, "little")).hexdigest()
    return digest, "key_" + hashlib.blake2b(digest.encode(), digest_size=10).hexdigest()[:16]


def build_expiry_database(path: Path, rows: int, due: int) -> dict[str, Any]:
    """`rows` keys over a few users; exactly `due` of them ACTIVE/INACTIVE with an end date in the past."""
    now = dt.datetime.now(dt.UTC)
    engine = _new_database(path)
    engine.dispose()
    past = _sqlite_timestamps([now - dt.timedelta(days=1 + i % 300, minutes=i) for i in range(1000)])
    future = _sqlite_timestamps([now + dt.timedelta(days=1 + i % 365, minutes=i) for i in range(1000)])
    created = _sqlite_timestamps([now - dt.timedelta(days=400 - i % 365, seconds=i) for i in range(1000)])
    used = _sqlite_timestamps([now - dt.timedelta(minutes=i) for i in range(1000)])
    connection = _bulk_connection(path)
    user_ids, profiles = _insert_users_and_profiles(connection, 5, 4, created[0])
    every = rows // due
    assert every * due == rows, "rows must be a multiple of due"
    rng = random.Random(1)
    due_positions = set()
    for block in range(due):  # one due key at a random place in each block of `every` rows
        due_positions.add(block * every + rng.randrange(every))

    def generate():
        for number in range(rows):
            owner = user_ids[number % len(user_ids)]
            digest, key_id = _unique_strings(number, b"expiry")
            kind = number % 10
            t = number % 1000
            if number in due_positions:
                status, expires = ("INACTIVE" if kind == 0 else "ACTIVE"), past[t]
            elif kind in (1, 2):
                status, expires = "EXPIRED", past[t]  # expired earlier: not due again
            elif kind in (3, 4, 5):
                status, expires = "ACTIVE", future[t]
            elif kind == 6:
                status, expires = "INACTIVE", None
            else:
                status, expires = "ACTIVE", None
            profile = profiles[owner][number % 4] if number % 3 else None
            yield (
                key_id,
                owner,
                f"{SERVICES[number % len(SERVICES)]}-{ENVIRONMENTS[number % 6]}-{number}",
                digest,
                "bpk_••••••••" + digest[-4:],
                status,
                expires,
                used[t] if number % 2 else None,
                profile,
                created[t],
                created[t],
            )

    with connection:
        connection.executemany(_INSERT_KEY, generate())
    connection.execute("ANALYZE")
    connection.close()
    return {"users": len(user_ids)}


def bench_expiry(mode: Mode, results: Results, work_dir: Path) -> None:
    from rxapp.jobs import expire_due_in_chunks

    path = work_dir / "expiry.db"
    say(f"Building the expiry database: {mode.expiry_rows:,} keys, {mode.expiry_due:,} due")
    started = time.perf_counter()
    info = build_expiry_database(path, mode.expiry_rows, mode.expiry_due)
    build_seconds = time.perf_counter() - started
    engine = _new_database(path)  # production engine settings (WAL, synchronous=FULL)
    try:
        say("Timing the expiry job's chunked run (jobs.expire_due_in_chunks)")
        started, cpu_started = time.perf_counter(), time.process_time()
        expired = expire_due_in_chunks(engine)
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
        started = time.perf_counter()
        again = expire_due_in_chunks(engine)
        idle_seconds = time.perf_counter() - started
        with engine.connect() as connection:
            import sqlalchemy as sa

            audit_events = connection.execute(
                sa.text("SELECT count(*) FROM audit_events WHERE action = 'key.expire'")
            ).scalar_one()
            expired_rows = connection.execute(
                sa.text("SELECT count(*) FROM api_keys WHERE status = 'EXPIRED'")
            ).scalar_one()
    finally:
        engine.dispose()
    results.expiry = {
        "rows": mode.expiry_rows,
        "users": info["users"],
        "due": mode.expiry_due,
        "expired": expired,
        "audit_events": audit_events,
        "expired_rows_total": expired_rows,
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu_seconds, 3),  # SQLite works in this process: its CPU, without waits
        "second_run_expired": again,
        "second_run_seconds": round(idle_seconds, 4),
        "build_seconds": round(build_seconds, 1),
        "correct": expired == mode.expiry_due and audit_events == mode.expiry_due and again == 0,
    }
    path.unlink(missing_ok=True)


PG_EXPIRY_KEYS = """
INSERT INTO api_keys (key_id, owner_id, name, digest, masked, status, expires_at, last_used_at,
                      bias_profile_id, created_at, updated_at, version)
SELECT 'key_' || substr(md5(n::text), 1, 16), (SELECT min(id) FROM users) + n % :users, 'key-' || n,
       md5(n::text) || md5('x' || n), 'bpk_••••' || n % 10000,
       CASE WHEN n % 10 = 9 AND n % 100 = 9 THEN 'INACTIVE' WHEN n % 10 IN (1, 2) THEN 'EXPIRED'
            WHEN n % 10 = 6 THEN 'INACTIVE' ELSE 'ACTIVE' END,
       CASE WHEN n % 10 IN (1, 2, 9) THEN now() - make_interval(days => 1 + n % 300, mins => n % 1000)
            WHEN n % 10 IN (3, 4, 5) THEN now() + make_interval(days => 1 + n % 365) END,
       CASE WHEN n % 2 = 1 THEN now() - make_interval(mins => n % 1000) END, NULL,
       now() - make_interval(days => 400 - n % 365), now() - make_interval(days => 400 - n % 365), 1
FROM generate_series(0, :rows - 1) AS n
"""


def bench_expiry_postgres(postgres_url: str, mode: Mode, results: Results) -> None:
    """The same job on PostgreSQL: the same mix (every tenth key due), generated by the server."""
    import sqlalchemy as sa
    from sqlmodel import SQLModel

    import rxapp.models  # noqa: F401 - registers the tables
    from rxapp.db import make_engine
    from rxapp.jobs import expire_due_in_chunks

    harness.reset_postgres(postgres_url)
    engine = make_engine(postgres_url)
    try:
        SQLModel.metadata.create_all(engine)
        say(f"PostgreSQL: building the expiry table ({mode.expiry_rows:,} keys, {mode.expiry_due:,} due)")
        with engine.begin() as connection:
            for number in range(5):
                connection.execute(
                    sa.text("INSERT INTO users (email, password_hash, created_at) VALUES (:e, 'x', now())"),
                    {"e": f"owner{number}@example.com"},
                )
            connection.execute(sa.text(PG_EXPIRY_KEYS), {"users": 5, "rows": mode.expiry_rows})
            connection.execute(sa.text("ANALYZE"))
        say("PostgreSQL: timing the expiry job's chunked run")
        started = time.perf_counter()
        expired = expire_due_in_chunks(engine)
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        again = expire_due_in_chunks(engine)
        idle_seconds = time.perf_counter() - started
        with engine.connect() as connection:
            audit_events = connection.execute(
                sa.text("SELECT count(*) FROM audit_events WHERE action = 'key.expire'")
            ).scalar_one()
    finally:
        engine.dispose()
        harness.reset_postgres(postgres_url)
    results.expiry_pg = {
        "rows": mode.expiry_rows,
        "due": mode.expiry_due,
        "expired": expired,
        "audit_events": audit_events,
        "seconds": round(seconds, 3),
        "second_run_seconds": round(idle_seconds, 4),
        "correct": expired == mode.expiry_due and audit_events == mode.expiry_due and again == 0,
    }


def build_list_database(path: Path, size: int) -> tuple[int, dict[str, Any]]:
    """One user with `size` keys: varied names, 60 % with a profile, half used, mixed status and dates."""
    now = dt.datetime.now(dt.UTC)
    engine = _new_database(path)
    engine.dispose()
    connection = _bulk_connection(path)
    created = _sqlite_timestamps(
        [now - dt.timedelta(days=700) + dt.timedelta(minutes=7 * i) for i in range(size)]
    )
    used = _sqlite_timestamps([now - dt.timedelta(seconds=37 * i) for i in range(size)])
    past = _sqlite_timestamps([now - dt.timedelta(days=1 + i % 90) for i in range(100)])
    future = _sqlite_timestamps([now + dt.timedelta(days=1 + i % 365) for i in range(100)])
    (owner,), profiles = _insert_users_and_profiles(connection, 1, 6, created[0])
    rng = random.Random(size)
    order = list(range(size))
    rng.shuffle(order)  # last_used is not in creation order

    def generate():
        for number in range(size):
            digest, key_id = _unique_strings(number, b"list")
            kind = number % 20
            if kind < 13:
                status, expires = "ACTIVE", None if number % 3 else future[number % 100]
            elif kind < 16:
                status, expires = "INACTIVE", None
            elif kind < 18:
                status, expires = "EXPIRED", past[number % 100]
            else:
                status, expires = "ACTIVE", past[number % 100]  # past its end date, job not yet run
            name = f"{SERVICES[rng.randrange(len(SERVICES))]}-{ENVIRONMENTS[rng.randrange(6)]}-{number}"
            yield (
                key_id,
                owner,
                name,
                digest,
                "bpk_••••••••" + digest[-4:],
                status,
                expires,
                used[order[number]] if number % 2 else None,
                profiles[owner][number % 6] if number % 5 < 3 else None,
                created[number],
                created[number],
            )

    with connection:
        connection.executemany(_INSERT_KEY, generate())
    connection.execute("ANALYZE")
    connection.close()
    return owner, {}


def bench_list(mode: Mode, results: Results, work_dir: Path) -> None:
    from sqlmodel import Session

    from rxapp.services import keys as key_service
    from rxapp.services import workspaces as workspace_service

    queries = {
        "default (created desc, page 1)": key_service.KeyQuery(),
        "search 'checkout'": key_service.KeyQuery(search="checkout"),
        "status ACTIVE": key_service.KeyQuery(status="ACTIVE"),
        "sort by last used": key_service.KeyQuery(sort="last_used"),
        "deep page (page 200)": key_service.KeyQuery(page=200),
    }
    for size in mode.list_sizes:
        path = work_dir / f"list-{size}.db"
        say(f"Keys page query on {size:,} keys")
        owner, _ = build_list_database(path, size)
        engine = _new_database(path)
        try:
            for label, query in queries.items():
                timings, cpu = [], []
                for run in range(mode.list_runs + 1):
                    with Session(engine) as session:
                        started, cpu_started = time.perf_counter(), time.process_time()
                        access = workspace_service.resolve(session, owner)  # the page resolves it too
                        page = key_service.list_keys(session, access, query)
                        elapsed = (time.perf_counter() - started) * 1000
                        cpu_ms = (time.process_time() - cpu_started) * 1000
                    if run:  # the first run warms the connection and the page cache
                        timings.append(elapsed)
                        cpu.append(cpu_ms)
                results.list_query.append(
                    {
                        "keys": size,
                        "query": label,
                        "runs": len(timings),
                        "median_ms": round(statistics.median(timings), 2),
                        "p95_ms": round(percentile(timings, 0.95), 2),
                        "cpu_median_ms": round(statistics.median(cpu), 2),  # SQLite runs in process
                        "total_matches": page.total,
                        "page": page.page,
                        "rows": len(page.rows),
                    }
                )
        finally:
            engine.dispose()
            path.unlink(missing_ok=True)


# ---------------------------------------------------------------- report


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
                "measured": f"{ratio:.0%} ({valid['rps']:,.0f} vs {bare['rps']:,.0f} req/s)",
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
    rows += cpu_targets(results)
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
                "measured": f"{ratio:.0%} ({mine:.0f} vs {theirs:.0f} µs of server CPU per request)",
                "verdict": _http_usage_verdict(results, ratio) if target == "valid-usage-on" else verdict,
            }
        )
    return rows


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
                "target": "Keys page query < 50 ms at 100,000 keys (worst p95 of the five queries)",
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
    fast_path = (
        "Not changed on this branch (the fast path, issue 14 items 1–3; its investigation is in "
        "docs/fast-path.md). Server CPU per request at concurrency 16 in this run: "
        f"bare {cpu['bare']:.0f} µs, "
        f"malformed key {cpu['malformed']:.0f} µs (same fast path, no database), unknown key "
        f"{cpu['unknown']:.0f} µs (+ HMAC and the lookup), valid key {cpu['valid']:.0f} µs: the gap is in "
        "answering a valid key, as docs/fast-path.md measured (rendering the answer and its bytes)."
    )
    usage = (
        "Counting itself is cheap: `UsageBuffer.count` measured 0.4 µs of CPU per verification in "
        "process (200,000 calls; 1.7–2.1 µs before this branch's change), under 1 % of the "
        f"{(_c16(results, 'valid-usage-off') or {}).get('cpu_us_per_request') or 0:.0f} µs of server CPU a "
        "verification costs. This machine cannot resolve 5 % in this run: across the five interleaved "
        f"rounds, the usage-on console served {_spread(results, 'valid-usage-on')} req/s and the identical "
        f"usage-off console {_spread(results, 'valid-usage-off')} req/s ({load}). A separate probe of 8 "
        "alternating on/off pairs (3 s each, before the change) gave on/off CPU-per-request ratios "
        "from 0.91 to 1.38 between adjacent runs of the same two consoles."
    )
    verify_cpu, authorize_cpu = (
        (_c16(results, target) or {}).get("cpu_us_per_request") or 0 for target in ("valid", "authorize")
    )
    forward_auth = (
        "Not changed on this branch (docs/fast-path.md: authorize answers with ~200 bytes of identity "
        f"headers). In this run: {authorize_cpu:.0f} vs {verify_cpu:.0f} µs of server CPU per request "
        "(medians of the interleaved rounds; single runs: authorize "
        f"{_spread(results, 'authorize', 'cpu_us_per_request')} µs, verify "
        f"{_spread(results, 'valid', 'cpu_us_per_request')} µs), on a shared machine ({load})."
    )
    explanations = {
        "Forward auth": forward_auth,
        "PostgreSQL: forward auth": forward_auth,
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
