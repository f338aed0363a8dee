"""End dates: the presets people choose from, turning a choice into a date, and the expiry job.

A new way to pick an end date (a preset, a rule about dates) goes here; the pages only show
`EXPIRY_PRESETS` and hand the choice to `end_date_for`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Session

from rxapp.models import ApiKey, KeyStatus, core_table, utc_now
from rxapp.services import audit, moments
from rxapp.services.errors import ValidationError
from rxapp.services.notices import moments as key_moments


class ExpiryPreset(StrEnum):
    NEVER = "never"
    DAYS_7 = "7"
    DAYS_30 = "30"
    DAYS_60 = "60"
    DAYS_90 = "90"
    CUSTOM = "custom"


EXPIRY_PRESETS: dict[ExpiryPreset, str] = {
    ExpiryPreset.NEVER: "Never",
    ExpiryPreset.DAYS_7: "7 days",
    ExpiryPreset.DAYS_30: "30 days",
    ExpiryPreset.DAYS_60: "60 days",
    ExpiryPreset.DAYS_90: "90 days",
    ExpiryPreset.CUSTOM: "Custom date",
}


def parse_preset(value: str) -> ExpiryPreset:
    """Anything unknown means "never": a tampered choice cannot produce an odd date."""
    try:
        return ExpiryPreset(value)
    except ValueError:
        return ExpiryPreset.NEVER


def parse_date(value: str) -> dt.datetime | None:
    """A date field (YYYY-MM-DD) means midnight UTC at the start of that day; None if not a date."""
    try:
        return dt.datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def end_date_for(
    preset: ExpiryPreset, custom_date: str, now: dt.datetime, zone: dt.tzinfo = dt.UTC
) -> dt.datetime | None:
    """The end date a preset (or a custom YYYY-MM-DD date, ending that day in `zone`) stands for;
    None is "never"."""
    if preset == ExpiryPreset.NEVER:
        return None
    if preset == ExpiryPreset.CUSTOM:
        if not (custom_date or "").strip():
            raise ValidationError("Choose the end date.", field="expires_at")
        return moments.local_end_date(custom_date, zone, now)
    return now + dt.timedelta(days=int(preset.value))


def date_field(value: dt.datetime | None, zone: dt.tzinfo = dt.UTC) -> str:
    """The YYYY-MM-DD text a date field shows for an end date, in the reader's zone ("" for none)."""
    return value.astimezone(zone).strftime("%Y-%m-%d") if value else ""


EXPIRY_CHUNK = 5_000  # due rows claimed per statement (and per commit) by the expiry job


def expire_due_keys(session: Session, now: dt.datetime | None = None, limit: int | None = None) -> int:
    """One conditional UPDATE: safe when every worker runs it at once (a row is claimed once).

    With `limit`, it claims at most that many due keys (one UPDATE per status, through the
    (status, expires_at) index), so the job can commit in chunks: a row that another worker has
    claimed first is skipped by the status condition, which every UPDATE re-checks.
    """
    now = now or utc_now()
    keys = core_table(ApiKey)  # Core: no ORM bookkeeping per row
    due = (
        keys.c.status.in_([KeyStatus.ACTIVE.value, KeyStatus.INACTIVE.value]),
        keys.c.expires_at.is_not(None),
        keys.c.expires_at <= now,
    )
    if limit is None:
        return _claim(session, keys, due, now)
    # A chunk: the due keys of one status at a time, earliest end date first, read in the order of
    # the (status, expires_at) index and stopped after `limit`. With both statuses in one IN list,
    # SQLite walked the end-date index through every key that expired earlier, and PostgreSQL
    # scanned the table from the start for each chunk (24 s for 100,000 due of 1,000,000).
    claimed = 0
    for status in (KeyStatus.ACTIVE.value, KeyStatus.INACTIVE.value):
        if claimed >= limit:
            break
        chunk = (
            sa.select(keys.c.id)
            .where(keys.c.status == status, keys.c.expires_at.is_not(None), keys.c.expires_at <= now)
            .order_by(keys.c.expires_at)
            .limit(limit - claimed)
        )
        claimed += _claim(session, keys, (*due, keys.c.id.in_(chunk.scalar_subquery())), now)
    return claimed


def _claim(session: Session, keys: sa.Table, conditions: tuple, now: dt.datetime) -> int:
    """The conditional UPDATE (status re-checked: a row another worker claimed is skipped), one
    audit event per claimed key, and the `expired` moment told (webhooks, notices, emails)."""
    claimed = (
        session.execute(
            sa.update(keys)
            .where(*conditions)
            .values(status=KeyStatus.EXPIRED.value, updated_at=now, version=keys.c.version + 1)
            .returning(keys.c.id)
        )
        .scalars()
        .all()
    )
    for start in range(0, len(claimed), _AUDIT_BATCH):
        _audit_expired(session, keys, claimed[start : start + _AUDIT_BATCH], now)
    key_moments.expired(session, claimed, now)  # webhooks and notices, in the claim's transaction
    return len(claimed)


_AUDIT_BATCH = 5_000  # row ids per INSERT ... SELECT (SQLite allows 32,766 bound values)


def _audit_expired(session: Session, keys: sa.Table, row_ids: Sequence[int], now: dt.datetime) -> None:
    """One `key.expire` event per claimed key, copied by the database from the rows themselves:
    the values are bound once per statement, not once per row (which cost half the job's CPU)."""
    events = core_table(audit.AuditEvent)
    session.execute(
        sa.insert(events).from_select(
            [
                "owner_id",
                "workspace_id",
                "actor",
                "action",
                "target_type",
                "target_id",
                "detail",
                "client_address",
                "created_at",
            ],
            sa.select(
                keys.c.owner_id,
                keys.c.workspace_id,
                sa.literal(audit.SYSTEM_ACTOR),
                sa.literal("key.expire"),
                sa.literal("key"),
                keys.c.key_id,
                sa.literal("end date reached"),
                sa.literal(""),
                sa.literal(now, events.c.created_at.type),
            ).where(keys.c.id.in_(row_ids)),
        )
    )
