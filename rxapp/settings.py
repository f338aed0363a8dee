"""Every setting in one place, read from environment variables with safe local defaults.

`Settings` declares each one with pydantic-settings: the variable it is read from, its default, its
type and its refusals. Values are stripped and an empty variable counts as unset. `load_settings`
reads them, then does what needs the disk: the database file kept private, the pepper. A refused
value is one line (`ValueError`, or `InsecureConfigurationError` for an unsafe secret or origin),
never pydantic's multi-line report, so `scripts/run --prod`, the CLI and the doctor print it as is.

Imported by rxconfig.py, so it must stay free of Reflex imports and cheap to load. A low module: it
imports nothing from the app. The process's one instance is `rxapp.context.get_settings()`.
Switches only the benchmark sets are not settings: rxapp/bench_switches.py.
"""

from __future__ import annotations

import math
import os
import secrets
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

from pydantic import (
    BeforeValidator,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ORIGINS = "http://localhost:3000,http://127.0.0.1:3000"
SIGNUP_POLICIES = ("open", "invite", "closed")
PRODUCTION_NAMES = frozenset({"prod", "production"})


class InsecureConfigurationError(RuntimeError):
    """Raised when production mode would run with a development secret."""


# ---------------------------------------------------------------- how a variable's text is read


def _variable(info: ValidationInfo) -> str:
    assert info.field_name is not None
    return str(Settings.model_fields[info.field_name].validation_alias)


def _non_negative(value: Any, info: ValidationInfo) -> Any:
    """A number, 0 or more (Python's float syntax: `1e3` and `2.5` too), or a one-line refusal."""
    if not isinstance(value, str):
        return value
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{_variable(info)} must be a number, got {value!r}") from None
    if number < 0:
        raise ValueError(f"{_variable(info)} must not be negative, got {value!r}")
    return number


def _whole(value: Any, info: ValidationInfo) -> Any:
    """A count: a non-negative number, its fraction dropped (`inf` and `nan` are not counts)."""
    number = _non_negative(value, info)
    if isinstance(number, float):
        if not math.isfinite(number):
            raise ValueError(f"{_variable(info)} must be a number, got {value!r}")
        return int(number)
    return number


def _at_least_one(value: Any, info: ValidationInfo) -> Any:
    """A count of at least 1 (0 would stop the thing it counts)."""
    number = _whole(value, info)
    return max(1, number) if isinstance(number, int) else number


def _origins(value: Any) -> Any:
    """Comma-separated, trailing slashes dropped: `https://a.example/, https://b.example`."""
    if not isinstance(value, str):
        return value
    return tuple(origin.strip().rstrip("/") for origin in value.split(",") if origin.strip())


def _seconds_list(value: Any, info: ValidationInfo) -> Any:
    """Comma-separated waits in seconds (`1,2,4`), each a non-negative number; at least one."""
    if not isinstance(value, str):
        return value
    waits = tuple(_non_negative(part.strip(), info) for part in value.split(",") if part.strip())
    if not waits:
        raise ValueError(f"{_variable(info)} must list at least one wait in seconds, got {value!r}")
    return waits


NonNegative = Annotated[float, BeforeValidator(_non_negative)]  # seconds, hours, days
Count = Annotated[int, BeforeValidator(_whole)]
AtLeastOne = Annotated[int, BeforeValidator(_at_least_one)]
Origins = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_origins)]  # not JSON: a plain list
SecondsList = Annotated[tuple[float, ...], NoDecode, BeforeValidator(_seconds_list)]
# Webhook retries (issue 26): exponential, about 24 hours in all after the first attempt.
WEBHOOK_RETRY_DEFAULT = "10,60,300,1800,3600,7200,14400,28800,28800"
# Email notices (issue 26): a failed send is tried again after these waits, about 21 hours in all.
SMTP_RETRY_DEFAULT = "60,300,1800,7200,21600,43200"
SMTP_SCHEMES = ("smtp", "smtps")
STARTTLS_CHOICES = ("auto", "require", "off")


def _from(variable: str, default: Any, **extra: Any) -> Any:
    """The field is read from exactly this variable (case-sensitive, no prefix), else `default`."""
    return Field(default, validation_alias=variable, **extra)


# ---------------------------------------------------------------- the settings


