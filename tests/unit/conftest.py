"""Unit fixtures: a fresh SQLite file, a fresh pepper and fresh settings for every test.

Nothing is shared between tests; every test builds the users, keys and profiles it needs.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, SQLModel

import rxapp.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from rxapp import db, settings
from rxapp.context import app_context, get_settings
from tests.unit.backends import backend  # noqa: F401  (fixture: both databases, for the CLI tests)
from tests.unit.helpers import Person, make_fast_hasher, new_user

_ENV_TO_CLEAR = (
    "DATABASE_URL",
    "REDIS_URL",
    "APIKEYS_KEY_PREFIX",
    "APIKEYS_ENV",
    "REFLEX_ENV_MODE",
    "APIKEYS_SESSION_HOURS",
    "APIKEYS_VERIFY_RATE_LIMIT",
    "APIKEYS_SIGNUP",
)


@pytest.fixture
def pepper() -> str:
    return secrets.token_urlsafe(48)


@pytest.fixture
def app_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pepper: str) -> Iterator[settings.Settings]:
    for name in _ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("APIKEYS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("APIKEYS_PEPPER", pepper)
    app_context.reset()
    with app_context.override(password_hasher=make_fast_hasher()):
        yield get_settings()
    app_context.reset()


@pytest.fixture
def engine(app_settings: settings.Settings, tmp_path: Path) -> Iterator[sa.Engine]:
    engine = db.make_engine(f"sqlite:///{tmp_path}/t.db")
    SQLModel.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: sa.Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def alice(session: Session) -> Person:
    return new_user(session, "alice@example.com")


@pytest.fixture
def bob(session: Session) -> Person:
    return new_user(session, "bob@example.com")
