"""Every setting in one place, read from environment variables with safe local defaults.

Imported by rxconfig.py, so it must stay free of Reflex imports and cheap to load. A low module: it
imports nothing from the app. The process's one instance is `rxapp.context.get_settings()`.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ORIGINS = "http://localhost:3000,http://127.0.0.1:3000"


class InsecureConfigurationError(RuntimeError):
    """Raised when production mode would run with a development secret."""


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def _float(name: str, default: float) -> float:
    raw = _env(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as error:
        raise ValueError(f"{name} must be a number, got {raw!r}") from error
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {raw!r}")
    return value


def is_production() -> bool:
    """Production is asked for explicitly, or implied by `reflex run --env prod`."""
    return _env("APIKEYS_ENV").lower() in {"prod", "production"} or _env("REFLEX_ENV_MODE").lower() in {
        "prod",
        "production",
    }


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    redis_url: str | None
    pepper: bytes = field(repr=False)
    pepper_is_generated: bool
    key_prefix: str
    expiry_interval_seconds: float
    last_used_flush_seconds: float
    session_hours: float
    allowed_origins: tuple[str, ...]
    verify_rate_limit_per_minute: int
    password_hash_concurrency: int
    login_free_failures_per_client: int
    production: bool
    host: str = "127.0.0.1"
    usage_retention_days: float = 90.0
    trusted_proxy_hops: int = 0
    # Management API calls per minute per token (per worker; 0 turns the limit off).
    management_rate_limit_per_minute: int = 600
    # How long an Idempotency-Key is remembered (hours); older records are pruned by the expiry job.
    idempotency_retention_hours: float = 24.0
    # Operations (issue 15): metrics bearer token (empty = /metrics off) and log format.
    metrics_token: str = field(default="", repr=False)
    log_format: str = "text"
    # Who may create an account from the browser: open | invite | closed (see README, "Sign-up").
    signup_policy: str = "invite"
    # scripts/bench only: serve POST /api/v1/noop, the benchmark's ceiling (never in a real console).
    bench_noop: bool = False
    # scripts/bench only: usage counting switched off, to measure what counting costs verify.
    bench_usage_off: bool = False

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _load_pepper(data_dir: Path, production: bool) -> tuple[bytes, bool]:
    """The pepper keys every stored digest; losing it invalidates all keys, so it lives on disk
    (data/pepper, 0600) unless APIKEYS_PEPPER is set, which always wins. Production never
    creates one silently: `scripts/run --prod` does, and says to back it up."""
    configured = _env("APIKEYS_PEPPER")
    if configured:
        if len(configured) < 32:
            raise InsecureConfigurationError("APIKEYS_PEPPER must be at least 32 characters long")
        return configured.encode(), False
    pepper_file = data_dir / "pepper"
    if not pepper_file.exists():
        if production:
            raise InsecureConfigurationError(
                f"No pepper: set APIKEYS_PEPPER or create {pepper_file} (scripts/run --prod does "
                "it for you), then back it up."
            )
        private_directory(data_dir)
        descriptor = os.open(pepper_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    pepper = pepper_file.read_text().strip()
    if len(pepper) < 32:
        raise InsecureConfigurationError(f"{pepper_file} must hold at least 32 characters")
    return pepper.encode(), True


def private_directory(path: Path) -> None:
    """Create (or tighten) a folder only this account can enter: 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)


def private_file(path: Path) -> None:
    """Create an empty file readable by this account only (0600), or tighten an existing one.

    SQLite gives its -wal and -shm files the database file's mode, so they follow.
    """
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)


def load_settings() -> Settings:
    data_dir = Path(_env("APIKEYS_DATA_DIR") or PROJECT_ROOT / "data").resolve()
    database_url = _env("DATABASE_URL") or f"sqlite:///{data_dir / 'console.db'}"
    if database_url.startswith("sqlite:///") and ":memory:" not in database_url:
        database_path = Path(database_url.removeprefix("sqlite:///"))
        if database_path.parent == data_dir:
            private_directory(data_dir)
        else:  # an operator's own folder: create it private, never re-mode an existing one
            database_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        private_file(database_path)
    production = is_production()
    pepper, generated = _load_pepper(data_dir, production)
    origins = tuple(
        origin.strip().rstrip("/")
        for origin in (_env("APIKEYS_ALLOWED_ORIGINS") or DEFAULT_ORIGINS).split(",")
        if origin.strip()
    )
    if production and "*" in origins:
        raise InsecureConfigurationError(
            "Refusing to start in production with APIKEYS_ALLOWED_ORIGINS='*': list the console's origins."
        )
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        redis_url=_env("REDIS_URL") or None,
        pepper=pepper,
        pepper_is_generated=generated,
        key_prefix=_env("APIKEYS_KEY_PREFIX") or "bpk",
        expiry_interval_seconds=_float("APIKEYS_EXPIRY_INTERVAL", 30.0),
        last_used_flush_seconds=_float("APIKEYS_LAST_USED_FLUSH_INTERVAL", 1.0),
        session_hours=_float("APIKEYS_SESSION_HOURS", 12.0),
        allowed_origins=origins,
        verify_rate_limit_per_minute=int(_float("APIKEYS_VERIFY_RATE_LIMIT", 600_000)),
        password_hash_concurrency=max(1, int(_float("APIKEYS_PASSWORD_HASH_CONCURRENCY", 4))),
        login_free_failures_per_client=max(1, int(_float("APIKEYS_LOGIN_FAILURES_PER_CLIENT", 20))),
        production=production,
        host=_env("APIKEYS_HOST") or "127.0.0.1",
        usage_retention_days=_float("APIKEYS_USAGE_RETENTION_DAYS", 90.0),
        trusted_proxy_hops=int(_float("REFLEX_TRUSTED_PROXY_HOPS", 0)),
        management_rate_limit_per_minute=int(_float("APIKEYS_MANAGEMENT_RATE_LIMIT", 600)),
        idempotency_retention_hours=_float("APIKEYS_IDEMPOTENCY_RETENTION_HOURS", 24.0),
        metrics_token=_metrics_token(),
        log_format=_log_format(),
        bench_noop=_env("APIKEYS_BENCH_NOOP") == "1",
        signup_policy=_signup_policy(),
        bench_usage_off=_env("APIKEYS_BENCH_USAGE_OFF") == "1",
    )


SIGNUP_POLICIES = ("open", "invite", "closed")


def _signup_policy() -> str:
    """Default `invite`: a console that mints keys its operator's services accept must not let
    any stranger who can reach it sign up. The first account on an empty instance is always allowed."""
    value = (_env("APIKEYS_SIGNUP") or "invite").lower()
    if value not in SIGNUP_POLICIES:
        raise ValueError(f"APIKEYS_SIGNUP must be one of open, invite, closed; got {value!r}")
    return value


def _metrics_token() -> str:
    token = _env("APIKEYS_METRICS_TOKEN")
    if token and len(token) < 16:
        raise InsecureConfigurationError("APIKEYS_METRICS_TOKEN must be at least 16 characters long")
    return token


def _log_format() -> str:
    value = (_env("APIKEYS_LOG_FORMAT") or "text").lower()
    if value not in {"text", "json"}:
        raise ValueError(f"APIKEYS_LOG_FORMAT must be 'text' or 'json', got {value!r}")
    return value
