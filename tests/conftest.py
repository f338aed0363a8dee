"""Shared fixtures: a real console process (production build, one port) for API and browser tests.

`TEST_BACKEND=postgres` runs the same suites against PostgreSQL + Redis with several workers.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
BACKEND = os.environ.get("TEST_BACKEND", "sqlite")
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
WORKERS = os.environ.get("TEST_WORKERS", "3")
PASSWORD = "a-long-test-password-42"
METRICS_TOKEN = secrets.token_urlsafe(32)
EXTRA_ORIGIN = "http://partner-portal.example"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Console:
    """A running console and the environment that reaches its database (for the CLI)."""

    base_url: str
    env: dict[str, str]
    database_url: str
    log_path: Path
    backend: str
    process: subprocess.Popen | None = field(default=None, repr=False)

    def cli(
        self, *args: str, input_text: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "-m", "rxapp", *args],
            cwd=ROOT,
            env=self.env,
            input=input_text,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"CLI {args} failed: {result.stderr}")
        return result

    def new_user(self, password: str = PASSWORD) -> str:
        email = f"user-{uuid.uuid4().hex[:12]}@example.com"
        self.cli("create-user", email, input_text=password + "\n")
        return email

    def create_key(self, email: str, name: str = "service", *extra: str) -> str:
        return self.cli("create-key", email, name, *extra).stdout.strip()

    def verify(self, secret: str, **headers: str) -> httpx.Response:
        return httpx.post(
            f"{self.base_url}/api/v1/verify",
            headers={"Authorization": f"Bearer {secret}", **headers},
            timeout=10,
        )


def _wait_ready(url: str, process: subprocess.Popen, log_path: Path, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"console exited early:\n{log_path.read_text()[-4000:]}")
        try:
            if httpx.get(url, timeout=2, follow_redirects=True).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"console not ready after {timeout}s:\n{log_path.read_text()[-4000:]}")


def _reset_postgres(url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP SCHEMA public CASCADE"))
        connection.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def console_environment(data_dir: Path, port: int) -> tuple[dict[str, str], str]:
    env = {
        **os.environ,
        "APIKEYS_DATA_DIR": str(data_dir),
        "APIKEYS_PEPPER": secrets.token_urlsafe(48),
        # The console's own origin is NOT listed: it is accepted on any port (issue 10). One extra,
        # foreign origin is, for the tests of the allowlist (CORS, form posts from another origin).
        "APIKEYS_ALLOWED_ORIGINS": EXTRA_ORIGIN,
        "REFLEX_TRUSTED_PROXY_HOPS": "1",
        # JSON logs for the whole run, so the secret sweeps read what production would ship
        "APIKEYS_LOG_FORMAT": "json",
        "APIKEYS_METRICS_TOKEN": METRICS_TOKEN,
        "APIKEYS_EXPIRY_INTERVAL": "1",
        # every test connects from 127.0.0.1: keep the per-address throttle out of unrelated tests
        # (it is tested in tests/unit); the per-account throttle stays at its default
        "APIKEYS_LOGIN_FAILURES_PER_CLIENT": "100000",
        "APIKEYS_ENV": "production",
        # Many tests sign up through the form on a shared console; the default policy (invite)
        # has its own tests (tests/api/test_signup_policy.py).
        "APIKEYS_SIGNUP": "open",
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_CHECK_LATEST_VERSION": "false",
        "REFLEX_USE_NPM": "1",
    }
    if BACKEND == "postgres":
        database_url = POSTGRES_URL
        env["REDIS_URL"] = REDIS_URL
        env["GRANIAN_WORKERS"] = WORKERS
    else:
        database_url = f"sqlite:///{data_dir / 'console.db'}"
        env.pop("REDIS_URL", None)
        env["GRANIAN_WORKERS"] = "1"
    env["DATABASE_URL"] = database_url
    return env, database_url


@pytest.fixture(scope="session")
def console(tmp_path_factory: pytest.TempPathFactory):
    data_dir = tmp_path_factory.mktemp("console-data")
    port = free_port()
    env, database_url = console_environment(data_dir, port)
    if BACKEND == "postgres":
        _reset_postgres(database_url)
    subprocess.run(
        ["reflex", "db", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300
    )
    log_path = data_dir / "console.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            ["reflex", "run", "--env", "prod", "--frontend-port", str(port), "--backend-port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://localhost:{port}"
    try:
        _wait_ready(f"{base_url}/api/v1/health", process, log_path)
        _wait_ready(f"{base_url}/sign-in", process, log_path)
        yield Console(
            base_url=base_url,
            env=env,
            database_url=database_url,
            log_path=log_path,
            backend=BACKEND,
            process=process,
        )
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(30)
        except ProcessLookupError:
            pass  # it already exited (its log says why)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)


# ---------------------------------------------------------------- Playwright: system Chromium, no download


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    args = {**browser_type_launch_args}
    chromium = os.environ.get("CHROMIUM_PATH") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else ""
    )
    if chromium:
        args["executable_path"] = chromium
    args["args"] = [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ]
    return args


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {
        **browser_context_args,
        "permissions": ["clipboard-read", "clipboard-write"],
        "viewport": {"width": 1400, "height": 900},
    }
