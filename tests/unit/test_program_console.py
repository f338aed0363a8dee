"""Issue 24's console helpers: the identity filter of the keys list, the next refill the key page
shows, a duration as the dialog writes it back, and the dialog's payload (only changes on edit)."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session

from rxapp.pages.keys.detail.program import next_refill, program_facts
from rxapp.pages.keys.program_form import duration_text
from rxapp.services import keys as key_service
from tests.unit.helpers import Person


def test_the_keys_list_filters_by_identity(session: Session, alice: Person, bob: Person) -> None:
    acme = key_service.create_key(session, alice.access, alice.actor, "a", program={"identity": "acme"})
    key_service.create_key(session, alice.access, alice.actor, "b", program={"identity": "globex"})
    key_service.create_key(session, alice.access, alice.actor, "plain")
    key_service.create_key(session, bob.access, bob.actor, "bobs", program={"identity": "acme"})

    def names(identity: str) -> list[str]:
        page = key_service.list_keys(session, alice.access, key_service.KeyQuery(identity=identity))
        return sorted(row.name for row in page.rows)

    assert names("acme") == ["a"]  # never another workspace's key of the same external id
    assert names(" globex ") == ["b"]
    assert names("nobody") == []
    assert names("") == ["a", "b", "plain"]
    assert acme.key.identity == "acme"


def test_the_next_refill_is_the_next_period_start() -> None:
    now = dt.datetime(2026, 1, 31, 15, 0, tzinfo=dt.UTC)
    assert next_refill(now, "day", None) == dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    assert next_refill(now, "month", 31) == dt.datetime(2026, 2, 28, tzinfo=dt.UTC)  # a short month
    assert next_refill(now, "month", 15) == dt.datetime(2026, 2, 15, tzinfo=dt.UTC)
    early = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    assert next_refill(early, "month", 31) == dt.datetime(2026, 3, 31, tzinfo=dt.UTC)


def test_durations_read_back_in_the_largest_unit() -> None:
    assert [duration_text(ms) for ms in (1000, 60_000, 90_000, 3_600_000, 86_400_000, 1500)] == [
        "1s",
        "1m",
        "90s",
        "1h",
        "1d",
        "1500ms",
    ]


def test_the_key_page_facts(session: Session, alice: Person) -> None:
    made = key_service.create_key(
        session,
        alice.access,
        alice.actor,
        "pro",
        program={
            "credits": 1200,
            "refill": {"amount": 1000, "interval": "day"},
            "ratelimits": [{"name": "requests", "limit": 100, "duration": 60_000}],
            "permissions": ["docs.read"],
            "ip_allow": ["10.0.0.0/8"],
        },
    )
    facts = program_facts(made.key, dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC))
    assert facts["credits"] == "1,200"
    assert facts["refill"] == "1,000 every day"
    assert facts["next_refill"].startswith("2026-01-02T00:00")
    assert facts["limits"] == ["requests: 100 per 1m"]
    assert facts["ip_rules"] == ["10.0.0.0/8"] and facts["identity"] == "" and facts["meta"] == ""
