"""Keyset paging (the management API's and the CLI's cursors): every sort and direction walks the
same rows in the same order as one big page, ties and missing times included, and keys deleted or
created between two pages neither repeat nor push a key out of the walk. The audit trail likewise."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import Session, select

from rxapp.models import ApiKey
from rxapp.services import audit
from rxapp.services import keys as key_service
from rxapp.services.errors import ValidationError
from tests.unit.helpers import Person, utc_now

SORTS = ["created", "name", "last_used", "expires"]


def _seed(session: Session, person: Person, count: int = 13) -> None:
    """Keys with repeated names, some used and some ending, so every sort has ties and gaps."""
    now = utc_now()
    for number in range(count):
        created = key_service.create_key(
            session,
            person.access,
            person.actor,
            f"svc-{number % 4}",  # four names: ties on the name sort
            expires_at=now + dt.timedelta(days=1 + number % 3) if number % 2 else None,
            now=now + dt.timedelta(seconds=number),
        )
        if number % 3:
            row = session.exec(select(ApiKey).where(ApiKey.key_id == created.key.key_id)).one()
            row.last_used_at = now - dt.timedelta(minutes=number % 2)  # ties on last used too
    session.commit()


def _walk(
    session: Session, person: Person, sort: str, descending: bool, size: int, between=None
) -> list[str]:
    query = key_service.KeyQuery(sort=sort, descending=descending, page_size=size)  # type: ignore[arg-type]
    seen: list[str] = []
    after = None
    while True:
        page = key_service.list_keys(session, person.access, query, after=after)
        seen += [row.key_id for row in page.rows]
        if page.next_position is None:
            return seen
        if between:
            between(seen)
        after = key_service.KeyPosition(*page.next_position)


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("descending", [True, False])
def test_a_keyset_walk_matches_one_big_page(
    session: Session, alice: Person, sort: str, descending: bool
) -> None:
    _seed(session, alice)
    everything = key_service.list_keys(
        session,
        alice.access,
        key_service.KeyQuery(sort=sort, descending=descending, page_size=100),  # type: ignore[arg-type]
    )
    expected = [row.key_id for row in everything.rows]
    assert len(expected) == 13 and everything.next_position is None
    for size in (1, 2, 5, 13):
        assert _walk(session, alice, sort, descending, size) == expected, (sort, descending, size)


@pytest.mark.parametrize("sort", SORTS)
def test_keys_deleted_or_created_between_pages_shift_nothing(
    session: Session, alice: Person, sort: str
) -> None:
    _seed(session, alice)
    before = [
        row.key_id
        for row in key_service.list_keys(
            session,
            alice.access,
            key_service.KeyQuery(sort=sort, page_size=100),  # type: ignore[arg-type]
        ).rows
    ]
    deleted: list[str] = []

    def churn(seen: list[str]) -> None:
        """Delete the last key already read and one not read yet; add a key (it sorts anywhere)."""
        unread = next((k for k in before if k not in seen and k not in deleted), None)
        if unread is None:  # only keys made meanwhile are left
            return
        for key_id in (seen[-1], unread):
            key_service.delete_key(session, alice.access, alice.actor, key_id)
            deleted.append(key_id)
        key_service.create_key(session, alice.access, alice.actor, "svc-new")
        session.commit()

    seen = _walk(session, alice, sort, True, 3, between=churn)
    survivors = [key_id for key_id in before if key_id not in deleted[1::2]]  # unread deletions gone
    assert len(seen) == len(set(seen)), "a key repeated"
    assert [key_id for key_id in seen if key_id in before] == survivors, "a key was skipped"


def test_a_position_of_the_wrong_form_is_a_coded_error(session: Session, alice: Person) -> None:
    _seed(session, alice, 3)
    for sort, value in [("created", "not-a-time"), ("created", None), ("name", None), ("expires", "x")]:
        with pytest.raises(ValidationError) as caught:
            key_service.list_keys(
                session,
                alice.access,
                key_service.KeyQuery(sort=sort),  # type: ignore[arg-type]
                after=key_service.KeyPosition(value, 1),
            )
        assert caught.value.code == "BAD_CURSOR" and caught.value.field == "cursor"


def test_audit_keyset_pages_skip_events_recorded_meanwhile(session: Session, alice: Person) -> None:
    for number in range(7):
        key_service.create_key(session, alice.access, alice.actor, f"audited-{number}")
    session.commit()
    first, total, following = audit.events_after(session, alice.access, page_size=3)
    assert total >= 7 and following is not None
    key_service.create_key(session, alice.access, alice.actor, "newer")  # a new event on top
    session.commit()
    rest: list = []
    while following is not None:
        page, _total, following = audit.events_after(session, alice.access, after=following, page_size=3)
        rest += page
    walked = first + rest
    assert len(walked) == total  # nothing repeated, nothing lost; the newer event is not in this walk
    assert [event.created_at for event in walked] == sorted((e.created_at for e in walked), reverse=True)
    with pytest.raises(ValidationError):
        audit.events_after(session, alice.access, after=(None, 1))
