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
import contextlib
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
import socket
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

DOC_PATH = ROOT / "docs" / "benchmarks.md"
RESULTS_DIR = ROOT / "bench-results"
PASSWORD = "bench-password-not-secret-42"
EMAIL = "bench@example.com"
PROFILE = "bench-profile"
SECTIONS = ("verify", "browser", "expiry", "list")
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
    list_query: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    rounds: list[dict[str, Any]] = field(default_factory=list)  # interleaved ratio runs (c=16)


# ---------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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
    """`reflex db migrate` + `reflex run --env prod` on one port, in its own process group."""

    def __init__(self, work_dir: Path, database_url: str | None = None) -> None:
        self.work_dir = work_dir
        self.data_dir = work_dir / "data"
        self.data_dir.mkdir()
        self.port = free_port()
        self.db_path = self.data_dir / "console.db"
        self.log_path = work_dir / "console.log"
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.browser_url = f"http://localhost:{self.port}"
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
        }
        self.env.pop("REDIS_URL", None)

    def run(self, *command: str, input_text: str | None = None, timeout: float = 300) -> str:
        result = subprocess.run(
            list(command),
            cwd=ROOT,
            env=self.env,
            input=input_text,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
            )
        return result.stdout

    def cli(self, *args: str, input_text: str | None = None) -> str:
        return self.run(sys.executable, "-m", "rxapp", *args, input_text=input_text, timeout=120)

    def start(self) -> None:
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                pinned(
                    [
                        "reflex",
                        "run",
                        "--env",
                        "prod",
                        "--frontend-port",
                        str(self.port),
                        "--backend-port",
                        str(self.port),
                    ],
                    SERVER_CORE,
                ),
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        SERVER_GROUPS[self.port] = self.process.pid
        self.wait_ready(f"{self.base_url}/api/v1/health")
        self.wait_ready(f"{self.browser_url}/sign-in")

    def wait_ready(self, url: str, timeout: float = 600) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the console exited early:\n{self.log_tail()}")
            try:
                if httpx.get(url, timeout=2, follow_redirects=True).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the console was not ready after {timeout:.0f}s:\n{self.log_tail()}")

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Stop our own process group only (reflex, granian and the node build it started)."""
        if self.process is None:
            return
        process, self.process = self.process, None
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


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
            results.rounds.append({"target": target, "round": number, **parsed})


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
        server.run("reflex", "db", "migrate")
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


def bench_verify(server: Server, keys: Seed, mode: Mode, results: Results, work_dir: Path) -> None:
    say("Installing the Last Used write counter (SQLite trigger)")
    install_write_counter(server.db_path)
    say("Checking each target's answer")
    results.checks = check_responses(server, keys)
    valid_verifications = 2  # the checks above
    scripts, urls = load_scripts(server, keys, TARGETS, work_dir)
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
        interleaved_rounds(urls, scripts, ("bare", "valid", "authorize"), mode, results)
        valid_verifications += sum(
            run["requests"] for run in results.rounds[before:] if run["target"] != "bare"
        )
        last_valid_end = dt.datetime.now(dt.UTC)
    finally:
        reference.stop()
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
            warmup_ms = None
            for iteration in range(mode.browser_creations + 1):
                page.click("#create-key-button")
                page.wait_for_selector("#create-name")
                page.fill("#create-name", f"browser-key-{iteration}")
                started = time.perf_counter()
                page.click("#create-submit")
                page.wait_for_function(
                    "() => { const input = document.querySelector('#new-key-secret');"
                    " return !!input && input.value.startsWith('bpk_'); }",
                    timeout=15_000,
                )
                elapsed_ms = (time.perf_counter() - started) * 1000
                if iteration == 0:
                    warmup_ms = elapsed_ms
                else:
                    timings.append(elapsed_ms)
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
    from rxapp.settings import reset_settings_for_tests

    reset_settings_for_tests()


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
    from sqlmodel import Session

    from rxapp.services import keys as key_service

    path = work_dir / "expiry.db"
    say(f"Building the expiry database: {mode.expiry_rows:,} keys, {mode.expiry_due:,} due")
    started = time.perf_counter()
    info = build_expiry_database(path, mode.expiry_rows, mode.expiry_due)
    build_seconds = time.perf_counter() - started
    engine = _new_database(path)  # production engine settings (WAL, synchronous=FULL)
    try:
        say("Timing expire_due_keys + commit")
        with Session(engine) as session:
            started = time.perf_counter()
            expired = key_service.expire_due_keys(session)
            session.commit()
            seconds = time.perf_counter() - started
        with Session(engine) as session:
            started = time.perf_counter()
            again = key_service.expire_due_keys(session)
            session.commit()
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
        "second_run_expired": again,
        "second_run_seconds": round(idle_seconds, 4),
        "build_seconds": round(build_seconds, 1),
        "correct": expired == mode.expiry_due and audit_events == mode.expiry_due and again == 0,
    }
    path.unlink(missing_ok=True)


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
                timings = []
                for run in range(mode.list_runs + 1):
                    with Session(engine) as session:
                        started = time.perf_counter()
                        page = key_service.list_keys(session, owner, query)
                        elapsed = (time.perf_counter() - started) * 1000
                    if run:  # the first run warms the connection and the page cache
                        timings.append(elapsed)
                results.list_query.append(
                    {
                        "keys": size,
                        "query": label,
                        "runs": len(timings),
                        "median_ms": round(statistics.median(timings), 2),
                        "p95_ms": round(percentile(timings, 0.95), 2),
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


def cpu_targets(results: Results) -> list[dict[str, str]]:
    """The same ratios from server CPU per request: what one dedicated core would serve.

    On a machine shared with other work, throughput swings with whatever else runs; the CPU a
    request costs the server barely does. bare µs / verify µs = verify's share of the ceiling.
    """
    rows = []
    for label, target, reference, goal in [
        ("SQLite: valid-key verify ≥ 60 % of the reference", "valid", "bare", 0.6),
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
        rows.append(
            {
                "target": f"{label}, by server CPU per request",
                "measured": f"{ratio:.0%} ({mine:.0f} vs {theirs:.0f} µs of server CPU per request)",
                "verdict": "pass" if ratio >= goal else "MISS",
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


def summary(results: Results, mode: Mode) -> str:
    parts = []
    if results.wrk:
        parts.append("Verification (wrk)\n" + wrk_table(results))
    if results.rounds:
        parts.append(
            "Interleaved runs at concurrency 16 (the ratio targets use their medians)\n"
            + rounds_table(results)
        )
    if results.last_used:
        lu = results.last_used
        parts.append(
            table(
                ["Last Used", "value"],
                [
                    ["last_used_at (valid key)", lu["last_used_at"]],
                    ["last valid-key run ended", lu["last_valid_run_end"]],
                    [
                        "Last Used − run end (s)",
                        "n/a"
                        if lu["last_used_minus_run_end_s"] is None
                        else f"{lu['last_used_minus_run_end_s']:+.2f}",
                    ],
                    ["valid-key verifications", f"{lu['valid_verifications']:,}"],
                    ["Last Used row writes (valid key)", f"{lu['row_writes_valid_key']:,}"],
                    ["Last Used row writes (all keys)", f"{lu['row_writes_all_keys']:,}"],
                ],
            )
        )
    if results.expiry:
        ex = results.expiry
        parts.append(
            table(
                ["Expiry job", "value"],
                [
                    ["keys / due", f"{ex['rows']:,} / {ex['due']:,}"],
                    ["expired / audit events", f"{ex['expired']:,} / {ex['audit_events']:,}"],
                    ["expire_due_keys + commit (s)", f"{ex['seconds']:.3f}"],
                    [
                        "second run, nothing due (s)",
                        f"{ex['second_run_seconds']:.4f} ({ex['second_run_expired']} expired)",
                    ],
                ],
            )
        )
    if results.list_query:
        parts.append(
            table(
                ["keys", "query", "median ms", "p95 ms", "matches", "page"],
                [
                    [
                        f"{row['keys']:,}",
                        row["query"],
                        f"{row['median_ms']:.2f}",
                        f"{row['p95_ms']:.2f}",
                        f"{row['total_matches']:,}",
                        row["page"],
                    ]
                    for row in results.list_query
                ],
            )
        )
    if results.browser:
        br = results.browser
        parts.append(
            table(
                ["Browser create-to-secret", "value"],
                [
                    ["creations", br["creations"]],
                    ["p50 ms", br["p50_ms"]],
                    ["p95 ms", br["p95_ms"]],
                    ["max ms", br["max_ms"]],
                    ["first (warm-up, not counted) ms", br["warmup_ms"]],
                ],
            )
        )
    targets = evaluate_targets(results, mode)
    parts.append(
        "Targets\n"
        + table(
            ["target", "measured", "result"],
            [[row["target"], row["measured"], row["verdict"]] for row in targets],
        )
    )
    if results.errors:
        parts.append("Errors\n" + "\n".join(f"- {name}: {error}" for name, error in results.errors.items()))
    return "\n\n".join(parts)


MISS_EXPLANATIONS = {
    "Valid-key verification p99": (
        "What limits it: the machine, not the key check. wrk and the single server worker share two "
        "cores, and the no-op endpoint (no work at all) already has a p50 of about 9-11 ms and a p99 above "
        "10 ms at concurrency 16 in the same run. The verification itself costs about 0.1 ms in process "
        "(format + HMAC + one indexed lookup, measured with a micro-benchmark). What would fix it: a load "
        "generator on another machine and more cores for the server (several workers), which lowers "
        "queueing; the ratio to the no-op, which is what this code controls, meets its target."
    ),
    "Expiry job": (
        "What limits it: SQLite writing 100,000 rows and their index entries in one transaction "
        "with synchronous=FULL. Profiled at 300,000 keys / 30,000 due: the UPDATE is about 50 % of "
        "the time (each status change moves entries in the two status indexes, one of them added "
        "for the keys page), the commit's fsync about 20 %, the audit inserts about 10 % (already a "
        "Core executemany). What would fix it: synchronous=NORMAL for this job (WAL keeps the file "
        "consistent; a power failure may lose the last run, which the next run redoes), or "
        "PostgreSQL. In normal operation the job runs every 30 s, so 100,000 keys falling due at "
        "once is an extreme case."
    ),
    "Create-to-secret": (
        "What limits it: the browser side, not the server. Websocket frame timing (Playwright) "
        "showed the server answering the create event in 40-65 ms with the secret in its first "
        "update (the table refresh follows separately), and the event leaving the browser about "
        "65 ms after the click call (Playwright's actionability checks). With a 300 ms pause "
        "between typing the name and clicking, the same measurement gave 118-250 ms; this "
        "benchmark clicks immediately after typing, when the name field's debounced update is "
        "still pending. What would fix it: send the name with the create event (an uncontrolled "
        "form field) instead of debounced per-keystroke updates."
    ),
}


def render_document(results: Results, mode: Mode) -> str:
    targets = evaluate_targets(results, mode)
    misses = [row for row in targets if row["verdict"] == "MISS"]
    not_measured = [name for name in SECTIONS if name not in results.sections_run or name in results.errors]
    lines = [
        "# Benchmarks",
        "",
        f"Produced by `scripts/bench{' --quick' if mode.quick else ''}` on {results.finished_at} "
        f"(UTC). Re-run it to refresh this page; raw wrk output is written to `bench-results/`.",
        "",
    ]
    if mode.quick:
        lines += [
            "> **Quick run**: 1-second load runs and small data sizes. These figures are a smoke "
            "test, not a measurement; targets measured at reduced sizes are marked n/a.",
            "",
        ]
    lines += [
        "## Machine",
        "",
        table(
            ["", ""],
            [[name, value] for name, value in results.machine.items()]
            + [["Load average (1/5/15 min) before / after", f"{results.load_before} / {results.load_after}"]],
        ),
        "",
        "The load average is recorded because the figures are only meaningful on an otherwise quiet machine.",
        "",
        "## Targets",
        "",
        table(
            ["target", "measured", "result"],
            [[row["target"], row["measured"], row["verdict"]] for row in targets],
        ),
        "",
    ]
    if misses:
        lines += [
            "### Missed targets",
            "",
            "These targets were **missed** in this run. Each explanation is what was measured when "
            "the miss was investigated (see the issue's closing note); this script does not re-measure it.",
            "",
        ]
        for row in misses:
            explanation = next(
                (text for prefix, text in MISS_EXPLANATIONS.items() if row["target"].startswith(prefix)),
                "**Not yet investigated.**",
            )
            lines += [f"- **{row['target']}**: measured {row['measured']}.", f"  - {explanation}", ""]
    if not_measured:
        lines += ["### Not measured", ""]
        for name in not_measured:
            lines.append(f"- {name}: {results.errors.get(name, 'not selected in this run')}")
        lines.append("")
    lines += [
        "## Method",
        "",
        "- **One server process**: the real app, `reflex db migrate` then `reflex run --env prod` on one "
        "port, `GRANIAN_WORKERS=1`, SQLite (WAL) in a temporary directory, `APIKEYS_ENV=production`, "
        "a random `APIKEYS_PEPPER`, and `APIKEYS_VERIFY_RATE_LIMIT=0` (the per-client limit would otherwise "
        "answer 429 to a load generator on one address). No Redis.",
        "- **Seed**: with the operator CLI (`python -m rxapp`): one user, one Bias Profile, one key with "
        "that profile. An *unknown* key is well formed (right shape and checksum) but not in the database; "
        "a *malformed* key has the right length and alphabet but a wrong checksum, so it is rejected "
        "before any database work.",
        "- **Correctness first**: each target is called once with httpx and its answer checked (no-op → "
        "`NOOP`; valid → `valid: true` with the profile; unknown → `NOT_FOUND`; malformed → `MALFORMED`) "
        "before it is loaded. wrk's non-2xx and socket-error counts are reported.",
        f"- **Load**: {results.machine.get('wrk', 'wrk')}, `POST` with `Authorization: Bearer <key>` from a "
        f"small Lua script, `-t min(c, 2) -c c -d {mode.wrk_seconds}s --latency`, concurrency "
        f"{', '.join(map(str, CONCURRENCIES))}; at each concurrency the four targets run back to back "
        "(no-op, valid, unknown, malformed) so that the no-op ceiling and the verify figures see the same "
        "machine conditions"
        + (
            f"; a {mode.warmup_seconds} s warm-up per target at concurrency 16 comes first and is not "
            "reported"
            if mode.warmup_seconds
            else ""
        )
        + ". `/api/v1/noop` is the ceiling: same app, middleware and threadpool hop as verify, no work. "
        "wrk and the server share the machine's cores, so the absolute numbers are lower than a "
        "separate load generator would show; the ratio to the no-op is the comparable figure.",
        "- **Database writes**: before the load, a trigger `AFTER UPDATE OF last_used_at ON api_keys` "
        "inserts a row into a `bench_writes` table in the server's database file, so every Last Used row "
        "write caused by verification is counted by SQLite itself. After the runs the bench waits 2 s "
        "(the flush runs at least every second), then compares the valid key's Last Used with the moment "
        "the last valid-key wrk run ended, and the number of verifications (wrk's completed requests plus "
        "the one check) with the number of row writes.",
        f"- **Browser**: headless Chromium through Playwright. Sign up, then {mode.browser_creations} times: "
        "open the create dialog, fill the name, and time from the click on *Create API Key* "
        "(`#create-submit`) until `#new-key-secret` holds a value starting with `bpk_` "
        "(`page.wait_for_function`, polled every animation frame, measured with `time.perf_counter`); "
        "then copy and close. One creation before these is a warm-up and not counted. p95 is "
        "nearest-rank.",
        f"- **Expiry job** (in process, server stopped): a separate SQLite database made with "
        f"`rxapp.db.make_engine` + `SQLModel.metadata.create_all`, loaded with {mode.expiry_rows:,} keys "
        f"for 5 users ({mode.expiry_due:,} due: ACTIVE or INACTIVE with an end date in the past, spread "
        "through the table; the rest a mix of earlier-EXPIRED, future end dates and no end date; unique "
        "SHA-256-shaped digests). The load (no journal, `synchronous=OFF`) is not timed. Timed: "
        "`keys.expire_due_keys(session)` + `commit()` with the production engine settings "
        "(WAL, `synchronous=FULL`); then the expired rows and `key.expire` audit events are counted, and a "
        "second run (nothing due) is timed too.",
        f"- **Keys page query** (in process): databases of {' and '.join(f'{s:,}' for s in mode.list_sizes)} "
        "keys for one user (6 profiles, 60 % of keys with one, varied names, half with a Last Used, a "
        "mix of ACTIVE, INACTIVE, EXPIRED and past-end-date keys). `keys.list_keys(session, owner, "
        f"KeyQuery(...))` timed {mode.list_runs} times per query after one untimed run, each in a fresh "
        "session; the call includes the count query and building the page's public rows.",
        "",
        "## Results",
        "",
    ]
    if results.wrk:
        lines += [
            "### Verification (HTTP, one worker, SQLite; `-pg` rows: PostgreSQL)",
            "",
            wrk_table(results),
            "",
        ]
        lines += [
            "`bare` is a minimal Starlette app with one no-op endpoint on the same Granian "
            f"({results.machine.get('Pinning', 'pinning not recorded')}).",
            "",
        ]
    if results.rounds:
        lines += [
            "### Interleaved runs at concurrency 16 (the ratio targets use their medians)",
            "",
            rounds_table(results),
            "",
        ]
        lines += ["Correctness checks before the load:", ""]
        lines += [f"- {target}: `{answer}`" for target, answer in results.checks.items()]
        lines.append("")
    if results.last_used:
        lu = results.last_used
        lines += [
            "### Last Used write-behind",
            "",
            table(
                ["", ""],
                [
                    ["Last Used of the valid key", f"`{lu['last_used_at']}`"],
                    ["End of the last valid-key run", f"`{lu['last_valid_run_end']}`"],
                    [
                        "Last Used − end of the run (negative: earlier)",
                        "not set"
                        if lu["last_used_minus_run_end_s"] is None
                        else f"{lu['last_used_minus_run_end_s']:+.2f} s",
                    ],
                    ["Valid-key verifications", f"{lu['valid_verifications']:,}"],
                    ["Valid-key load time", f"{lu['valid_load_seconds']} s"],
                    ["Last Used row writes, valid key", f"{lu['row_writes_valid_key']:,}"],
                    ["Last Used row writes, all keys", f"{lu['row_writes_all_keys']:,}"],
                ],
            ),
            "",
            f"Note: {lu['note']}.",
            "",
        ]
    if results.browser:
        br = results.browser
        lines += [
            "### Browser: create to secret",
            "",
            table(
                ["", ""],
                [
                    ["Chromium", br["chromium"]],
                    ["Creations timed", br["creations"]],
                    ["p50", f"{br['p50_ms']:.0f} ms"],
                    ["p95", f"{br['p95_ms']:.0f} ms"],
                    ["max", f"{br['max_ms']:.0f} ms"],
                    ["Warm-up creation (not counted)", f"{br['warmup_ms']:.0f} ms"],
                ],
            ),
            "",
        ]
    if results.expiry:
        ex = results.expiry
        lines += [
            "### Expiry job",
            "",
            table(
                ["", ""],
                [
                    ["Keys in the table", f"{ex['rows']:,} ({ex['users']} users)"],
                    ["Due", f"{ex['due']:,}"],
                    [
                        "Marked EXPIRED / `key.expire` audit events",
                        f"{ex['expired']:,} / {ex['audit_events']:,}",
                    ],
                    ["`expire_due_keys` + commit", f"{ex['seconds']:.2f} s"],
                    ["Second run (nothing due)", f"{ex['second_run_seconds'] * 1000:.1f} ms"],
                    ["Counts correct", "yes" if ex["correct"] else "**NO**"],
                ],
            ),
            "",
        ]
    if results.list_query:
        lines += [
            "### Keys page query",
            "",
            table(
                ["keys", "query", "median", "p95", "matching keys", "page"],
                [
                    [
                        f"{row['keys']:,}",
                        row["query"],
                        f"{row['median_ms']:.1f} ms",
                        f"{row['p95_ms']:.1f} ms",
                        f"{row['total_matches']:,}",
                        row["page"],
                    ]
                    for row in results.list_query
                ],
            ),
            "",
        ]
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
                server.run("reflex", "db", "migrate")
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
        if "expiry" in sections or "list" in sections:
            _in_process_environment(work_dir)
        if "expiry" in sections:
            section("expiry", lambda: bench_expiry(mode, results, work_dir))
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
