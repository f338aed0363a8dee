"""Names that display as what they are, one pepper per installation, origins, data-file modes."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sqlmodel import Session

from rxapp.context import app_context, get_settings
from rxapp.security import is_allowed_origin
from rxapp.services import instance
from rxapp.services import keys as key_service
from rxapp.services import profiles as profile_service
from rxapp.services.errors import ValidationError
from tests.unit.helpers import Person

HIDDEN = ["\u202egnp.exe-rtl", "pay\u200bments", "a\u2066b\u2069", "\ufeffbom", "x\u200dy", "l\u200fr"]


@pytest.mark.parametrize("name", HIDDEN)
def test_key_names_refuse_invisible_and_direction_characters(name: str) -> None:
    with pytest.raises(ValidationError) as error:
        key_service.clean_name(name)
    assert error.value.field == "name"


@pytest.mark.parametrize("text", HIDDEN)
def test_profile_names_and_descriptions_refuse_them_too(text: str) -> None:
    with pytest.raises(ValidationError):
        profile_service.validate_settings(text, "", ["age"], 0.5, "flag")
    with pytest.raises(ValidationError) as error:
        profile_service.validate_settings("ok", text, ["age"], 0.5, "flag")
    assert error.value.field == "description"


def test_ordinary_international_names_and_multiline_descriptions_are_fine() -> None:
    assert key_service.clean_name("Zahlungsdienst – Ü 東京 ✓") == "Zahlungsdienst – Ü 東京 ✓"
    profile_service.validate_settings("strict", "line one\nline\ttwo", ["age"], 0.5, "flag")


def test_a_second_pepper_is_refused_by_the_database(session: Session, alice: Person) -> None:
    instance.check_pepper(session, b"p" * 48)
    session.commit()
    instance.check_pepper(session, b"p" * 48)  # the same pepper, again: fine
    with pytest.raises(instance.PepperMismatchError) as error:
        instance.check_pepper(session, b"q" * 48)
    assert "APIKEYS_PEPPER" in error.value.message


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        ("http://localhost:3000", "localhost:3000", True),
        ("https://keys.example.com", "keys.example.com", True),
        ("http://console.internal:8123", "console.internal:8123", True),
        ("http://extra.example", "localhost:3000", True),  # allowlisted
        ("http://evil.example", "localhost:3000", False),
        ("http://localhost:1", "localhost:3000", False),
        ("null", "localhost:3000", False),
        ("", "localhost:3000", False),
        ("javascript://localhost:3000", "localhost:3000", False),
    ],
)
def test_origin_rule(origin: str, host: str, allowed: bool) -> None:
    assert is_allowed_origin(origin, host, {"http://extra.example"}) is allowed


@pytest.mark.parametrize("hops, allowed", [("1", True), ("", False)])
def test_forwarded_host_counts_only_behind_a_trusted_proxy(
    app_settings, monkeypatch: pytest.MonkeyPatch, hops: str, allowed: bool
) -> None:
    monkeypatch.setenv("REFLEX_TRUSTED_PROXY_HOPS", hops)
    app_context.reset()
    try:
        origin, host = "https://keys.example.com", "127.0.0.1:3000"
        assert is_allowed_origin(origin, host, set(), "evil.example, keys.example.com") is allowed
        assert not is_allowed_origin(origin, host, set(), "keys.example.com, evil.example")
    finally:
        app_context.reset()


def test_data_folder_and_database_are_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "fresh-data"
    monkeypatch.setenv("APIKEYS_DATA_DIR", str(data))
    monkeypatch.delenv("APIKEYS_PEPPER", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("APIKEYS_ENV", raising=False)
    monkeypatch.delenv("REFLEX_ENV_MODE", raising=False)
    app_context.reset()
    try:
        get_settings()
    finally:
        app_context.reset()
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "console.db").stat().st_mode) == 0o600
    assert stat.S_IMODE((data / "pepper").stat().st_mode) == 0o600


@pytest.mark.parametrize(("hops", "believed"), [("0", False), ("1", True)])
def test_x_forwarded_proto_counts_only_behind_a_trusted_proxy(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, hops: str, believed: bool
) -> None:
    from rxapp.security import _is_https

    monkeypatch.setenv("APIKEYS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("REFLEX_TRUSTED_PROXY_HOPS", hops)
    app_context.reset()
    try:
        scope = {"type": "http", "scheme": "http", "headers": [(b"x-forwarded-proto", b"https")]}
        assert _is_https(scope) is believed
        assert _is_https({"type": "http", "scheme": "https", "headers": []}) is True
    finally:
        app_context.reset()


def test_the_startup_check_leaves_no_pooled_connection_for_forked_workers(
    session: Session, alice: Person
) -> None:
    """Granian forks the workers after the app's import: an inherited connection would be shared."""
    from rxapp import db, startup

    db.get_engine.cache_clear()
    engine = db.get_engine()
    startup.ensure_same_pepper()
    assert engine.pool.checkedin() == 0 and engine.pool.checkedout() == 0
    db.get_engine.cache_clear()
