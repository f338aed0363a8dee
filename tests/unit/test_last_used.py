"""Last Used: recorded in memory on success only, flushed in batches, never moved backwards."""

from __future__ import annotations

import datetime as dt
import warnings

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from rxapp import api as api_module
from rxapp.context import app_context
from rxapp.hotpath import pipeline
from rxapp.limiters import RateLimiter
from rxapp.models import ApiKey
from rxapp.services import key_format
from rxapp.services import keys as key_service
from rxapp.services.last_used import LastUsedBuffer
from tests.unit.helpers import Person, utc, utc_now

with warnings.catch_warnings():  # starlette warns about httpx at import time
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


def _new_key(session: Session, person: Person, **kwargs) -> tuple[int, key_service.CreatedKey]:
    created = key_service.create_key(session, person.access, person.actor, "svc", **kwargs)
    session.commit()
    row = session.exec(select(ApiKey).where(ApiKey.key_id == created.key.key_id)).one()
    return row.id, created  # type: ignore[return-value]


def _last_used(session: Session, row_id: int) -> dt.datetime | None:
    session.expire_all()
    return session.get(ApiKey, row_id).last_used_at  # type: ignore[union-attr]


class _WriteSpy:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.writes: list[str] = []

    def __call__(self, _conn, _cursor, statement, *_args) -> None:
        if not statement.lstrip().upper().startswith(("SELECT", "PRAGMA")):
            self.writes.append(statement)

    def __enter__(self) -> _WriteSpy:
        sa.event.listen(self.engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *_exc) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self)


def test_record_does_not_write_until_flush(engine, session: Session, alice: Person) -> None:
    row_id, _ = _new_key(session, alice)
    buffer = LastUsedBuffer()
    with _WriteSpy(engine) as spy:
        for second in range(100):
            buffer.record(row_id, utc(2030, 1, 1, 0, 0, second % 60))
    assert spy.writes == []
    assert buffer.pending() == 1
    assert _last_used(session, row_id) is None

    assert buffer.flush(engine) == 1
    assert buffer.pending() == 0
    assert _last_used(session, row_id) == utc(2030, 1, 1, 0, 0, 59)
    assert (buffer.flushes, buffer.rows_written) == (1, 1)
    assert buffer.flush(engine) == 0  # nothing pending: no write
    assert buffer.flushes == 1


def test_flush_writes_a_batch_for_many_keys_in_one_transaction(
    engine, session: Session, alice: Person
) -> None:
    rows = [_new_key(session, alice)[0] for _ in range(5)]
    buffer = LastUsedBuffer()
    for index, row_id in enumerate(rows):
        buffer.record(row_id, utc(2030, 1, 1, 12, index))
    commits: list[int] = []

    def on_commit(_conn) -> None:
        commits.append(1)

    sa.event.listen(engine, "commit", on_commit)
    try:
        assert buffer.flush(engine) == 5
    finally:
        sa.event.remove(engine, "commit", on_commit)
    assert len(commits) == 1
    assert [_last_used(session, row_id) for row_id in rows] == [utc(2030, 1, 1, 12, i) for i in range(5)]


def test_flush_never_moves_last_used_backwards(engine, session: Session, alice: Person) -> None:
    row_id, _ = _new_key(session, alice)
    newer, older = utc(2030, 6, 1), utc(2030, 1, 1)
    first = LastUsedBuffer()
    first.record(row_id, newer)
    first.flush(engine)
    second = LastUsedBuffer()  # another worker with an older observation
    second.record(row_id, older)
    second.flush(engine)
    assert _last_used(session, row_id) == newer
    third = LastUsedBuffer()
    third.record(row_id, newer + dt.timedelta(seconds=1))
    third.flush(engine)
    assert _last_used(session, row_id) == newer + dt.timedelta(seconds=1)


def test_record_keeps_the_latest_time(engine, session: Session, alice: Person) -> None:
    row_id, _ = _new_key(session, alice)
    buffer = LastUsedBuffer()
    buffer.record(row_id, utc(2030, 1, 2))
    buffer.record(row_id, utc(2030, 1, 1))
    buffer.flush(engine)
    assert _last_used(session, row_id) == utc(2030, 1, 2)


