"""The app context: members built once, pinned by `override` for a block, forgotten by `reset`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rxapp.context import AppContext
from rxapp.limiters import RateLimiter

RXAPP = Path(__file__).resolve().parents[2] / "rxapp"


def test_members_are_built_once_and_reset_rebuilds_them(
    app_settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    context = AppContext()
    limiter = context.verify_limiter
    assert context.verify_limiter is limiter
    assert limiter.rate == context.settings.verify_rate_limit_per_minute / 60.0
    monkeypatch.setenv("APIKEYS_VERIFY_RATE_LIMIT", "60")
    assert context.verify_limiter is limiter  # the environment is read once
    context.reset()
    assert context.verify_limiter is not limiter
    assert context.verify_limiter.rate == 1.0


def test_override_pins_for_the_block_and_survives_a_reset(app_settings) -> None:
    context = AppContext()
    built = context.verify_limiter
    pinned = RateLimiter(0)
    with context.override(verify_limiter=pinned, proxy_hops=3):
        assert (context.verify_limiter, context.proxy_hops) == (pinned, 3)
        with context.override(proxy_hops=1):
            assert context.proxy_hops == 1
        assert context.proxy_hops == 3
        context.reset()  # a test changing the environment keeps what it pinned
        assert (context.verify_limiter, context.proxy_hops) == (pinned, 3)
    assert context.verify_limiter is not pinned and context.verify_limiter is not built  # rebuilt
    with context.override(verify_limiter=pinned):
        pass
    assert context.verify_limiter is not pinned
    with pytest.raises(AttributeError), context.override(no_such_member=1):
        pass


def test_override_without_a_reset_restores_what_was_built(app_settings) -> None:
    context = AppContext()
    built = context.verify_limiter
    with context.override(verify_limiter=RateLimiter(0)):
        pass
    assert context.verify_limiter is built


def test_no_module_keeps_its_own_lazy_singleton() -> None:
    """Runtime singletons live in rxapp/context.py; redaction's record factory is process-wide."""
    found = {
        str(path.relative_to(RXAPP))
        for path in RXAPP.rglob("*.py")
        if re.search(r"^\s+global ", path.read_text(), re.M)
    }
    assert found <= {"redaction.py"}
