"""The application's own engine (the service layer never imports Reflex, so it never uses rx.session)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import sqlalchemy as sa
from sqlmodel import Session

from rxapp.context import get_settings


def _tune_sqlite(dbapi_connection, _record) -> None:
    """WAL lets readers run beside the writer; FULL sync makes a committed key survive power loss."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str) -> sa.Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 10},
            pool_size=16,
            max_overflow=16,
        )
        sa.event.listen(engine, "connect", _tune_sqlite)
        return engine
    return sa.create_engine(url, pool_size=16, max_overflow=16, pool_pre_ping=True)


@lru_cache(maxsize=1)
def get_engine() -> sa.Engine:
    return make_engine(get_settings().database_url)


@contextmanager
def session_scope(engine: sa.Engine | None = None) -> Iterator[Session]:
    """One unit of work: committed if the block succeeds, rolled back if it raises."""
    with Session(engine or get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def redoable_session_scope(engine: sa.Engine | None = None) -> Iterator[Session]:
    """A unit of work that the next run of a job redoes if it is lost (the expiry job).

    On SQLite its commit does not wait for the disk (synchronous=NORMAL on this connection only,
    set back to FULL before the connection returns to the pool): WAL keeps the file consistent,
    and a power cut loses at most this commit, which the next run claims again. Elsewhere it is
    `session_scope`.
    """
    engine = engine or get_engine()
    if engine.dialect.name != "sqlite":
        with session_scope(engine) as session:
            yield session
        return
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA synchronous=NORMAL")
        connection.commit()
        try:
            with Session(bind=connection, expire_on_commit=False) as session:
                try:
                    yield session
                    session.commit()
                except BaseException:
                    session.rollback()
                    raise
        finally:
            connection.rollback()
            connection.exec_driver_sql("PRAGMA synchronous=FULL")
            connection.commit()
