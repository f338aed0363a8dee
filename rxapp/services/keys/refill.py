"""The refill job: each key with a refill gets its balance *set* to the refill amount once per
period (daily at 00:00 UTC, or monthly at 00:00 UTC on its day; the last day of a shorter month).

Idempotent across workers and runs: each UPDATE is conditional on `last_refill_at` being before
the current period's start and sets it to now, so a key is refilled once per period whoever runs
the job, and a run cut short is finished by the next. Each refill is audited (`key.refill`).
"""

from __future__ import annotations

import calendar
import datetime as dt

import sqlalchemy as sa
from sqlmodel import Session, col

from rxapp.models import ApiKey, utc_now
from rxapp.services import audit


def period_start(now: dt.datetime, interval: str, day: int | None = None) -> dt.datetime:
    """When the current period began: today's 00:00 UTC, or the latest monthly refill day."""
    today = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if interval == "day":
        return today
    wanted = day or 1
    this_month = today.replace(day=min(wanted, calendar.monthrange(today.year, today.month)[1]))
    if this_month <= today:
        return this_month
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return today.replace(year=year, month=month, day=min(wanted, calendar.monthrange(year, month)[1]))


def _refill(
    session: Session, condition: sa.ColumnElement[bool], before: dt.datetime, now: dt.datetime
) -> int:
    due = sa.or_(col(ApiKey.last_refill_at).is_(None), col(ApiKey.last_refill_at) < before)
    statement = (
        sa.update(ApiKey)
        .where(condition, due, col(ApiKey.refill_amount).is_not(None))
        .values(credits_remaining=col(ApiKey.refill_amount), last_refill_at=now)
        .returning(
            col(ApiKey.key_id), col(ApiKey.owner_id), col(ApiKey.workspace_id), col(ApiKey.refill_amount)
        )
    )
    refilled = session.execute(statement).all()
    for key_id, owner_id, workspace_id, amount in refilled:
        audit.record(
            session,
            action="key.refill",
            actor="refill job",
            owner_id=owner_id,
            workspace_id=workspace_id,
            target_type="key",
            target_id=key_id,
            detail=f"credits={amount}",
            when=now,
        )
    return len(refilled)


def refill_due_keys(session: Session, now: dt.datetime | None = None) -> int:
    """Refill every key whose current period has not been refilled yet; returns how many."""
    now = now or utc_now()
    refilled = _refill(session, col(ApiKey.refill_interval) == "day", period_start(now, "day"), now)
    for day in range(1, 32):
        condition = sa.and_(col(ApiKey.refill_interval) == "month", col(ApiKey.refill_day) == day)
        refilled += _refill(session, condition, period_start(now, "month", day), now)
    session.flush()
    return refilled
