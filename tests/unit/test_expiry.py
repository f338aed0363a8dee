"""The expiry job: one conditional UPDATE, one audit event per key, idempotent, safe in parallel."""

from __future__ import annotations

import datetime as dt
import os
import threading
import uuid
from collections import Counter

import pytest
import sqlalchemy as sa
from sqlmodel import Session, SQLModel, select

from rxapp import db
from rxapp.models import ApiKey, AuditEvent, KeyStatus
from rxapp.services import keys as key_service
from tests.unit.helpers import Person, new_user, utc_now


def _key(session: Session, person: Person, name: str, end: dt.datetime | None, now: dt.datetime) -> str:
    return key_service.create_key(
        session, person.access, person.actor, name, expires_at=end, now=now
    ).key.key_id


def _statuses(session: Session) -> dict[str, str]:
    session.expire_all()
    return {row.key_id: row.status for row in session.exec(select(ApiKey)).all()}


def _expire_events(session: Session) -> Counter[str]:
    rows = session.exec(select(AuditEvent).where(AuditEvent.action == "key.expire")).all()
    return Counter(row.target_id for row in rows)


def test_expire_due_keys_marks_only_due_keys_and_audits_each_once(session: Session, alice: Person) -> None:
    now = utc_now()
    soon = now + dt.timedelta(minutes=5)
    due_active = _key(session, alice, "due-active", soon, now)
    due_inactive = _key(session, alice, "due-inactive", soon, now)
    key_service.update_key(
        session,
        alice.access,
        alice.actor,
        due_inactive,
        key_service.parse_changes({"status": "INACTIVE"}),
        now=now,
    )
    later = _key(session, alice, "later", now + dt.timedelta(days=5), now)
    never = _key(session, alice, "never", None, now)
    session.commit()

    run_at = soon + dt.timedelta(seconds=1)
    assert key_service.expire_due_keys(session, now=run_at) == 2
    session.commit()
    statuses = _statuses(session)
    assert statuses == {
        due_active: "EXPIRED",
        due_inactive: "EXPIRED",
        later: "ACTIVE",
        never: "ACTIVE",
    }
    assert _expire_events(session) == Counter({due_active: 1, due_inactive: 1})
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "key.expire")).all()
    assert all(event.owner_id == alice.id and event.actor == "system" for event in events)

    # Idempotent: a second (and third) run finds nothing and writes nothing.
    assert key_service.expire_due_keys(session, now=run_at) == 0
    assert key_service.expire_due_keys(session, now=run_at + dt.timedelta(seconds=1)) == 0
    session.commit()
    assert _expire_events(session) == Counter({due_active: 1, due_inactive: 1})
    row = session.exec(select(ApiKey).where(ApiKey.key_id == due_active)).one()
    assert row.version == 2
    assert row.updated_at == run_at


def test_key_due_exactly_now_expires(session: Session, alice: Person) -> None:
    now = utc_now()
    end = now + dt.timedelta(seconds=10)
    key_id = _key(session, alice, "edge", end, now)
    session.commit()
    assert key_service.expire_due_keys(session, now=end - dt.timedelta(microseconds=1)) == 0
    assert key_service.expire_due_keys(session, now=end) == 1
    session.commit()
    assert _statuses(session)[key_id] == KeyStatus.EXPIRED


def test_expire_is_one_update_statement(engine, session: Session, alice: Person) -> None:
    now = utc_now()
    for index in range(10):
        _key(session, alice, f"k{index}", now + dt.timedelta(seconds=1), now)
    session.commit()
    statements: list[str] = []

    def spy(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement.lstrip().split()[0].upper())

    sa.event.listen(engine, "before_cursor_execute", spy)
    try:
        assert key_service.expire_due_keys(session, now=now + dt.timedelta(seconds=2)) == 10
        session.commit()
    finally:
        sa.event.remove(engine, "before_cursor_execute", spy)
    assert statements.count("UPDATE") == 1


def _race(engines: list[sa.Engine], now: dt.datetime) -> list[int]:
    barrier = threading.Barrier(len(engines))
    results: list[int] = [0] * len(engines)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            with Session(engines[index], expire_on_commit=False) as session:
                barrier.wait(timeout=10)
                results[index] = key_service.expire_due_keys(session, now=now)
                session.commit()
        except BaseException as error:  # reported below, in the main thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(engines))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


@pytest.mark.parametrize("round_", range(3))
def test_two_expiry_runs_at_once_expire_each_key_exactly_once(tmp_path, app_settings, round_: int) -> None:
    url = f"sqlite:///{tmp_path}/race.db"
    setup = db.make_engine(url)
    SQLModel.metadata.create_all(setup)
    now = utc_now()
    with Session(setup, expire_on_commit=False) as session:
        owner = new_user(session)
        due = [_key(session, owner, f"due-{i}", now + dt.timedelta(seconds=1), now) for i in range(40)]
        _key(session, owner, "future", now + dt.timedelta(days=1), now)
        session.commit()
    engines = [db.make_engine(url), db.make_engine(url)]
    try:
        results = _race(engines, now + dt.timedelta(seconds=5))
    finally:
        for engine in engines:
            engine.dispose()
    assert sum(results) == len(due)
    with Session(setup) as session:
        assert _expire_events(session) == Counter(dict.fromkeys(due, 1))
        statuses = _statuses(session)
        assert all(statuses[key_id] == "EXPIRED" for key_id in due)
        assert list(statuses.values()).count("ACTIVE") == 1
    setup.dispose()


POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture
def postgres_url(app_settings):
    """A private schema on the shared PostgreSQL (never touches `public`); skipped when unreachable."""
    pytest.importorskip("psycopg")
    schema = f"unit_{uuid.uuid4().hex[:12]}"
    try:
        admin = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with admin.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except Exception as error:  # no server, no database, no permission: skip cleanly
        pytest.skip(f"PostgreSQL not reachable: {type(error).__name__}")
    try:
        yield schema
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _pg_engine(schema: str) -> sa.Engine:
    return sa.create_engine(
        POSTGRES_URL, pool_size=4, connect_args={"options": f"-csearch_path={schema}", "connect_timeout": 3}
    )


def test_parallel_expiry_on_postgres_expires_each_key_once(postgres_url: str) -> None:
    setup = _pg_engine(postgres_url)
    SQLModel.metadata.create_all(setup)
    now = utc_now()
    with Session(setup, expire_on_commit=False) as session:
        owner = new_user(session)
        due = [_key(session, owner, f"due-{i}", now + dt.timedelta(seconds=1), now) for i in range(60)]
        session.commit()
    engines = [_pg_engine(postgres_url) for _ in range(4)]
    try:
        results = _race(engines, now + dt.timedelta(seconds=5))
    finally:
        for engine in engines:
            engine.dispose()
    assert sum(results) == len(due)
    with Session(setup) as session:
        assert _expire_events(session) == Counter(dict.fromkeys(due, 1))
    setup.dispose()
