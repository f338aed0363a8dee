"""The Activity page shows audit detail readably (issue 10, item 9)."""

from __future__ import annotations

from rxapp.services.audit_text import LinkedDetail, event_summary, linked_detail, readable_detail


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


def test_a_repeated_event_carries_its_count() -> None:
    assert event_summary("name='x'", 3) == "Name: x (×3)"
    assert event_summary("name='x'") == "Name: x"


def test_a_roll_detail_names_the_other_key_for_a_link() -> None:
    """Issue 22 item 5: the key page links the other key of a roll, on both trails."""
    assert linked_detail("rolled from key_abc") == LinkedDetail("Rolled from ", "key_abc", "")
    assert linked_detail("rolled to key_new; old key ends 2026-12-01T00:00:00+00:00") == LinkedDetail(
        "Rolled to ", "key_new", "; old key ends 2026-12-01T00:00:00+00:00"
    )
    assert linked_detail("name='x' profile=None") == LinkedDetail("Name: x · Profile: none", "", "")


def test_programmable_fields_read_as_words() -> None:
    """Issue 24: rate limits, permissions, refill and lists read as words, not Python list reprs."""
    detail = (
        "ratelimits=['requests=100/60000ms', 'burst=5/1000ms'] permissions=['a', 'b.c'] credits=5"
        " refill=10000/month@1 meta=set ip_allow=[] identity='acme'"
    )
    assert readable_detail(detail) == (
        "Rate limits: requests 100 per minute, burst 5 per second · Permissions: a, b.c · Credits: 5"
        " · Refill: 10,000 a month on day 1 · Metadata: set · IP allowlist: none · Identity: acme"
    )
    assert readable_detail("ratelimits=['x=3/7200000ms'] refill=50/day") == (
        "Rate limits: x 3 per 2 hours · Refill: 50 a day"
    )
    assert readable_detail("ip_allow=['10.0.0.0/8', '::1/128']") == "IP allowlist: 10.0.0.0/8, ::1/128"
    assert "[" not in readable_detail("external_id='acme' ratelimits=['requests=10/60000ms'] meta=none")
