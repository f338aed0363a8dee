"""Write-behind buffer for Last Used: verification records in memory, a job flushes in batches.

A successful verification must not cost a database write; the flush runs at least every second
and at shutdown, and its conditional UPDATE never moves Last Used backwards (several workers).
"""

from __future__ import annotations

import datetime as dt
import threading

import sqlalchemy as sa

from rxapp.models import ApiKey, core_table

_api_keys = core_table(ApiKey)
_FLUSH_STATEMENT = (
    sa.update(_api_keys)
    .where(
        _api_keys.c.id == sa.bindparam("row_id"),
        sa.or_(
            _api_keys.c.last_used_at.is_(None),
            _api_keys.c.last_used_at < sa.bindparam("used_at"),
        ),
    )
    .values(
        last_used_at=sa.bindparam("used_at"),
        # the first successful call, for the rotation assistant (within the flush interval)
        first_used_at=sa.func.coalesce(_api_keys.c.first_used_at, sa.bindparam("used_at")),
    )
)


class LastUsedBuffer:
    def __init__(self) -> None:
        self._pending: dict[int, dt.datetime] = {}
        self._lock = threading.Lock()
        self.flushes = 0  # flushes that wrote something: the database writes verification caused
        self.rows_written = 0

    def record(self, key_row_id: int, used_at: dt.datetime) -> None:
        with self._lock:
            previous = self._pending.get(key_row_id)
            if previous is None or used_at > previous:
                self._pending[key_row_id] = used_at

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def flush(self, engine: sa.Engine) -> int:
        with self._lock:
            batch, self._pending = self._pending, {}
        if not batch:
            return 0
        try:
            with engine.begin() as connection:
                connection.execute(
                    _FLUSH_STATEMENT,
                    [{"row_id": row_id, "used_at": used_at} for row_id, used_at in batch.items()],
                )
        except Exception:
            for row_id, used_at in batch.items():  # keep them for the next attempt
                self.record(row_id, used_at)
            raise
        self.flushes += 1
        self.rows_written += len(batch)
        return len(batch)


buffer = LastUsedBuffer()
