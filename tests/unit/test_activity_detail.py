"""The Activity page shows audit detail readably (issue 10, item 9)."""

from __future__ import annotations

from rxapp.pages.activity import readable_detail


def test_key_value_detail_becomes_labelled_text() -> None:
    detail = "name='My, key' profile=None expires_at=2026-12-01T00:00:00+00:00"
    assert readable_detail(detail) == "Name: My, key · Profile: none · Expires at: 2026-12-01T00:00:00+00:00"
    assert readable_detail("rate_limit_per_minute=5") == "Rate limit per minute: 5"
    assert readable_detail("categories=a,b sensitivity=0.5 action=block") == (
        "Categories: a, b · Sensitivity: 0.5 · Action: block"
    )


def test_other_detail_is_shown_as_it_is() -> None:
    for detail in ["ACTIVE -> INACTIVE", "current password incorrect", "", "<b>x</b>"]:
        assert readable_detail(detail) == detail
