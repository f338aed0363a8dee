"""Shared fixtures: a real console process (production build, one port) for API and browser tests.

`TEST_BACKEND=postgres` runs the same suites against PostgreSQL + Redis with several workers.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests import oidc
from tests.harness import (
    ROOT,  # noqa: F401 - tests import it from here
    chromium_launch_args,
    credentials_in_log,
    free_port,
    migrate,
    reset_postgres,
    run_cli,
    start_console,
    stop_console,
    wait_ready,
)
from tests.smtp_server import SmtpServer

BACKEND = os.environ.get("TEST_BACKEND", "sqlite")
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
WORKERS = os.environ.get("TEST_WORKERS", "3")
PASSWORD = "a-long-test-password-42"
METRICS_TOKEN = secrets.token_urlsafe(32)
EXTRA_ORIGIN = "http://partner-portal.example"
# GitHub's secret-scanning signing key, played by the tests: one P-256 pair per test session. Its
# public half goes into the keys file the console reads (APIKEYS_SECRET_SCANNING_KEYS, written by
# console_environment); tests/api/test_leak_reports.py signs reports with the private half.
SECRET_SCANNING_KEY_ID = "test-github-secret-scanning"
SECRET_SCANNING_KEY = ec.generate_private_key(ec.SECP256R1())


def write_secret_scanning_keys(path: Path) -> Path:
    """GitHub's published JSON shape, with the session's public key as the current one."""
    pem = SECRET_SCANNING_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    entry = {"key_identifier": SECRET_SCANNING_KEY_ID, "key": pem.decode(), "is_current": True}
    path.write_text(json.dumps({"public_keys": [entry]}))
    return path


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
        result = run_cli(self.env, *args, input_text=input_text)
        if check and result.returncode != 0:
            raise AssertionError(f"CLI {args} failed: {result.stderr}")
        return result

    def new_user(self, password: str = PASSWORD) -> str:
        email = f"user-{uuid.uuid4().hex[:12]}@example.com"
        self.cli("create-user", email, input_text=password + "\n")
        return email

    def create_key(self, email: str, name: str = "service", *extra: str) -> str:
        return self.cli("create-key", email, name, *extra).stdout.strip()

    def rows(self, sql: str, **params: object) -> list[sa.Row]:
        """Read the console's database directly (what a test checks behind the API's back)."""
        engine = sa.create_engine(self.database_url)
        try:
            with engine.connect() as connection:
                return list(connection.execute(sa.text(sql), params).all())
        finally:
            engine.dispose()

    def verify(self, secret: str, **headers: str) -> httpx.Response:
        return httpx.post(
            f"{self.base_url}/api/v1/verify",
            headers={"Authorization": f"Bearer {secret}", **headers},
            timeout=10,
        )


_wait_ready = wait_ready  # the names other test modules import from here


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
        # has its own tests (tests/unit/test_signup_policy_http.py).
        "APIKEYS_SIGNUP": "open",
        # Webhook receivers in the tests listen on 127.0.0.1; retries come fast (issue 26)
        "APIKEYS_WEBHOOK_ALLOW_PRIVATE": "1",
        "APIKEYS_WEBHOOK_RETRY_SECONDS": "1,2,4",
        "APIKEYS_WEBHOOK_INTERVAL": "0.5",
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_CHECK_LATEST_VERSION": "false",
        "REFLEX_USE_NPM": "1",
        "APIKEYS_SECRET_SCANNING_KEYS": str(write_secret_scanning_keys(data_dir / "scanning-keys.json")),
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
def smtp_server():
    """The session's SMTP server (aiosmtpd on 127.0.0.1, a plain relay), started before the console,
    which sends its email notices there: tests read what each of their users received."""
    server = SmtpServer(free_port()).start()
    yield server
    server.stop()


def with_smtp(env: dict[str, str], server: SmtpServer, port: int) -> dict[str, str]:
    """Email notices to `server`, retried fast, linking to the console at `port` (issue 26)."""
    return {
        **env,
        "APIKEYS_SMTP_URL": f"smtp://127.0.0.1:{server.port}?starttls=off",
        "APIKEYS_SMTP_FROM": "Key Console <keys@console.example>",
        "APIKEYS_SMTP_RETRY_SECONDS": "1,2,4,8",
        "APIKEYS_SMTP_TIMEOUT": "5",
        "APIKEYS_PUBLIC_URL": f"http://localhost:{port}",
    }


@pytest.fixture(scope="session")
def console(tmp_path_factory: pytest.TempPathFactory, smtp_server: SmtpServer):
    data_dir = tmp_path_factory.mktemp("console-data")
    port = free_port()
    env, database_url = console_environment(data_dir, port)
    # A real OpenID provider beside it (tests/oidc): the shared console offers "Sign in with Test
    # IdP". Without oidc-provider installed (scripts/test installs it) the console runs without
    # single sign-on and only the tests of it fail, saying why.
    provider = None if oidc.missing() else oidc.start([port], data_dir / "oidc-provider.log")
    if provider is not None:
        env.update(provider.console_env())
    env = with_smtp(env, smtp_server, port)
    if BACKEND == "postgres":
        reset_postgres(database_url)
    migrate(env)
    log_path = data_dir / "console.log"
    try:
        process = start_console(env, port, log_path)
    except BaseException:
        oidc.stop(provider.process if provider else None)
        raise
    try:
        yield Console(
            base_url=f"http://localhost:{port}",
            env=env,
            database_url=database_url,
            log_path=log_path,
            backend=BACKEND,
            process=process,
        )
    finally:
        stop_console(process)
        oidc.stop(provider.process if provider else None)
    # The whole run's JSON log (every API, browser and CLI test that used this console) holds no
    # key, token or cookie: a leak anywhere fails the run here, at the end of the session.
    leaked = credentials_in_log(log_path)
    assert not leaked, f"credentials in the console log of this run: {leaked[:5]} ({len(leaked)} in all)"


# ---------------------------------------------------------------- Playwright: system Chromium, no download


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    args = {**browser_type_launch_args, **chromium_launch_args()}
    return args


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {
        **browser_context_args,
        "permissions": ["clipboard-read", "clipboard-write"],
        "viewport": {"width": 1400, "height": 900},
    }


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test run at the phone viewport beside its desktop twin checks the same behaviour in the
    phone layout: presentation, the same on every backend (so the PostgreSQL + Redis pass, which
    deselects `presentation`, runs the desktop twin only)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "phone" in callspec.params.values():
            item.add_marker(pytest.mark.presentation)
