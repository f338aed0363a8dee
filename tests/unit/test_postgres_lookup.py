"""The PostgreSQL lookup of the verify hot path (libpq driven by the event loop) returns what the
SQLAlchemy path returns, sees every commit at once, and survives a dropped connection.

Runs in its own throwaway schema of TEST_POSTGRES_URL; skipped when PostgreSQL is not reachable.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
import uuid
from collections.abc import Iterator
from urllib.parse import quote, urlsplit

import pytest
import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from rxapp.hotpath.pipeline import check_key
from rxapp.services import key_format
from rxapp.services import keys as key_service
from rxapp.services import profiles as profile_service
from rxapp.services.key_lookup_postgres import PostgresDigestLookup, libpq_url
from tests.unit.helpers import new_user, run_async, verify_key

URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _reachable() -> bool:
    parts = urlsplit(URL)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), timeout=2):
            return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not _reachable(), reason="PostgreSQL not reachable (TEST_POSTGRES_URL)")


@pytest.fixture
def pg_engine(app_settings) -> Iterator[tuple[sa.Engine, str]]:
    schema = f"hotpath_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(URL)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine = sa.create_engine(URL, connect_args={"options": f"-csearch_path={schema}"})
    SQLModel.metadata.create_all(engine)
    # Its own application_name, so the test only ever terminates its own connections.
    conninfo = libpq_url(URL) + "?options=" + quote(f"-csearch_path={schema}") + f"&application_name={schema}"
    try:
        yield engine, conninfo
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_same_rows_as_sqlalchemy_and_every_commit_seen_at_once(pg_engine) -> None:
    engine, conninfo = pg_engine
    with Session(engine, expire_on_commit=False) as session:
        alice = new_user(session, "alice@example.com")
        profile = profile_service.create_profile(
            session, alice.access, alice.actor, "strict ✓", categories=["age", "gender"], sensitivity=0.7
        )
        plain = key_service.create_key(session, alice.access, alice.actor, "plain")
        end = dt.datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC)
        rich = key_service.create_key(
            session, alice.access, alice.actor, "rich", bias_profile_id=profile.id, expires_at=end
        )
        session.commit()

    async def scenario() -> None:
        lookup = PostgresDigestLookup(conninfo, size=2)
        for created in (plain, rich):
            fast = await check_key(lookup, created.secret)
            with engine.connect() as connection:
                assert fast == verify_key(connection, created.secret)
            assert fast.valid
            assert (fast.workspace_id, fast.workspace_name) == (alice.access.workspace_public_id, "Personal")
        assert (await check_key(lookup, rich.secret)).expires_at == end
        assert (await check_key(lookup, key_format.generate_secret("bpk"))).code == "NOT_FOUND"
        assert (await check_key(lookup, "bpk_garbage")).code == "MALFORMED"
        # 24 callers on 2 connections, 8 arriving in each of three turns of the loop: each turn's
        # lookups go together (one SELECT ... ANY), the third turn's wait for a free connection;
        # every answer right, none mixed up, an unknown key among them still not found.
        unknown = key_format.generate_secret("bpk")
        secrets_ = [(plain.secret, rich.secret, unknown)[i % 3] for i in range(24)]
        sent: list[bytes] = []
        one_at_a_time = lookup._run

        async def watched(statement: bytes, params, retry: bool = True):
            sent.append(statement)
            return await one_at_a_time(statement, params, retry)

        async def over_three_turns() -> list:
            calls = []
            for turn in range(3):
                arriving = secrets_[turn * 8 : turn * 8 + 8]
                calls += [asyncio.ensure_future(check_key(lookup, secret)) for secret in arriving]
                await asyncio.sleep(0)
            return await asyncio.gather(*calls)

        lookup._run = watched  # type: ignore[method-assign]
        answers = await over_three_turns()
        lookup._run = one_at_a_time  # type: ignore[method-assign]
        assert sent == [PostgresDigestLookup.MANY] * 3
        # one alone goes as the single prepared SELECT
        lookup._run = watched  # type: ignore[method-assign]
        assert (await check_key(lookup, rich.secret)).valid
        lookup._run = one_at_a_time  # type: ignore[method-assign]
        assert sent[-1] == PostgresDigestLookup.STATEMENT
        # more than a batch's worth in one turn: one batch per free connection, at once
        in_flight = {"now": 0, "most": 0}

        async def counted(statement: bytes, params, retry: bool = True):
            in_flight["now"] += 1
            in_flight["most"] = max(in_flight["most"], in_flight["now"])
            try:
                return await one_at_a_time(statement, params, retry)
            finally:
                in_flight["now"] -= 1

        lookup.FIND_BATCH = 10  # type: ignore[misc]
        lookup._run = counted  # type: ignore[method-assign]
        answers_15 = await asyncio.gather(*(check_key(lookup, secret) for secret in secrets_[:15]))
        lookup._run = one_at_a_time  # type: ignore[method-assign]
        del lookup.FIND_BATCH
        assert in_flight["most"] == 2
        assert [a.key_id for a in answers_15] == [
            (plain.key.key_id, rich.key.key_id, "")[i % 3] for i in range(15)
        ]
        expected = [(plain.key.key_id, rich.key.key_id, "")[i % 3] for i in range(24)]
        assert [a.key_id for a in answers] == expected
        assert [a.code for a in answers][2::3] == ["NOT_FOUND"] * 8

        with Session(engine) as session:
            key_service.update_key(
                session,
                alice.access,
                alice.actor,
                plain.key.key_id,
                key_service.parse_changes({"status": "INACTIVE"}),
            )
            session.commit()
        assert (await check_key(lookup, plain.secret)).code == "INACTIVE"
        with Session(engine) as session:
            key_service.delete_key(session, alice.access, alice.actor, plain.key.key_id)
            session.commit()
        assert (await check_key(lookup, plain.secret)).code == "NOT_FOUND"

        # The server drops every connection of the pool: the next call reconnects and answers.
        with engine.begin() as connection:
            terminated = connection.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :name"
                ),
                {"name": conninfo.rsplit("=", 1)[1]},
            ).all()
        assert len(terminated) == 2
        await asyncio.sleep(0.2)
        assert (await check_key(lookup, rich.secret)).valid
        await lookup.close()

    run_async(scenario())


def test_a_cancelled_call_does_not_poison_the_pool(pg_engine) -> None:
    engine, conninfo = pg_engine
    with Session(engine, expire_on_commit=False) as session:
        alice = new_user(session, "alice@example.com")
        created = key_service.create_key(session, alice.access, alice.actor, "k")
        session.commit()

    async def scenario() -> None:
        lookup = PostgresDigestLookup(conninfo, size=1)
        task = asyncio.create_task(check_key(lookup, created.secret))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(3):
            assert (await check_key(lookup, created.secret)).key_id == created.key.key_id
        await lookup.close()

    run_async(scenario())


def test_concurrent_spends_share_commits_and_never_overspend(pg_engine) -> None:
    """Spends are committed in batches (group commit): 50 concurrent calls on 30 credits get
    exactly 30 distinct balances and 20 refusals; a dropped connection fails its batch, spends
    nothing, and the next call spends on a new connection."""
    engine, conninfo = pg_engine
    with Session(engine, expire_on_commit=False) as session:
        alice = new_user(session, "alice@example.com")
        created = key_service.create_key(session, alice.access, alice.actor, "metered")
        other = key_service.create_key(session, alice.access, alice.actor, "other")
        session.commit()
    with engine.connect() as connection:
        row_id, other_id = (
            connection.execute(
                sa.text("SELECT id FROM api_keys WHERE key_id = :k"), {"k": made.key.key_id}
            ).scalar_one()
            for made in (created, other)
        )

    def set_credits(row: int, credits: int) -> None:
        with engine.begin() as connection:
            connection.execute(
                sa.text("UPDATE api_keys SET credits_remaining = :c WHERE id = :id"),
                {"c": credits, "id": row},
            )

    def balance(row: int) -> int:
        with engine.connect() as connection:
            return connection.execute(
                sa.text("SELECT credits_remaining FROM api_keys WHERE id = :id"), {"id": row}
            ).scalar_one()

    set_credits(row_id, 30)
    set_credits(other_id, 100)

    async def scenario() -> None:
        lookup = PostgresDigestLookup(conninfo, size=2)
        answers = await asyncio.gather(*(lookup.spend(row_id, 1) for _ in range(50)))
        spent = [answer for answer in answers if answer is not None]
        assert sorted(spent) == list(range(30)) and answers.count(None) == 20
        assert balance(row_id) == 0
        # plenty on two keys: one UPDATE per key, each call answered the balance after it
        set_credits(row_id, 1000)
        costs = [(row_id if i % 2 else other_id, i + 1) for i in range(10)]
        answers = await asyncio.gather(*(lookup.spend(row, cost) for row, cost in costs))
        for row, start in ((row_id, 1000), (other_id, 100)):
            mine = [
                (cost, answer)
                for (spent_on, cost), answer in zip(costs, answers, strict=True)
                if spent_on == row
            ]
            assert sorted(answer for _, answer in mine) == sorted(
                start - sum(cost for cost, _ in mine[: i + 1]) for i in range(len(mine))
            )
            assert balance(row) == start - sum(cost for cost, _ in mine)
        set_credits(other_id, 100)
        # two keys and several costs in one batch: each spend sees the ones before it
        mixed = await asyncio.gather(
            lookup.spend(other_id, 40), lookup.spend(other_id, 50), lookup.spend(other_id, 20)
        )
        assert sorted(answer for answer in mixed if answer is not None) == [10, 60]
        assert balance(other_id) == 10

        # the connection dies while its batch waits (on a row lock held here): the call fails
        with engine.connect() as holder:
            holder.execute(sa.text("SELECT id FROM api_keys WHERE id = :id FOR UPDATE"), {"id": other_id})
            waiting = asyncio.ensure_future(lookup.spend(other_id, 1))
            await asyncio.sleep(0.3)
            assert not waiting.done()
            with engine.begin() as connection:
                connection.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE application_name = :name AND state = 'active'"
                    ),
                    {"name": conninfo.rsplit("=", 1)[1]},
                )
            with pytest.raises(Exception):  # noqa: B017 - psycopg's OperationalError, never retried
                await waiting
            holder.rollback()
        assert balance(other_id) == 10
        assert await lookup.spend(other_id, 1) == 9
        await lookup.close()

    run_async(scenario())
