"""Helpers shared by the unit tests (fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import os
import threading
import uuid
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from sqlmodel import Session

from rxapp.hotpath.pipeline import check_key
from rxapp.services import users as user_service
from rxapp.services import workspaces as workspace_service
from rxapp.services.access import Access
from rxapp.services.key_lookup import Lookup, SqlAlchemyLookup, SqliteDigestLookup
from rxapp.services.keys import Verification

PASSWORD = "correct-horse-battery-staple-42"


def make_fast_hasher(**overrides: int) -> PasswordHasher:
    """argon2id with tiny costs: the rules are the same, the tests are fast."""
    params = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1, "hash_len": 16, "salt_len": 16}
    params.update(overrides)
    return PasswordHasher(**params)


@dataclass(frozen=True)
class Person:
    """A user and their access to their personal workspace (as owner)."""

    id: int
    email: str
    access: Access

    @property
    def actor(self) -> str:
        return self.email


def new_user(session: Session, email: str | None = None, password: str = PASSWORD) -> Person:
    email = email or f"user-{uuid.uuid4().hex[:10]}@example.com"
    public = user_service.sign_up(session, email, password)
    session.commit()
    return Person(id=public.id, email=public.email, access=workspace_service.resolve(session, public.id))


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def run_async(coroutine):
    """asyncio.run in a thread of its own: in a full run Playwright owns the main thread's loop.
    The thread runs in a copy of the caller's context (Reflex keeps its registry in a context
    variable, which a new thread would not see)."""
    result: list = []
    errors: list[BaseException] = []
    context = contextvars.copy_context()

    def target() -> None:
        try:
            result.append(context.run(asyncio.run, coroutine))
        except BaseException as error:
            errors.append(error)

    worker = threading.Thread(target=target)
    worker.start()
    worker.join(300)
    if errors:
        raise errors[0]
    return result[0] if result else None


def verify_key(source: sa.Connection | Lookup, secret: str, now: dt.datetime | None = None) -> Verification:
    """The verify pipeline's key stage (`rxapp.hotpath.pipeline.check_key`, the one the hot path
    runs) through a SQLAlchemy connection (it sees the connection's own writes) or a synchronous
    lookup. Such a lookup never waits, so the coroutine is done at its first step: no event loop."""
    lookup = SqlAlchemyLookup(source) if isinstance(source, sa.Connection) else source
    assert not lookup.is_async, "await check_key(lookup, ...) for an asynchronous lookup"
    if isinstance(lookup, SqliteDigestLookup):
        # On an event loop it batches (a future per call): in a full run Playwright's loop runs in
        # this thread, so the lookup gets a loop of its own, as the hot path's.
        return run_async(check_key(lookup, secret, now))
    step = check_key(lookup, secret, now)
    try:
        step.send(None)
    except StopIteration as done:
        return done.value
    step.close()
    raise AssertionError("check_key waited on a synchronous lookup")


def redis_url() -> str:
    """TEST_REDIS_URL, else the local Redis; the test is skipped when it does not answer. Tests
    share the server with whatever else runs (the PostgreSQL pass): their keys are their own."""
    url = os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception:
        pytest.skip(f"Redis not reachable at {url}")
    return url
