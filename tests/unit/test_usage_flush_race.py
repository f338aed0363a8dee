"""The usage flush against a key deleted by another transaction while it runs (PostgreSQL).

Seen with two instances behind nginx: one instance flushed its hourly counts while the other
deleted a key it had counted. The flush read the key as live, the delete committed, and the upsert
then failed the whole batch on the foreign key (logged as an error, retried a second later). The
flush now reads the live keys FOR KEY SHARE, so the delete waits for the flush to commit and its
cascade removes the rows written for that key.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from rxapp.models import ApiKey, KeyUsageHour
from rxapp.services import keys as key_service
from rxapp.services import usage
from tests.unit.backends import fresh_pg_engine
from tests.unit.helpers import new_user

HOUR = dt.datetime(2026, 12, 7, 10, tzinfo=dt.UTC)


@pytest.fixture
def pg_engine(app_settings) -> Iterator[sa.Engine]:
    with fresh_pg_engine("usage_race") as made:
        yield made


def test_a_key_deleted_while_the_flush_runs_waits_for_it_and_nothing_fails(pg_engine: sa.Engine) -> None:
    with Session(pg_engine) as session:
        person = new_user(session)
        gone = key_service.create_key(session, person.access, person.actor, "gone")
        kept = key_service.create_key(session, person.access, person.actor, "kept")
        session.commit()
        ids = {
            made.key.key_id: session.exec(select(ApiKey.id).where(ApiKey.key_id == made.key.key_id)).one()
            for made in (gone, kept)
        }
    gone_id, kept_id = ids[gone.key.key_id], ids[kept.key.key_id]
    buffer = usage.UsageBuffer()
    buffer.count(gone_id, "", HOUR)
    buffer.count(kept_id, "", HOUR)

    deleted = threading.Event()
    errors: list[BaseException] = []

    def delete_the_key() -> None:
        try:
            with pg_engine.begin() as connection:
                connection.execute(sa.text("DELETE FROM api_keys WHERE id = :id"), {"id": gone_id})
            deleted.set()
        except BaseException as error:  # reported by the test
            errors.append(error)

    deleter = threading.Thread(target=delete_the_key)

    # between the flush's read of the live keys and its upsert, another transaction deletes one
    @sa.event.listens_for(pg_engine, "before_cursor_execute")
    def interpose(connection, cursor, statement, parameters, context, executemany) -> None:
        upsert = statement.startswith("INSERT INTO key_usage_hours")
        if upsert and not deleter.is_alive() and not deleted.is_set():
            deleter.start()
            # the delete must wait for this transaction: it holds the key FOR KEY SHARE
            assert not deleted.wait(1.0), "the delete went through while the flush held the key"

    try:
        assert buffer.flush(pg_engine) == 2
    finally:
        sa.event.remove(pg_engine, "before_cursor_execute", interpose)
    deleter.join(10)
    assert not errors and deleted.is_set()
    assert buffer.pending() == 0  # nothing kept for a retry: the batch went through
    with Session(pg_engine) as session:
        rows = session.exec(select(KeyUsageHour)).all()
    assert [(row.key_row_id, row.valid) for row in rows] == [(kept_id, 1)]  # the cascade took the other
