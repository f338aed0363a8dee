"""Finding a key from the key (what a person does when one leaks): the last four shown in the table,
or the whole secret, looked up by its digest within the workspace only. On SQLite and, when it is
reachable, PostgreSQL (its own throwaway schema of TEST_POSTGRES_URL)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from rxapp.services import key_format
from rxapp.services import keys as key_service
from tests.unit.backends import PG_URL, pg_reachable
from tests.unit.helpers import Person, new_user

Q = key_service.KeyQuery


@pytest.fixture(params=["sqlite", "postgresql"])
def db_session(request: pytest.FixtureRequest, engine: sa.Engine) -> Iterator[Session]:
    if request.param == "sqlite":
        with Session(engine, expire_on_commit=False) as session:
            yield session
        return
    if not pg_reachable():
        pytest.skip("PostgreSQL not reachable (TEST_POSTGRES_URL)")
    schema = f"findkey_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL, poolclass=sa.pool.NullPool)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    pg = sa.create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        SQLModel.metadata.create_all(pg)
        with Session(pg, expire_on_commit=False) as session:
            yield session
    finally:
        pg.dispose()
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _make(session: Session, person: Person, name: str) -> key_service.CreatedKey:
    created = key_service.create_key(session, person.access, person.actor, name)
    session.commit()
    return created


def _ids(session: Session, person: Person, search: str) -> list[str]:
    page = key_service.list_keys(session, person.access, Q(search=search, page_size=100))
    return sorted(row.key_id for row in page.rows)


def _with_tail(session: Session, person: Person, tail: str, name: str) -> key_service.CreatedKey:
    """A key whose masked form ends with `tail` (made by editing the row: the secret is random)."""
    created = _make(session, person, name)
    masked = key_format.mask("x" * 40 + tail, created.key.masked.split("_")[0])
    session.execute(
        sa.text("UPDATE api_keys SET masked = :m WHERE key_id = :k"), {"m": masked, "k": created.key.key_id}
    )
    session.commit()
    return created


def test_the_last_four_find_the_key_in_every_shape_they_are_copied(db_session: Session) -> None:
    alice = new_user(db_session, "alice@example.com")
    created = _make(db_session, alice, "Checkout")
    _make(db_session, alice, "Billing")
    tail = created.key.masked[-4:]
    prefix = created.key.masked.split("_")[0]
    assert created.secret.endswith(tail)
    for shape in (tail, f"•{tail}", f"…{tail}", created.key.masked, f"{prefix}_…{tail}", f"  {tail} "):
        assert created.key.key_id in _ids(db_session, alice, shape), shape


def test_the_last_four_are_case_sensitive_and_whole(db_session: Session) -> None:
    alice = new_user(db_session, "alice@example.com")
    upper = _with_tail(db_session, alice, "a1B9", "upper")
    lower = _with_tail(db_session, alice, "a1b9", "lower")
    _with_tail(db_session, alice, "Za1B", "shifted")
    assert _ids(db_session, alice, "a1B9") == [upper.key.key_id]
    assert _ids(db_session, alice, "•a1b9") == [lower.key.key_id]
    assert _ids(db_session, alice, "qqqq") == []


def test_a_whole_secret_finds_its_key_by_digest_and_nothing_else(db_session: Session) -> None:
    alice = new_user(db_session, "alice@example.com")
    wanted = _make(db_session, alice, "Leaked")
    for number in range(3):
        _make(db_session, alice, f"Other {number}")
    assert _ids(db_session, alice, wanted.secret) == [wanted.key.key_id]
    assert _ids(db_session, alice, f"  {wanted.secret}\n") == [wanted.key.key_id]
    assert key_service.find_by_secret(db_session, alice.access, wanted.secret) == key_service.SecretMatch(
        wanted.key.key_id
    )


def test_a_secret_of_another_workspace_finds_nothing_as_if_no_such_key(db_session: Session) -> None:
    alice = new_user(db_session, "alice@example.com")
    bob = new_user(db_session, "bob@example.com")
    _make(db_session, alice, "Alice's")
    bobs = _make(db_session, bob, "Bob's")
    never_made = key_format.generate_secret(bobs.key.masked.split("_")[0])
    assert _ids(db_session, alice, bobs.secret) == []
    assert _ids(db_session, alice, never_made) == []
    # Bob's key and a key never made answer alike: nothing tells a stranger that the key exists.
    assert key_service.find_by_secret(db_session, alice.access, bobs.secret) == key_service.SecretMatch(None)
    assert key_service.find_by_secret(db_session, alice.access, never_made) == key_service.SecretMatch(None)
    assert _ids(db_session, bob, bobs.secret) == [bobs.key.key_id]


def test_a_malformed_near_secret_is_searched_as_plain_text(db_session: Session) -> None:
    alice = new_user(db_session, "alice@example.com")
    created = _make(db_session, alice, "Typo")
    broken = created.secret[:-1] + ("A" if created.secret[-1] != "A" else "B")  # checksum fails
    assert key_service.find_by_secret(db_session, alice.access, broken) is None
    assert key_service.find_by_secret(db_session, alice.access, "checkout") is None
    assert _ids(db_session, alice, broken) == []  # no name or key ID contains it
    named = _make(db_session, alice, broken[:30])
    assert _ids(db_session, alice, broken[:30]) == [named.key.key_id]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a1B9", "a1B9"),
        ("•a1B9", "a1B9"),
        ("bpk_••••••••a1B9", "a1B9"),
        ("bpk_…a1B9", "a1B9"),
        ("...a1B9", "a1B9"),
        ("a1B", None),
        ("a1B9x", None),
        ("a1-9", None),
        ("other_a1B9", None),
    ],
)
def test_last_four_shapes(text: str, expected: str | None) -> None:
    assert key_service.last_four(text, "bpk") == expected