def test_failed_flush_keeps_the_batch(engine, session: Session, alice: Person, tmp_path) -> None:
    row_id, _ = _new_key(session, alice)
    buffer = LastUsedBuffer()
    buffer.record(row_id, utc(2030, 1, 1))
    broken = sa.create_engine(f"sqlite:///{tmp_path}/empty.db")  # no api_keys table
    with pytest.raises(sa.exc.OperationalError):
        buffer.flush(broken)
    broken.dispose()
    assert buffer.pending() == 1
    assert (buffer.flushes, buffer.rows_written) == (0, 0)
    buffer.record(row_id, utc(2029, 1, 1))  # an older record meanwhile does not win
    assert buffer.flush(engine) == 1
    assert _last_used(session, row_id) == utc(2030, 1, 1)


def test_failed_flush_merges_with_newer_records(engine, session: Session, alice: Person, tmp_path) -> None:
    row_id, _ = _new_key(session, alice)
    buffer = LastUsedBuffer()
    buffer.record(row_id, utc(2030, 1, 1))
    broken = sa.create_engine(f"sqlite:///{tmp_path}/empty.db")
    with pytest.raises(sa.exc.OperationalError):
        buffer.flush(broken)
    broken.dispose()
    buffer.record(row_id, utc(2031, 1, 1))
    buffer.flush(engine)
    assert _last_used(session, row_id) == utc(2031, 1, 1)


# ---------------------------------------------------------------- through the HTTP route


@pytest.fixture
def client(engine, monkeypatch):
    """The verify route over the test database, with its own buffer and rate limiter."""
    buffer = LastUsedBuffer()
    monkeypatch.setattr(pipeline, "get_engine", lambda: engine)
    monkeypatch.setattr(pipeline, "last_used_buffer", buffer)
    with app_context.override(verify_limiter=RateLimiter(0)), TestClient(api_module.api) as test_client:
        yield test_client, buffer


def test_failed_verification_never_updates_last_used(client, engine, session: Session, alice: Person) -> None:
    http, buffer = client
    now = utc_now()
    inactive_id, inactive = _new_key(session, alice)
    key_service.update_key(
        session,
        alice.access,
        alice.actor,
        inactive.key.key_id,
        key_service.parse_changes({"status": "INACTIVE"}),
    )
    session.commit()
    expired_id, expired = _new_key(session, alice, expires_at=now + dt.timedelta(days=1))
    session.execute(
        sa.update(ApiKey).where(ApiKey.id == expired_id).values(expires_at=now - dt.timedelta(seconds=1))
    )
    session.commit()
    attempts = {
        inactive.secret: "INACTIVE",
        expired.secret: "EXPIRED",
        key_format.generate_secret("bpk"): "NOT_FOUND",
        "bpk_" + "A" * 38: "MALFORMED",
    }
    with _WriteSpy(engine) as spy:
        for secret, code in attempts.items():
            response = http.post("/api/v1/verify", headers={"Authorization": f"Bearer {secret}"})
            assert response.status_code == 200
            assert response.json() == {"valid": False, "code": code}
    assert spy.writes == []
    assert buffer.pending() == 0
    buffer.flush(engine)
    assert _last_used(session, inactive_id) is None
    assert _last_used(session, expired_id) is None


def test_successful_verification_records_without_a_write(
    client, engine, session: Session, alice: Person
) -> None:
    http, buffer = client
    row_id, created = _new_key(session, alice)
    with _WriteSpy(engine) as spy:
        for _ in range(10):
            response = http.post("/api/v1/verify", headers={"X-API-Key": created.secret})
            assert response.json()["valid"] is True
            assert response.json()["key_id"] == created.key.key_id
    assert spy.writes == []
    assert buffer.pending() == 1
    assert _last_used(session, row_id) is None
    assert buffer.flush(engine) == 1
    used = _last_used(session, row_id)
    assert used is not None
    assert abs((utc_now() - used).total_seconds()) < 60


def test_flush_for_a_deleted_key_is_harmless(engine, session: Session, alice: Person) -> None:
    row_id, created = _new_key(session, alice)
    buffer = LastUsedBuffer()
    buffer.record(row_id, utc(2030, 1, 1))
    key_service.delete_key(session, alice.access, alice.actor, created.key.key_id)
    session.commit()
    assert buffer.flush(engine) == 1
    assert buffer.pending() == 0
    assert session.get(ApiKey, row_id) is None