class Settings(BaseSettings):
    """Each field names the environment variable it comes from (see README, "Configuration")."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=True)

    data_dir: Path = _from("APIKEYS_DATA_DIR", PROJECT_ROOT / "data", validate_default=True)
    # Empty: the SQLite file console.db in data_dir.
    database_url: str = _from("DATABASE_URL", "", validate_default=True)
    redis_url: str | None = _from("REDIS_URL", None)
    # Production is asked for explicitly, or implied by `reflex run --env prod` (see `production`).
    apikeys_env: str = _from("APIKEYS_ENV", "")
    reflex_env_mode: str = _from("REFLEX_ENV_MODE", "")
    # Keys every stored digest. Empty here: load_settings reads (or makes) data_dir/pepper.
    pepper: bytes = _from("APIKEYS_PEPPER", b"", repr=False)
    key_prefix: str = _from("APIKEYS_KEY_PREFIX", "bpk")
    expiry_interval_seconds: NonNegative = _from("APIKEYS_EXPIRY_INTERVAL", 30.0)
    last_used_flush_seconds: NonNegative = _from("APIKEYS_LAST_USED_FLUSH_INTERVAL", 1.0)
    session_hours: NonNegative = _from("APIKEYS_SESSION_HOURS", 12.0)
    # Re-authentication ("sudo mode"): sensitive actions ask for the password (or a code) again
    # when the session last proved its identity longer ago than this.
    reauth_seconds: NonNegative = _from("APIKEYS_REAUTH_SECONDS", 600.0)
    allowed_origins: Origins = _from("APIKEYS_ALLOWED_ORIGINS", DEFAULT_ORIGINS, validate_default=True)
    # Verify calls per minute per client address (per worker; 0 turns the limit off).
    verify_rate_limit_per_minute: Count = _from("APIKEYS_VERIFY_RATE_LIMIT", 600_000)
    password_hash_concurrency: AtLeastOne = _from("APIKEYS_PASSWORD_HASH_CONCURRENCY", 4)
    login_free_failures_per_client: AtLeastOne = _from("APIKEYS_LOGIN_FAILURES_PER_CLIENT", 20)
    host: str = _from("APIKEYS_HOST", "127.0.0.1")
    usage_retention_days: NonNegative = _from("APIKEYS_USAGE_RETENTION_DAYS", 90.0)
    trusted_proxy_hops: Count = _from("REFLEX_TRUSTED_PROXY_HOPS", 0)
    # Management API calls per minute per token (per worker; 0 turns the limit off).
    management_rate_limit_per_minute: Count = _from("APIKEYS_MANAGEMENT_RATE_LIMIT", 600)
    # How long an Idempotency-Key is remembered (hours); older records are pruned by the expiry job.
    idempotency_retention_hours: NonNegative = _from("APIKEYS_IDEMPOTENCY_RETENTION_HOURS", 24.0)
    # Operations (issue 15): metrics bearer token (empty = /metrics off) and log format.
    metrics_token: str = _from("APIKEYS_METRICS_TOKEN", "", repr=False)
    log_format: str = _from("APIKEYS_LOG_FORMAT", "text")
    # Who may create an account from the browser: open | invite | closed (see README, "Sign-up").
    signup_policy: str = _from("APIKEYS_SIGNUP", "invite")
    # Webhooks (README, "Webhooks"): the waits between attempts, the HTTP timeout, how often the
    # outbox is read, when an endpoint failing since long is disabled, whether private addresses
    # (loopback, link-local, RFC 1918...) may be targets, and the credits_low threshold.
    webhook_retry_seconds: SecondsList = _from(
        "APIKEYS_WEBHOOK_RETRY_SECONDS", WEBHOOK_RETRY_DEFAULT, validate_default=True
    )
    webhook_timeout_seconds: NonNegative = _from("APIKEYS_WEBHOOK_TIMEOUT", 10.0)
    webhook_interval_seconds: NonNegative = _from("APIKEYS_WEBHOOK_INTERVAL", 1.0)
    webhook_disable_after_hours: NonNegative = _from("APIKEYS_WEBHOOK_DISABLE_AFTER_HOURS", 72.0)
    webhook_allow_private: bool = _from("APIKEYS_WEBHOOK_ALLOW_PRIVATE", False)
    webhook_credits_low: Count = _from("APIKEYS_WEBHOOK_CREDITS_LOW", 10)
    # Leak reports (README, "Leak reports"): the path of GitHub's secret-scanning public keys JSON
    # (empty: POST /api/v1/secret-scanning/github answers 401 to everything). Never fetched.
    secret_scanning_keys: str = _from("APIKEYS_SECRET_SCANNING_KEYS", "")
    # Single sign-on (README, "Single sign-on (OIDC)"): the OpenID provider's issuer URL, this
    # console's client there, and the name on the sign-in button. All three or none.
    oidc_issuer: str = _from("APIKEYS_OIDC_ISSUER", "")
    oidc_client_id: str = _from("APIKEYS_OIDC_CLIENT_ID", "")
    oidc_client_secret: str = _from("APIKEYS_OIDC_CLIENT_SECRET", "", repr=False)
    oidc_name: str = _from("APIKEYS_OIDC_NAME", "SSO")
    # Email notices (README, "Email notices"): the SMTP server, user and password in one URL (unset:
    # notices are shown in the console only), the From address, the timeout of one SMTP
    # conversation, the waits between attempts; and the console's public address, which every
    # link in an email starts with.
    smtp_url: str = _from("APIKEYS_SMTP_URL", "", repr=False)
    smtp_from: str = _from("APIKEYS_SMTP_FROM", "Key Console <keyconsole@localhost>")
    smtp_timeout_seconds: NonNegative = _from("APIKEYS_SMTP_TIMEOUT", 10.0)
    smtp_retry_seconds: SecondsList = _from(
        "APIKEYS_SMTP_RETRY_SECONDS", SMTP_RETRY_DEFAULT, validate_default=True
    )
    public_url: str = _from("APIKEYS_PUBLIC_URL", "http://localhost:3000")

    _pepper_from_file: bool = PrivateAttr(False)

    @property
    def production(self) -> bool:
        return (
            self.apikeys_env.lower() in PRODUCTION_NAMES or self.reflex_env_mode.lower() in PRODUCTION_NAMES
        )

    @property
    def pepper_is_generated(self) -> bool:
        """The pepper came from data_dir/pepper (made there on first start), not APIKEYS_PEPPER."""
        return self._pepper_from_file

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def oidc_enabled(self) -> bool:
        """Single sign-on is offered (the three OIDC settings are checked together below)."""
        return bool(self.oidc_issuer)

    @model_validator(mode="before")
    @classmethod
    def _stripped(cls, values: Any) -> Any:
        """Surrounding whitespace never counts, and an empty variable is an unset one."""
        if not isinstance(values, dict):
            return values
        return {
            name: value.strip() if isinstance(value, str) else value
            for name, value in values.items()
            if not (isinstance(value, str) and not value.strip())
        }

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.resolve()

    @field_validator("database_url")
    @classmethod
    def _database_in_data_dir(cls, value: str, info: ValidationInfo) -> str:
        return value or f"sqlite:///{info.data['data_dir'] / 'console.db'}"

    @field_validator("pepper")
    @classmethod
    def _long_pepper(cls, value: bytes) -> bytes:
        if value and len(value.decode()) < 32:
            raise InsecureConfigurationError("APIKEYS_PEPPER must be at least 32 characters long")
        return value

    @field_validator("metrics_token")
    @classmethod
    def _long_metrics_token(cls, value: str) -> str:
        if value and len(value) < 16:
            raise InsecureConfigurationError("APIKEYS_METRICS_TOKEN must be at least 16 characters long")
        return value

    @field_validator("log_format")
    @classmethod
    def _known_log_format(cls, value: str) -> str:
        value = value.lower()
        if value not in {"text", "json"}:
            raise ValueError(f"APIKEYS_LOG_FORMAT must be 'text' or 'json', got {value!r}")
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: str) -> str:
        """smtp://[user:password@]host[:port][?starttls=auto|require|off] or smtps://... The value
        is never repeated in a refusal: it may hold a password. Empty: no email."""
        if not value:
            return value
        parts = urlsplit(value)
        if parts.scheme.lower() not in SMTP_SCHEMES or not parts.hostname:
            raise ValueError(
                "APIKEYS_SMTP_URL must look like smtp://user:password@host:587 or smtps://host:465"
            )
        try:
            parts.port  # noqa: B018  (raises on a port that is not a number)
        except ValueError:
            raise ValueError("APIKEYS_SMTP_URL has a port that is not a number") from None
        starttls = parse_qs(parts.query).get("starttls", ["auto"])[-1].lower()
        if starttls not in STARTTLS_CHOICES:
            raise ValueError("APIKEYS_SMTP_URL: starttls must be auto, require or off")
        if starttls == "off" and parts.password:
            raise InsecureConfigurationError(
                "APIKEYS_SMTP_URL: starttls=off would send the SMTP password unencrypted; "
                "use STARTTLS or smtps://"
            )
        return value

    @field_validator("smtp_from")
    @classmethod
    def _smtp_from(cls, value: str) -> str:
        if "@" not in parseaddr(value)[1] or "\n" in value or "\r" in value:
            raise ValueError(f"APIKEYS_SMTP_FROM must be an email address, got {value!r}")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(
                "APIKEYS_PUBLIC_URL must be the console's address, like https://keys.example.com; "
                f"got {value!r}"
            )
        return value.rstrip("/")

    @field_validator("signup_policy")
    @classmethod
    def _known_signup_policy(cls, value: str) -> str:
        """Default `invite`: a console that mints keys its operator's services accept must not let
        any stranger who can reach it sign up. The first account on an empty instance is always allowed."""
        value = value.lower()
        if value not in SIGNUP_POLICIES:
            raise ValueError(f"APIKEYS_SIGNUP must be one of open, invite, closed; got {value!r}")
        return value

    @field_validator("oidc_issuer")
    @classmethod
    def _issuer_url(cls, value: str) -> str:
        """HTTPS, or plain HTTP on this machine only (a provider started for tests or trials)."""
        if not value:
            return value
        parts = urlsplit(value)
        local = parts.scheme == "http" and parts.hostname in _LOOPBACK_NAMES
        if not parts.netloc or parts.query or parts.fragment or not (parts.scheme == "https" or local):
            raise ValueError(f"APIKEYS_OIDC_ISSUER must be the provider's https:// issuer URL, got {value!r}")
        return value

    @field_validator("oidc_name")
    @classmethod
    def _button_name(cls, value: str) -> str:
        if len(value) > 40 or not value.isprintable():
            raise ValueError("APIKEYS_OIDC_NAME must be at most 40 printable characters")
        return value

    @model_validator(mode="after")
    def _oidc_all_or_none(self) -> Settings:
        given = [bool(self.oidc_issuer), bool(self.oidc_client_id), bool(self.oidc_client_secret)]
        if any(given) and not all(given):
            raise ValueError(
                "Single sign-on needs all of APIKEYS_OIDC_ISSUER, APIKEYS_OIDC_CLIENT_ID and "
                "APIKEYS_OIDC_CLIENT_SECRET (or none of them)"
            )
        return self


_LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})


# ---------------------------------------------------------------- loading, and what needs the disk


def load_settings() -> Settings:
    """The environment, checked; then the database file kept private and the pepper in hand."""
    try:
        settings = Settings()
    except ValidationError as error:  # one line, as the hand-written parser said it
        raise ValueError(_first_problem(error)) from None
    _keep_database_private(settings)
    if not settings.pepper:
        settings = settings.model_copy(
            update={"pepper": _pepper_file(settings.data_dir, settings.production)}
        )
        settings._pepper_from_file = True
    if settings.production and "*" in settings.allowed_origins:
        raise InsecureConfigurationError(
            "Refusing to start in production with APIKEYS_ALLOWED_ORIGINS='*': list the console's origins."
        )
    return settings


def _first_problem(error: ValidationError) -> str:
    first = error.errors(include_url=False)[0]
    cause = first.get("ctx", {}).get("error")
    if isinstance(cause, ValueError):
        return str(cause)
    return f"{'.'.join(map(str, first['loc']))}: {first['msg']}"


def _keep_database_private(settings: Settings) -> None:
    url = settings.database_url
    if url.startswith("sqlite:///") and ":memory:" not in url:
        database_path = Path(url.removeprefix("sqlite:///"))
        if database_path.parent == settings.data_dir:
            private_directory(settings.data_dir)
        else:  # an operator's own folder: create it private, never re-mode an existing one
            database_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        private_file(database_path)


def _pepper_file(data_dir: Path, production: bool) -> bytes:
    """The pepper keys every stored digest; losing it invalidates all keys, so it lives on disk
    (data/pepper, 0600) unless APIKEYS_PEPPER is set, which always wins. Production never
    creates one silently: `scripts/run --prod` does, and says to back it up."""
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
    return pepper.encode()


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
