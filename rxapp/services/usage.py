"""Verifications per key per hour, by outcome: counted in memory, merged into hourly rows.

Like Last Used, counting costs no database write per verification: the hot path adds to an
in-memory counter, and the flush merges each worker's counters into `key_usage_hours` with one
upsert per key-hour (`valid = valid + n`), which is exact however many workers flush at once.
NOT_FOUND and MALFORMED belong to no key; the metrics count them per instance.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from rxapp.models import ApiKey, KeyUsageHour, core_table, utc_now
from rxapp.services.access import Access, Need, require
from rxapp.services.versioning import rows_matched

OUTCOMES = (
    "valid",
    "inactive",
    "expired",
    "rate_limited",
    "usage_exceeded",
    "insufficient_permissions",
    "forbidden",
)
OUTCOME_FOR_CODE = {
    "": "valid",
    "INACTIVE": "inactive",
    "EXPIRED": "expired",
    "RATE_LIMITED": "rate_limited",
    "USAGE_EXCEEDED": "usage_exceeded",
    "INSUFFICIENT_PERMISSIONS": "insufficient_permissions",
    "FORBIDDEN": "forbidden",
}
WINDOWS = {"24h": dt.timedelta(hours=24), "7d": dt.timedelta(days=7), "30d": dt.timedelta(days=30)}
_OUTCOME_INDEX = {code: OUTCOMES.index(outcome) for code, outcome in OUTCOME_FOR_CODE.items()}
_ONE_HOUR = dt.timedelta(hours=1)
_table = core_table(KeyUsageHour)


def hour_of(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def _zeros() -> list[int]:
    return [0] * len(OUTCOMES)


def _ignore_count(_key_row_id: int, _code: str, _when: dt.datetime) -> None:
    return None


class UsageBuffer:
    """(key row, hour) -> counts per outcome, per worker; drained by the flush."""

    def __init__(self) -> None:
        self._pending: dict[tuple[int, dt.datetime], list[int]] = defaultdict(_zeros)
        self._lock = threading.Lock()
        self.rows_written = 0
        never = dt.datetime.min.replace(tzinfo=dt.UTC)
        self._current = (never, never)  # the hour last counted in, and its end

    def count(self, key_row_id: int, code: str, when: dt.datetime) -> None:
        """`code` is the verification's code: "" (valid) or one of OUTCOME_FOR_CODE's refusals.

        On the hot path: the current hour is worked out once per hour, not per call."""
        hour, end = self._current  # one tuple, replaced whole: never half of two hours
        if not hour <= when < end:
            hour = hour_of(when)
            self._current = (hour, hour + _ONE_HOUR)
        with self._lock:
            self._pending[(key_row_id, hour)][_OUTCOME_INDEX[code]] += 1

    def switch_off_for_benchmark(self) -> None:
        """APIKEYS_BENCH_USAGE_OFF=1 (scripts/bench only): counting becomes a no-op, so the benchmark
        can compare verify with and without it. Replaces the bound method: no flag checked per call."""
        self.count = _ignore_count  # type: ignore[assignment]  # a bound method replaced on purpose

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def drain(self) -> dict[tuple[int, dt.datetime], list[int]]:
        with self._lock:
            batch, self._pending = dict(self._pending), defaultdict(_zeros)
        return batch

    def restore(self, batch: dict[tuple[int, dt.datetime], list[int]]) -> None:
        with self._lock:
            for key, counts in batch.items():
                pending = self._pending[key]
                for index, value in enumerate(counts):
                    pending[index] += value

    def flush(self, engine: sa.Engine) -> int:
        batch = self.drain()
        if not batch:
            return 0
        try:
            with engine.begin() as connection:
                merge_counts(connection, batch)
        except Exception:
            self.restore(batch)  # kept for the next attempt, nothing lost
            raise
        self.rows_written += len(batch)
        return len(batch)


def merge_counts(connection: sa.Connection, batch: dict[tuple[int, dt.datetime], list[int]]) -> None:
    """One upsert per key-hour. Rows of keys deleted meanwhile are skipped, not an error.

    On PostgreSQL the live keys are read FOR KEY SHARE (in id order): a key deleted by another
    transaction between this read and the upsert would fail the whole batch on the foreign key
    (seen with two instances); the lock makes that delete wait for this commit, and its cascade
    then removes the rows written here. SQLite has one writer at a time: no such window."""
    live_keys = (
        sa.select(col(ApiKey.id))
        .where(col(ApiKey.id).in_({key for key, _ in batch}))
        .order_by(col(ApiKey.id))
        .with_for_update(read=True, key_share=True)
    )
    live = set(connection.execute(live_keys).scalars())
    rows = [
        {"key_row_id": key, "hour": hour, **dict(zip(OUTCOMES, counts, strict=True))}
        for (key, hour), counts in sorted(batch.items())
        if key in live
    ]
    if not rows:
        return
    dialect = connection.dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_table)
    statement = insert.on_conflict_do_update(
        index_elements=["key_row_id", "hour"],
        set_={name: _table.c[name] + insert.excluded[name] for name in OUTCOMES},
    )
    connection.execute(statement, rows)


@dataclass(frozen=True)
class UsagePoint:
    hour: dt.datetime
    valid: int
    inactive: int
    expired: int
    rate_limited: int
    usage_exceeded: int = 0
    insufficient_permissions: int = 0
    forbidden: int = 0


def usage_series(session: Session, key_row_id: int, since: dt.datetime) -> list[UsagePoint]:
    """The key's hourly rows since `since`, oldest first (hours without calls are absent)."""
    rows = session.exec(
        select(KeyUsageHour)
        .where(KeyUsageHour.key_row_id == key_row_id, col(KeyUsageHour.hour) >= since)
        .order_by(col(KeyUsageHour.hour))
    ).all()
    return [
        UsagePoint(
            row.hour.astimezone(dt.UTC),
            *(getattr(row, outcome) for outcome in OUTCOMES),
        )
        for row in rows
    ]


