"""The expiry job in chunks: every due key expired once, at most a chunk per statement, each chunk
its own commit, SQLite's relaxed durability confined to the job's connection, safe in parallel."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, select

from rxapp import db, jobs
from rxapp.models import ApiKey, AuditEvent
from rxapp.services import keys as key_service
from tests.unit.helpers import Person, new_user, utc_now
from tests.unit.test_expiry import _pg_engine, postgres_url  # noqa: F401 - the fixture, reused


def _key(session: Session, person: Person, name: str, end: dt.datetime | None, now: dt.datetime) -> str:
    return key_service.create_key(
        session, person.access, person.actor, name, expires_at=end, now=now
    ).key.key_id


def _expire_events(session: Session) -> Counter[str]:
    rows = session.exec(select(AuditEvent).where(AuditEvent.action == "key.expire")).all()
    return Counter(row.target_id for row in rows)


def _statuses(session: Session) -> dict[str, str]:
    session.expire_all()
    return {row.key_id: row.status for row in session.exec(select(ApiKey)).all()}


def test_a_limited_run_claims_at_most_its_limit_and_each_key_once(session: Session, alice: Person) -> None:
    now = utc_now()
    ids = [_key(session, alice, f"due-{i}", now + dt.timedelta(seconds=10 - i), now) for i in range(7)]
    future = _key(session, alice, "future", now + dt.timedelta(days=1), now)
    session.commit()
    run_at = now + dt.timedelta(seconds=20)

    assert key_service.expire_due_keys(session, now=run_at, limit=3) == 3
    session.commit()
    statuses = _statuses(session)
    first = [key_id for key_id in ids if statuses[key_id] == "EXPIRED"]
    assert len(first) == 3 and statuses[future] == "ACTIVE"
    assert _expire_events(session) == Counter(dict.fromkeys(first, 1))

    assert key_service.expire_due_keys(session, now=run_at, limit=3) == 3
    assert key_service.expire_due_keys(session, now=run_at, limit=3) == 1
    assert key_service.expire_due_keys(session, now=run_at, limit=3) == 0
    session.commit()
    statuses = _statuses(session)
    assert all(statuses[key_id] == "EXPIRED" for key_id in ids) and statuses[future] == "ACTIVE"
    assert _expire_events(session) == Counter(dict.fromkeys(ids, 1))


def test_the_job_expires_every_due_key_once_in_committed_chunks(engine: sa.Engine, alice: Person) -> None:
    now = utc_now()
    with Session(engine, expire_on_commit=False) as session:
        owner = new_user(session, "chunks@example.com")
        due = [
            _key(session, owner, f"due-{i}", now + dt.timedelta(milliseconds=i + 1), now) for i in range(23)
        ]
        inactive = _key(session, owner, "due-inactive", now + dt.timedelta(seconds=1), now)
        key_service.update_key(
            session,
            owner.access,
            owner.actor,
            inactive,
            key_service.parse_changes({"status": "INACTIVE"}),
            now=now,
        )
        later = _key(session, owner, "later", now + dt.timedelta(days=3), now)
        never = _key(session, owner, "never", None, now)
        session.commit()
    commits: list[int] = []

    def count_commit(_connection) -> None:
        commits.append(1)

    sa.event.listen(engine, "commit", count_commit)
    try:
        assert jobs.expire_due_in_chunks(engine, now=now + dt.timedelta(seconds=5), chunk=5) == 24
    finally:
        sa.event.remove(engine, "commit", count_commit)
    # five full chunks, the last (4) and one that finds nothing: each committed on its own
    assert len(commits) >= 6
    with Session(engine) as session:
        statuses = _statuses(session)
        assert all(statuses[key_id] == "EXPIRED" for key_id in [*due, inactive])
        assert statuses[later] == "ACTIVE" and statuses[never] == "ACTIVE"
        assert _expire_events(session) == Counter(dict.fromkeys([*due, inactive], 1))
    # nothing left: a second run claims nothing and writes nothing
    assert jobs.expire_due_in_chunks(engine, now=now + dt.timedelta(seconds=5), chunk=5) == 0
    with Session(engine) as session:
        assert sum(_expire_events(session).values()) == 24


def test_relaxed_durability_stays_on_the_jobs_connection(engine: sa.Engine, alice: Person) -> None:
    """synchronous=NORMAL for the job's commit only: the pooled connection goes back at FULL (2)."""
    with db.redoable_session_scope(engine) as session:
        assert session.connection().exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    for _ in range(3):  # whichever pooled connection comes next, a page's write is durable
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_a_failed_chunk_rolls_back_and_restores_durability(engine: sa.Engine, alice: Person) -> None:
    try:
        with db.redoable_session_scope(engine) as session:
            session.execute(sa.text("UPDATE api_keys SET name = 'x'"))
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2


def _chunked_race(engines: list[sa.Engine], now: dt.datetime, chunk: int) -> list[int]:
    barrier = threading.Barrier(len(engines))
    results = [0] * len(engines)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = jobs.expire_due_in_chunks(engines[index], now=now, chunk=chunk)
        except BaseException as error:  # reported below, in the main thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(engines))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for engine in engines:
        engine.dispose()
    assert not errors, errors
    return results


def test_two_chunked_runs_at_once_expire_each_key_exactly_once(tmp_path, app_settings) -> None:
    url = f"sqlite:///{tmp_path}/race.db"
    setup = db.make_engine(url)
    SQLModel.metadata.create_all(setup)
    now = utc_now()
    with Session(setup, expire_on_commit=False) as session:
        owner = new_user(session)
        due = [_key(session, owner, f"due-{i}", now + dt.timedelta(seconds=1), now) for i in range(50)]
        session.commit()
    results = _chunked_race([db.make_engine(url), db.make_engine(url)], now + dt.timedelta(seconds=5), 7)
    assert sum(results) == len(due)
    with Session(setup) as session:
        assert _expire_events(session) == Counter(dict.fromkeys(due, 1))
    setup.dispose()


def test_chunked_runs_in_parallel_on_postgres_expire_each_key_once(postgres_url: str) -> None:  # noqa: F811
    setup = _pg_engine(postgres_url)
    SQLModel.metadata.create_all(setup)
    now = utc_now()
    with Session(setup, expire_on_commit=False) as session:
        owner = new_user(session)
        due = [_key(session, owner, f"due-{i}", now + dt.timedelta(seconds=1), now) for i in range(60)]
        session.commit()
    results = _chunked_race([_pg_engine(postgres_url) for _ in range(4)], now + dt.timedelta(seconds=5), 7)
    assert sum(results) == len(due)
    with Session(setup) as session:
        assert _expire_events(session) == Counter(dict.fromkeys(due, 1))
    setup.dispose()
