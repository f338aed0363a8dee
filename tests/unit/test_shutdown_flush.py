"""The Last Used flush loop writes at least every interval and once more when it is cancelled,
which is what happens to lifespan tasks when a worker shuts down gracefully."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlmodel import Session, SQLModel, select

from rxapp import db, jobs
from rxapp.context import app_context
from rxapp.models import ApiKey, IdempotencyRecord, utc_now
from rxapp.services import idempotency
from rxapp.services import keys as key_service
from rxapp.services import tokens as token_service
from rxapp.services import users as user_service
from rxapp.services import workspaces as workspace_service
from rxapp.services.last_used import buffer


@pytest.fixture()
def app_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("APIKEYS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("APIKEYS_PEPPER", secrets.token_urlsafe(40))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'jobs.db'}")
    monkeypatch.setenv("APIKEYS_LAST_USED_FLUSH_INTERVAL", "0.1")
    app_context.reset()
    db.get_engine.cache_clear()
    engine = db.get_engine()
    SQLModel.metadata.create_all(engine)
    with db.session_scope() as session:
        user = user_service.sign_up(session, "jobs@example.com", "jobs-test-password-1")
        key_id = key_service.create_key(
            session, workspace_service.resolve(session, user.id), user.email, "svc"
        ).key.key_id
    yield engine, key_id
    db.get_engine.cache_clear()
    app_context.reset()


def _run_async(coroutine_function):
    """asyncio.run in a fresh thread: Playwright's sync API may own this thread's event loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(coroutine_function())).result()


def _last_used(engine, key_id: str) -> dt.datetime | None:
    with Session(engine) as session:
        return session.exec(select(ApiKey.last_used_at).where(ApiKey.key_id == key_id)).one()


def _row_id(engine, key_id: str) -> int:
    with Session(engine) as session:
        return session.exec(select(ApiKey.id).where(ApiKey.key_id == key_id)).one()


def test_flush_loop_writes_periodically_and_on_shutdown(app_database) -> None:
    engine, key_id = app_database
    row_id = _row_id(engine, key_id)

    async def scenario() -> tuple[dt.datetime | None, dt.datetime | None]:
        task = asyncio.create_task(jobs.last_used_flush_loop())
        first = utc_now()
        buffer.record(row_id, first)
        await asyncio.sleep(0.5)
        periodic = _last_used(engine, key_id)
        # recorded just before shutdown: only the final flush can write it
        last = utc_now() + dt.timedelta(seconds=5)
        buffer.record(row_id, last)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return periodic, last

    periodic, last = _run_async(scenario)
    assert periodic is not None
    assert _last_used(engine, key_id) == last
    assert buffer.pending() == 0


def test_expiry_job_once_marks_due_keys(app_database) -> None:
    with db.session_scope() as session:
        user = user_service.find_user(session, "jobs@example.com")
        key_service.create_key(
            session,
            workspace_service.resolve(session, user.id),
            user.email,
            "soon",
            expires_at=utc_now() + dt.timedelta(milliseconds=200),
        )
    assert jobs.expire_keys_once() == 0
    time.sleep(0.3)
    assert jobs.expire_keys_once() == 1
    assert jobs.expire_keys_once() == 0


def test_expiry_job_prunes_idempotency_records_past_the_retention(app_database) -> None:
    with db.session_scope() as session:
        user = user_service.find_user(session, "jobs@example.com")
        access = workspace_service.resolve(session, user.id)
        created = token_service.create_token(session, access, user.email, "ci", ["keys:write"])
    with db.session_scope() as session:
        token_row = token_service.authenticate(session, created.secret).token_row_id
        idempotency.claim(session, token_row, "day-old", "a" * 64).created_at = utc_now() - dt.timedelta(
            hours=25
        )
        idempotency.claim(session, token_row, "recent", "b" * 64)
    jobs.expire_keys_once()
    with db.session_scope() as session:
        kept = session.exec(select(IdempotencyRecord.idempotency_key)).all()
    assert kept == ["recent"]