def usage_totals(session: Session, key_row_ids: list[int], since: dt.datetime) -> dict[int, dict[str, int]]:
    """Per key, the number of calls by outcome since `since` (keys without calls are absent)."""
    if not key_row_ids:
        return {}
    rows = session.execute(  # five columns: more than sqlmodel's typed select() takes
        sa.select(
            col(KeyUsageHour.key_row_id),
            sa.func.sum(col(KeyUsageHour.valid)),
            sa.func.sum(col(KeyUsageHour.inactive)),
            sa.func.sum(col(KeyUsageHour.expired)),
            sa.func.sum(col(KeyUsageHour.rate_limited)),
            sa.func.sum(col(KeyUsageHour.usage_exceeded)),
            sa.func.sum(col(KeyUsageHour.insufficient_permissions)),
            sa.func.sum(col(KeyUsageHour.forbidden)),
        )
        .where(
            col(KeyUsageHour.key_row_id).in_(key_row_ids),
            col(KeyUsageHour.hour) >= since,
        )
        .group_by(col(KeyUsageHour.key_row_id))
    ).all()
    return {row[0]: dict(zip(OUTCOMES, (int(v or 0) for v in row[1:]), strict=True)) for row in rows}


def _buckets(window: str, now: dt.datetime, zone: dt.tzinfo) -> list[dt.datetime | dt.date]:
    """Hourly buckets (UTC hours, as stored) for 24 h, the reader's local days for 7 and 30 days,
    oldest first."""
    if window == "24h":
        last = hour_of(now)
        return [last - dt.timedelta(hours=offset) for offset in range(23, -1, -1)]
    today = now.astimezone(zone).date()
    days = 7 if window == "7d" else 30
    return [today - dt.timedelta(days=offset) for offset in range(days - 1, -1, -1)]


def chart_points(
    points: list[UsagePoint], window: str, now: dt.datetime, zone: dt.tzinfo = dt.UTC
) -> list[dict]:
    """The key page's chart: every bucket of the window, zeros included, as rows for a stacked bar
    chart (`label` plus a count per outcome). Labels and days are the reader's (`zone`); an hour
    row counts on the local day it starts in. Rows outside the window are left out."""
    buckets = _buckets(window, now, zone)
    hourly = window == "24h"
    totals: dict[dt.datetime | dt.date, dict[str, int]] = {
        bucket: dict.fromkeys(OUTCOMES, 0) for bucket in buckets
    }
    for point in points:
        bucket = point.hour if hourly else point.hour.astimezone(zone).date()
        if bucket in totals:
            for outcome in OUTCOMES:
                totals[bucket][outcome] += getattr(point, outcome)

    def label(bucket: dt.datetime | dt.date) -> str:
        if isinstance(bucket, dt.datetime):
            return bucket.astimezone(zone).strftime("%H:%M")
        return bucket.strftime("%d %b")

    return [{"label": label(bucket), **totals[bucket]} for bucket in buckets]


def prune(session: Session, retention: dt.timedelta, now: dt.datetime | None = None) -> int:
    """Drop hourly rows older than the retention (run by the expiry job)."""
    cutoff = hour_of((now or utc_now()) - retention)
    result = session.execute(sa.delete(KeyUsageHour).where(col(KeyUsageHour.hour) < cutoff))
    return rows_matched(result)


buffer = UsageBuffer()


def calls_by_key_id(
    session: Session, access: Access, key_ids: list[str], since: dt.datetime
) -> dict[str, int]:
    """Calls (every outcome) per owned key since `since`, for a page of the keys table."""
    workspace_id = require(access, Need.READ).workspace_id
    if not key_ids:
        return {}
    total = (
        KeyUsageHour.valid
        + KeyUsageHour.inactive
        + KeyUsageHour.expired
        + KeyUsageHour.rate_limited
        + KeyUsageHour.usage_exceeded
        + KeyUsageHour.insufficient_permissions
        + KeyUsageHour.forbidden
    )
    rows = session.exec(
        select(ApiKey.key_id, sa.func.sum(total))
        .join(KeyUsageHour, col(KeyUsageHour.key_row_id) == col(ApiKey.id))
        .where(
            ApiKey.workspace_id == workspace_id,
            col(ApiKey.key_id).in_(key_ids),
            col(KeyUsageHour.hour) >= hour_of(since),
        )
        .group_by(ApiKey.key_id)
    ).all()
    return {key_id: int(calls or 0) for key_id, calls in rows}
