"""The layout rules of issue 9, checked so they stay true: one sign-in guard, one place for the
sign-in path, small modules, a service layer free of Reflex, and /verify's schema as its answer."""

from __future__ import annotations

import asyncio
import inspect
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RXAPP = ROOT / "rxapp"
MAX_MODULE_LINES = 500


def _run(coroutine):
    """asyncio.run in its own thread: a full run has Playwright's event loop in this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _modules() -> list[Path]:
    return sorted(RXAPP.rglob("*.py"))


def test_no_module_is_longer_than_about_500_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in _modules()
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_the_sign_in_path_is_written_once() -> None:
    found = [str(p.relative_to(ROOT)) for p in _modules() if '"/sign-in"' in p.read_text()]
    assert found == ["rxapp/routes.py"]


def test_no_hand_written_sign_in_guard_remains() -> None:
    pattern = re.compile(
        r"if (user|await self\.current_user\(\)) is None:\s*\n\s*(return|yield) (rx\.redirect|_to_sign_in)"
    )
    copies = [str(p.relative_to(ROOT)) for p in _modules() if pattern.search(p.read_text())]
    assert copies == ["rxapp/state.py"]  # inside `requires_user`, the one definition


def test_services_never_import_reflex() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in (RXAPP / "services").rglob("*.py")
        if re.search(r"^\s*(import reflex|from reflex)", p.read_text(), re.MULTILINE)
    ]
    assert offenders == []


def test_the_guard_hides_user_from_the_event_signature_and_redirects_without_one(monkeypatch) -> None:
    from rxapp import state

    calls: list[tuple] = []

    async def handler(self, user, key_id: str):
        calls.append((user, key_id))
        return "ran"

    guarded = state.requires_user(handler)
    assert list(inspect.signature(guarded).parameters) == ["self", "key_id"]
    assert "user" not in guarded.__annotations__

    monkeypatch.setattr(state, "signed_in_user", lambda: None)
    redirect = _run(guarded(object(), "key_x"))
    assert calls == [] and "sign-in" in str(redirect)

    monkeypatch.setattr(state, "signed_in_user", lambda: "alice")
    assert _run(guarded(object(), "key_x")) == "ran"
    assert calls == [("alice", "key_x")]


def test_the_guard_refuses_a_handler_without_a_user_parameter() -> None:
    from rxapp.state import requires_user

    async def handler(self, key_id: str):
        return None

    with pytest.raises(TypeError):
        requires_user(handler)


def test_verify_answers_are_exactly_the_documented_model() -> None:
    from pydantic import ValidationError

    from rxapp.api.verify import VerifyOut

    VerifyOut.model_validate_json(b'{"valid":false,"code":"NOT_FOUND"}')
    with pytest.raises(ValidationError):  # a new field must be added to the model first
        VerifyOut.model_validate_json(b'{"valid":false,"code":"NOT_FOUND","workspace_id":1}')


def test_relative_times_use_the_singular_for_one() -> None:
    import datetime as dt

    from rxapp.components.timefmt import relative

    now = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
    assert relative(now - dt.timedelta(seconds=1), now) == "just now"
    assert relative(now - dt.timedelta(minutes=1), now) == "1 minute ago"
    assert relative(now - dt.timedelta(seconds=61), now) == "1 minute ago"
    assert relative(now + dt.timedelta(days=1, seconds=5), now) == "in 1 day"
    assert relative(now - dt.timedelta(hours=2), now) == "2 hours ago"


def test_after_sign_in_only_our_own_pages_are_a_destination() -> None:
    from rxapp.routes import safe_next, sign_in_for

    for good in [
        "/keys",
        "/keys?page=2&status=ACTIVE",
        "/keys/key_abc",
        "/profiles",
        "/activity?key=k",
        "/w/ws_a/keys",
    ]:
        assert safe_next(good) == good
    for bad in [
        "",
        "keys",
        "//evil.example",
        "/\\evil.example",
        "https://evil.example/keys",
        "/api/v1/verify",
        "/sign-in",
        "/keysx",
        "/keys\r\nSet-Cookie: x=1",
        "/" + "k" * 2000,
    ]:
        assert safe_next(bad) == "", bad
    assert sign_in_for("/activity?key=k", ended=True) == (
        "/sign-in?error=session_ended&next=%2Factivity%3Fkey%3Dk"
    )
    assert sign_in_for("//evil.example") == "/sign-in"
