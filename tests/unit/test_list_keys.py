"""list_keys: search, status filter (incl. effective EXPIRED), profile filter, sorting and paging."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from pydantic import ValidationError as PydanticValidationError
from sqlmodel import Session

from rxapp.models import ApiKey
from rxapp.services import keys as key_service
from rxapp.services import profiles as profile_service
from tests.unit.helpers import Person, utc_now

Q = key_service.KeyQuery


def _names(session: Session, person: Person, **query) -> list[str]:
    return [row.name for row in key_service.list_keys(session, person.access, Q(page_size=100, **query)).rows]


def _make(session: Session, person: Person, name: str, **kwargs) -> key_service.CreatedKey:
    return key_service.create_key(session, person.access, person.actor, name, **kwargs)


def test_search_by_name_is_case_insensitive_and_matches_key_id(session: Session, alice: Person) -> None:
    billing = _make(session, alice, "Billing Service")
    _make(session, alice, "search-api")
    _make(session, alice, "Reports")
    session.commit()
    assert _names(session, alice, search="billing") == ["Billing Service"]
    assert _names(session, alice, search="BILLING") == ["Billing Service"]
    assert _names(session, alice, search="  ing ser  ") == ["Billing Service"]
    assert sorted(_names(session, alice, search="s")) == ["Billing Service", "Reports", "search-api"]
    assert _names(session, alice, search=billing.key.key_id) == ["Billing Service"]
    assert _names(session, alice, search=billing.key.key_id[4:12]) == ["Billing Service"]
    assert _names(session, alice, search="nothing-like-this") == []


# A bare "_" is left out: every key ID contains a literal "_" ("key_..."), so it rightly matches all.
@pytest.mark.parametrize("wildcard", ["%", "%%", "a%c", "a_c", "_b_", "p_a_n", "\\", "'"])
def test_like_wildcards_in_search_are_literal(session: Session, alice: Person, wildcard: str) -> None:
    for name in ("plain", "other", "abc"):
        _make(session, alice, name)
    session.commit()
    assert _names(session, alice, search=wildcard) == []


def test_literal_wildcard_characters_are_found(session: Session, alice: Person) -> None:
    _make(session, alice, "100% uptime")
    _make(session, alice, "snake_case")
    _make(session, alice, "snakeXcase")
    _make(session, alice, "back\\slash")
    _make(session, alice, "1000 uptime")
    session.commit()
    assert _names(session, alice, search="%") == ["100% uptime"]
    assert _names(session, alice, search="0% u") == ["100% uptime"]
    assert _names(session, alice, search="e_c") == ["snake_case"]
    assert _names(session, alice, search="\\") == ["back\\slash"]


def test_status_filter_uses_effective_status(session: Session, alice: Person) -> None:
    now = utc_now()
    _make(session, alice, "active", now=now)
    _make(session, alice, "active-with-end", expires_at=now + dt.timedelta(days=2), now=now)
    inactive = _make(session, alice, "inactive", now=now)
    key_service.update_key(
        session,
        alice.access,
        alice.actor,
        inactive.key.key_id,
        key_service.parse_changes({"status": "INACTIVE"}),
    )
    past_end = _make(session, alice, "past-end", expires_at=now + dt.timedelta(hours=1), now=now)
    expired_by_job = _make(
        session, alice, "expired-by-job", expires_at=now + dt.timedelta(minutes=1), now=now
    )
    inactive_past = _make(
        session, alice, "inactive-past-end", expires_at=now + dt.timedelta(hours=1), now=now
    )
    key_service.update_key(
        session,
        alice.access,
        alice.actor,
        inactive_past.key.key_id,
        key_service.parse_changes({"status": "INACTIVE"}),
    )
    session.commit()
    later = now + dt.timedelta(days=1)
    session.execute(
        sa.update(ApiKey).where(ApiKey.key_id == expired_by_job.key.key_id).values(status="EXPIRED")
    )
    session.commit()

    def listed(status: str | None) -> list[str]:
        page = key_service.list_keys(
            session, alice.access, Q(status=status, page_size=100, sort="name", descending=False), now=later
        )
        return [(row.name, row.status) for row in page.rows]

    assert listed("ACTIVE") == [("active", "ACTIVE"), ("active-with-end", "ACTIVE")]
    assert listed("INACTIVE") == [("inactive", "INACTIVE")]
    assert listed("EXPIRED") == [
        ("expired-by-job", "EXPIRED"),
        ("inactive-past-end", "EXPIRED"),
        ("past-end", "EXPIRED"),
    ]
    assert len(listed(None)) == 6
    # The status column of the effectively expired key still says ACTIVE: the job has not run.
    row = session.get(
        ApiKey, session.scalars(sa.select(ApiKey.id).where(ApiKey.key_id == past_end.key.key_id)).one()
    )
    assert row.status == "ACTIVE"


def test_profile_filter(session: Session, alice: Person) -> None:
    strict = profile_service.create_profile(session, alice.access, alice.actor, "Strict")
    lenient = profile_service.create_profile(session, alice.access, alice.actor, "Lenient")
    _make(session, alice, "s1", bias_profile_id=strict.id)
    _make(session, alice, "s2", bias_profile_id=strict.id)
    _make(session, alice, "l1", bias_profile_id=lenient.id)
    _make(session, alice, "none1")
    session.commit()
    assert sorted(_names(session, alice, bias_profile=strict.id)) == ["s1", "s2"]
    assert _names(session, alice, bias_profile=lenient.id) == ["l1"]
    assert _names(session, alice, bias_profile=key_service.ProfileScope.NONE) == ["none1"]
    assert len(_names(session, alice)) == 4
    assert _names(session, alice, bias_profile=987654) == []
    rows = key_service.list_keys(session, alice.access, Q(bias_profile=strict.id)).rows
    assert {row.bias_profile_name for row in rows} == {"Strict"}


def test_sorts(session: Session, alice: Person) -> None:
    base = utc_now()
    specs = [  # name, created offset (min), last used (min or None), expires (days or None)
        ("bravo", 1, 5, 3),
        ("Alpha", 2, None, None),
        ("charlie", 3, 1, 1),
        ("delta", 0, 9, 2),
    ]
    for name, created, used, expires in specs:
        key = _make(
            session,
            alice,
            name,
            now=base + dt.timedelta(minutes=created),
            expires_at=base + dt.timedelta(days=expires) if expires else None,
        )
        if used is not None:
            session.execute(
                sa.update(ApiKey)
                .where(ApiKey.key_id == key.key.key_id)
                .values(last_used_at=base + dt.timedelta(minutes=used))
            )
    session.commit()

    def order(sort: str, descending: bool) -> list[str]:
        return _names(session, alice, sort=sort, descending=descending)

    assert order("created", True) == ["charlie", "Alpha", "bravo", "delta"]
    assert order("created", False) == ["delta", "bravo", "Alpha", "charlie"]
    assert order("last_used", True) == ["delta", "bravo", "charlie", "Alpha"]  # Never last
    assert order("last_used", False) == ["charlie", "bravo", "delta", "Alpha"]
    assert order("expires", False) == ["charlie", "delta", "bravo", "Alpha"]  # no end date last
    assert order("expires", True) == ["bravo", "delta", "charlie", "Alpha"]
    by_name = order("name", False)
    assert by_name[1:] == ["bravo", "charlie", "delta"]  # Alpha's place depends on collation
    assert order("name", True) == list(reversed(by_name))
    assert key_service.list_keys(session, alice.access).rows[0].name == "charlie"  # default: newest first


def test_paging_25_per_page_with_clamping(session: Session, alice: Person) -> None:
    base = utc_now()
    for index in range(53):
        _make(session, alice, f"key-{index:02d}", now=base + dt.timedelta(seconds=index))
    session.commit()

    def page(number: int, **kwargs) -> key_service.KeyPage:
        return key_service.list_keys(
            session, alice.access, Q(page=number, sort="created", descending=False, **kwargs)
        )

    first = page(1)
    assert (first.total, first.page, first.page_size, len(first.rows)) == (53, 1, 25, 25)
    assert first.rows[0].name == "key-00"
    second = page(2)
    assert [row.name for row in second.rows] == [f"key-{i:02d}" for i in range(25, 50)]
    last = page(3)
    assert (last.page, [row.name for row in last.rows]) == (3, ["key-50", "key-51", "key-52"])
    beyond = page(99)
    assert (beyond.page, beyond.total, len(beyond.rows)) == (3, 53, 3)
    assert page(0).page == 1
    assert page(-5).page == 1
    seen = {row.key_id for number in (1, 2, 3) for row in page(number).rows}
    assert len(seen) == 53
    assert key_service.list_keys(session, alice.access, Q(page_size=1000)).page_size == 100
    assert key_service.list_keys(session, alice.access, Q(page_size=0)).page_size == 1
    filtered = page(5, search="key-0")
    assert (filtered.total, filtered.page, len(filtered.rows)) == (10, 1, 10)


def test_empty_list(session: Session, alice: Person) -> None:
    result = key_service.list_keys(session, alice.access, Q(page=3))
    assert (result.rows, result.total, result.page) == ([], 0, 1)


def test_key_query_rejects_unknown_fields_and_values() -> None:
    with pytest.raises(PydanticValidationError):
        Q(owner_id=1)
    with pytest.raises(PydanticValidationError):
        Q(sort="digest")
    with pytest.raises(PydanticValidationError):
        Q(status="DELETED")
