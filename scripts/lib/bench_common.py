"""Shared by the benchmark's parts (scripts/lib/bench*.py): paths and constants, the run's Mode and
Results, small helpers, the console server and its seed data."""

from __future__ import annotations

import os
import platform
import secrets
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from scripts.lib.bench_reference import SERVER_CORE, SERVER_GROUPS, pinned
from tests import harness
from tests.harness import free_port

ROOT = Path(__file__).resolve().parents[2]
DOC_PATH = ROOT / "docs" / "benchmarks.md"
RESULTS_DIR = ROOT / "bench-results"
PASSWORD = "bench-password-not-secret-42"
EMAIL = "bench@example.com"
PROFILE = "bench-profile"
SECTIONS = ("verify", "usage", "browser", "expiry", "list")
TARGETS = ("noop", "valid", "authorize", "unknown", "malformed", "programmed")
# on PostgreSQL (--postgres), next to the same bare reference; with BENCH_REDIS_URL the named limit
# of "programmed" is counted in Redis, as in production on PostgreSQL
# `credits` and `limit` split "programmed" into its two round trips (the spend, the Redis script),
# so the cost of each feature on its own is printed beside the two together
PG_TARGETS = ("valid", "authorize", "programmed", "credits", "limit")
# the seeded Bias Profile (this checkout's CLI and 4e5c6e7's, bench_baseline.py, take the same)
PROFILE_OPTIONS = (
    "--categories",
    "gender,age",
    "--sensitivity",
    "0.7",
    "--action",
    "flag",
    "--description",
    "benchmark profile",
)
# "programmed": a key with credits (more than any run spends) and one named limit (never reached)
CREDITS_OPTIONS = ("--credits", "2000000000")
LIMIT_OPTIONS = ("--limit", "requests=1000000000/1d")
PROGRAMMED_OPTIONS = (*CREDITS_OPTIONS, *LIMIT_OPTIONS)
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
    workers: dict[str, Any] = field(default_factory=dict)  # bench_workers.py: one worker vs two
    baseline: dict[str, Any] = field(default_factory=dict)  # bench_baseline.py: plain key, now vs before


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
        code_dir: Path = ROOT,
    ) -> None:
        self.code_dir = code_dir  # the checkout served (bench_baseline.py: an older commit's)
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
            # the browser part signs up a user of its own; under the default policy (invite) only
            # the seeded first account could exist, and the sign-up page would show no form
            "APIKEYS_SIGNUP": "open",
            "GRANIAN_WORKERS": "1",
            "REFLEX_TELEMETRY_ENABLED": "false",
            "REFLEX_CHECK_LATEST_VERSION": "false",
            "REFLEX_USE_NPM": "1",
        }
        self.env.pop("REDIS_URL", None)
        self.env.update(extra_env or {})

    def cli(self, *args: str, input_text: str | None = None) -> str:
        result = harness.run_cli(self.env, *args, input_text=input_text)
        if result.returncode != 0:
            raise RuntimeError(f"rxapp {args[0]} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
        return result.stdout

    def migrate(self) -> None:
        harness.migrate(self.env, cwd=self.code_dir)

    def start(self, pin: bool = True) -> None:
        """Pinned to the server core; `pin=False` lets it (several workers) use every core."""
        self.process = harness.start_console(
            self.env,
            self.port,
            self.log_path,
            prefix=pinned([], SERVER_CORE) if pin else [],
            backend_only=self.backend_only,
            cwd=self.code_dir,
        )
        SERVER_GROUPS[self.port] = self.process.pid

    def stop(self) -> None:
        if self.process is not None:
            process, self.process = self.process, None
            harness.stop_console(process)


# ---------------------------------------------------------------- a. seed data


@dataclass
class Seed:
    valid: str
    unknown: str
    malformed: str
    valid_row_id: int
    programmed: str = ""  # credits + one named limit (PROGRAMMED_OPTIONS)
    credits: str = ""  # credits only (CREDITS_OPTIONS)
    limit: str = ""  # one named limit only (LIMIT_OPTIONS)


def seed(server: Server, split_programmed: bool = False) -> Seed:
    """The benchmark's user, profile and keys; `split_programmed` adds the credits-only and
    limit-only keys (only the PostgreSQL console measures them)."""
    from rxapp.services import key_format

    server.cli("create-user", EMAIL, input_text=PASSWORD + "\n")
    server.cli("create-profile", EMAIL, PROFILE, *PROFILE_OPTIONS)
    valid = server.cli("create-key", EMAIL, "bench-valid", "--profile", PROFILE).strip()
    assert valid.startswith("bpk_"), "create-key must print only the secret"
    programmed = server.cli("create-key", EMAIL, "bench-programmed", *PROGRAMMED_OPTIONS).strip()
    credits = limit = ""
    if split_programmed:
        credits = server.cli("create-key", EMAIL, "bench-credits", *CREDITS_OPTIONS).strip()
        limit = server.cli("create-key", EMAIL, "bench-limit", *LIMIT_OPTIONS).strip()
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
    return Seed(
        valid=valid,
        unknown=unknown,
        malformed=malformed,
        valid_row_id=row_id,
        programmed=programmed,
        credits=credits,
        limit=limit,
    )


def api_console(
    directory: Path, extra_env: dict[str, str] | None = None, pin: bool = True
) -> tuple[Server, Seed]:
    """One more console, API only, migrated, seeded and started in `directory` (created here)."""
    directory.mkdir()
    server = Server(directory, extra_env=extra_env, backend_only=True)
    server.migrate()
    keys = seed(server)
    server.start(pin=pin)
    return server, keys
