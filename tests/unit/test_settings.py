"""The settings (pydantic-settings): every variable's name and default, how its text is read, and
each refusal as one line. The benchmark's switches are not settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rxapp import settings as settings_module
from rxapp.bench_switches import BenchSwitches
from rxapp.settings import InsecureConfigurationError, Settings, load_settings

_TWO_ORIGINS = ("https://a.example", "https://b.example")
_NO_PEPPER = (
    "No pepper: set APIKEYS_PEPPER or create {data}/pepper (scripts/run --prod does it for you), "
    "then back it up."
)
_STAR = "Refusing to start in production with APIKEYS_ALLOWED_ORIGINS='*': list the console's origins."
_STAR_IN_PRODUCTION = {
    "APIKEYS_ENV": "prod",
    "APIKEYS_PEPPER": "p" * 40,
    "APIKEYS_ALLOWED_ORIGINS": "https://a.example,*",
}


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith(("APIKEYS_", "REFLEX_")) or name in {"DATABASE_URL", "REDIS_URL"}:
            monkeypatch.delenv(name)
    monkeypatch.setenv("APIKEYS_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_defaults(clean_env: Path) -> None:
    loaded = load_settings()
    assert loaded.data_dir == clean_env.resolve()
    assert loaded.database_url == f"sqlite:///{clean_env.resolve() / 'console.db'}"
    assert loaded.pepper_is_generated and len(loaded.pepper) >= 32
    assert loaded.pepper == (clean_env / "pepper").read_text().strip().encode()
    assert load_settings().pepper == loaded.pepper  # made once, then read
    expected = {
        "redis_url": None,
        "production": False,
        "key_prefix": "bpk",
        "expiry_interval_seconds": 30.0,
        "last_used_flush_seconds": 1.0,
        "session_hours": 12.0,
        "allowed_origins": ("http://localhost:3000", "http://127.0.0.1:3000"),
        "verify_rate_limit_per_minute": 600_000,
        "password_hash_concurrency": 4,
        "login_free_failures_per_client": 20,
        "host": "127.0.0.1",
        "usage_retention_days": 90.0,
        "trusted_proxy_hops": 0,
        "management_rate_limit_per_minute": 600,
        "idempotency_retention_hours": 24.0,
        "metrics_token": "",
        "log_format": "text",
        "signup_policy": "invite",
        "is_sqlite": True,
    }
    assert {name: getattr(loaded, name) for name in expected} == expected


@pytest.mark.parametrize(
    ("variable", "raw", "field", "value"),
    [
        ("APIKEYS_KEY_PREFIX", " abc ", "key_prefix", "abc"),
        ("APIKEYS_KEY_PREFIX", "   ", "key_prefix", "bpk"),  # blank is unset
        ("REDIS_URL", "redis://127.0.0.1:6379/7", "redis_url", "redis://127.0.0.1:6379/7"),
        ("REDIS_URL", " ", "redis_url", None),
        ("DATABASE_URL", "sqlite:///:memory:", "database_url", "sqlite:///:memory:"),
        ("APIKEYS_PEPPER", " " + "p" * 40 + " ", "pepper", b"p" * 40),
        ("APIKEYS_EXPIRY_INTERVAL", "2.5", "expiry_interval_seconds", 2.5),
        ("APIKEYS_LAST_USED_FLUSH_INTERVAL", "0", "last_used_flush_seconds", 0.0),
        ("APIKEYS_SESSION_HOURS", " 1e1 ", "session_hours", 10.0),
        (
            "APIKEYS_ALLOWED_ORIGINS",
            "https://a.example/, ,https://b.example",
            "allowed_origins",
            _TWO_ORIGINS,
        ),
        ("APIKEYS_VERIFY_RATE_LIMIT", "60.9", "verify_rate_limit_per_minute", 60),
        ("APIKEYS_PASSWORD_HASH_CONCURRENCY", "0", "password_hash_concurrency", 1),
        ("APIKEYS_LOGIN_FAILURES_PER_CLIENT", "0.5", "login_free_failures_per_client", 1),
        ("APIKEYS_HOST", "192.0.2.1", "host", "192.0.2.1"),
        ("APIKEYS_USAGE_RETENTION_DAYS", "7", "usage_retention_days", 7.0),
        ("REFLEX_TRUSTED_PROXY_HOPS", "2", "trusted_proxy_hops", 2),
        ("APIKEYS_MANAGEMENT_RATE_LIMIT", "0", "management_rate_limit_per_minute", 0),
        ("APIKEYS_IDEMPOTENCY_RETENTION_HOURS", "48", "idempotency_retention_hours", 48.0),
        ("APIKEYS_METRICS_TOKEN", "m" * 16, "metrics_token", "m" * 16),
        ("APIKEYS_LOG_FORMAT", " JSON ", "log_format", "json"),
        ("APIKEYS_SIGNUP", "Open", "signup_policy", "open"),
        ("APIKEYS_ENV", "Production", "production", True),
        ("REFLEX_ENV_MODE", "prod", "production", True),
        ("APIKEYS_ENV", "dev", "production", False),
    ],
)
def test_each_variable(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, variable: str, raw: str, field: str, value: object
) -> None:
    monkeypatch.setenv("APIKEYS_PEPPER", "q" * 40)  # production needs one
    monkeypatch.setenv(variable, raw)
    assert getattr(load_settings(), field) == value


def test_names_are_exact(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("apikeys_session_hours", "1")
    monkeypatch.setenv("SESSION_HOURS", "2")
    monkeypatch.setenv("session_hours", "3")
    assert load_settings().session_hours == 12.0


@pytest.mark.parametrize(
    ("environment", "error", "message"),
    [
        (
            {"APIKEYS_SESSION_HOURS": "twelve"},
            ValueError,
            "APIKEYS_SESSION_HOURS must be a number, got 'twelve'",
        ),
        (
            {"APIKEYS_EXPIRY_INTERVAL": " -1 "},
            ValueError,
            "APIKEYS_EXPIRY_INTERVAL must not be negative, got '-1'",
        ),
        (
            {"APIKEYS_VERIFY_RATE_LIMIT": "inf"},
            ValueError,
            "APIKEYS_VERIFY_RATE_LIMIT must be a number, got 'inf'",
        ),
        ({"APIKEYS_LOG_FORMAT": "XML"}, ValueError, "APIKEYS_LOG_FORMAT must be 'text' or 'json', got 'xml'"),
        (
            {"APIKEYS_OIDC_ISSUER": "http://sso.example.com", "APIKEYS_OIDC_CLIENT_ID": "c"},
            ValueError,
            "APIKEYS_OIDC_ISSUER must be the provider's https:// issuer URL, got 'http://sso.example.com'",
        ),
        (
            {"APIKEYS_OIDC_ISSUER": "https://sso.example.com", "APIKEYS_OIDC_CLIENT_ID": "c"},
            ValueError,
            "Single sign-on needs all of APIKEYS_OIDC_ISSUER, APIKEYS_OIDC_CLIENT_ID and "
            "APIKEYS_OIDC_CLIENT_SECRET (or none of them)",
        ),
        (
            {"APIKEYS_SIGNUP": "maybe"},
            ValueError,
            "APIKEYS_SIGNUP must be one of open, invite, closed; got 'maybe'",
        ),
        (
            {"APIKEYS_PEPPER": "short"},
            InsecureConfigurationError,
            "APIKEYS_PEPPER must be at least 32 characters long",
        ),
        (
            {"APIKEYS_METRICS_TOKEN": "short"},
            InsecureConfigurationError,
            "APIKEYS_METRICS_TOKEN must be at least 16 characters long",
        ),
        ({"APIKEYS_ENV": "production"}, InsecureConfigurationError, _NO_PEPPER),
        (_STAR_IN_PRODUCTION, InsecureConfigurationError, _STAR),
    ],
)
def test_refusals_are_one_line(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], error: type, message: str
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(error) as raised:
        load_settings()
    assert str(raised.value) == message.format(data=clean_env.resolve())
    assert not (clean_env / "pepper").exists()  # a refused configuration makes no pepper


def test_a_short_pepper_file_is_refused(clean_env: Path) -> None:
    settings_module.private_directory(clean_env)
    (clean_env / "pepper").write_text("short\n")
    with pytest.raises(InsecureConfigurationError, match="must hold at least 32 characters"):
        load_settings()


def test_the_benchmark_switches_are_not_settings(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    variables = {str(field.validation_alias) for field in Settings.model_fields.values()}
    assert not {name for name in variables if "BENCH" in name}
    assert not any("bench" in name for name in Settings.model_fields)
    for raw, on in [(None, False), ("1", True), (" 1 ", True), ("true", False), ("0", False), ("", False)]:
        for variable in ("APIKEYS_BENCH_NOOP", "APIKEYS_BENCH_USAGE_OFF"):
            if raw is None:
                monkeypatch.delenv(variable, raising=False)
            else:
                monkeypatch.setenv(variable, raw)
        assert (BenchSwitches().noop, BenchSwitches().usage_off) == (on, on), raw
