"""Digest lookups for the verify hot path, below SQLAlchemy: no session, no ORM, no cache.

Each lookup runs one indexed SELECT in autocommit mode, so it sees every committed change: a key
turned INACTIVE or deleted fails on the very next call. The row shape is the one `keys.decide`
takes: (id, key_id, status, expires_at, profile id, name, description, categories, sensitivity,
action).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from typing import Any

_SELECT = (
    "SELECT k.id, k.key_id, k.status, k.expires_at, p.id, p.name, p.description, p.categories,"
    " p.sensitivity, p.action FROM api_keys AS k LEFT JOIN bias_profiles AS p"
    " ON k.bias_profile_id = p.id WHERE k.digest = {placeholder}"
)


class SqliteDigestLookup:
    """SQLite: one plain read-only sqlite3 connection per thread (WAL readers never wait for writers).

    Called directly on the event loop: the lookup is a few microseconds of indexed read, cheaper
    than the hop to a worker thread.
    """

    is_async = False
    SQL = _SELECT.format(placeholder="?")

    def __init__(self, database_path: str) -> None:
        self.database_path = database_path
        self._local = threading.local()

    def __call__(self, digest: str) -> tuple | None:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(
                f"file:{self.database_path}?mode=ro", uri=True, isolation_level=None, timeout=10
            )
            self._local.connection = connection
        return connection.execute(self.SQL, (digest,)).fetchone()


class PostgresDigestLookup:
    """PostgreSQL: a few psycopg async connections per worker, each with the SELECT prepared once.

    Autocommit, so every call reads the latest committed row. A connection that fails (server
    restart, network) is dropped and the call retried once on a fresh one.
    """

    is_async = True
    SQL = _SELECT.format(placeholder="%s")

    def __init__(self, conninfo: str, size: int = 4) -> None:
        self.conninfo = conninfo
        self.size = size
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle: list[Any] = []
        self._slots: asyncio.Semaphore | None = None

    def _bind_to_running_loop(self) -> asyncio.Semaphore:
        """Connections belong to one event loop; a new loop (tests, reload) starts a new pool."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._slots is None:
            for stale in self._idle:
                stale.pgconn.finish()
            self._loop, self._idle, self._slots = loop, [], asyncio.Semaphore(self.size)
        return self._slots

    async def _connect(self) -> Any:
        import psycopg

        return await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True, prepare_threshold=0)

    async def __call__(self, digest: str) -> tuple | None:
        import psycopg

        async with self._bind_to_running_loop():
            connection = self._idle.pop() if self._idle else await self._connect()
            try:
                try:
                    row = await self._fetch(connection, digest)
                except psycopg.OperationalError:
                    await connection.close()
                    connection = await self._connect()
                    row = await self._fetch(connection, digest)
            except BaseException:
                await connection.close()
                raise
            self._idle.append(connection)
            return row

    async def _fetch(self, connection: Any, digest: str) -> tuple | None:
        cursor = await connection.execute(self.SQL, (digest,), prepare=True)
        return await cursor.fetchone()

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.close()


def libpq_url(sqlalchemy_url: str) -> str:
    """`postgresql+psycopg://…` (SQLAlchemy) → `postgresql://…` (libpq), password kept."""
    import sqlalchemy as sa

    url = sa.engine.make_url(sqlalchemy_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)
