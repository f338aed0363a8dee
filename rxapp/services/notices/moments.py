"""The one place that decides "key X reached moment M", and tells whoever follows: the webhook
outbox, and each person concerned (a notice in the console, and an email when SMTP is set up).

The moments:
- `expiring`: the key's end date is within 30, 7 or 1 day(s) (the smallest of these at or above
  the time left, found by the expiry job's scan); webhooks hear of all three, people of 7 and 1;
- `expired`: the expiry job claimed the key (in the claim's transaction);
- `leaked`: a leak report about the key was handled (in the report's transaction);
- `unused`: the workspace's unused-key rule warned that the key will be disabled on a date if
  still unused (services/keys/idle.py, in the warning's transaction); the date is the moment's
  `key_expires_at`, so a new warning after a use is a new moment.

Each is one `key_moments` row, inserted with ON CONFLICT DO NOTHING against its unique moment
(key, kind, reminder, end date, leak report). Only the statement that created a row tells anyone,
so a moment is told once however many workers detect it at the same time, and a rolled-back change
tells nobody. A new end date is a new moment: a key that is extended is reminded again.

Who is told: the workspace's owners and the key's creator while still a member (once each), never
a disabled account. What they are told never holds the key's secret, digest or masked form.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from rxapp.context import get_settings
from rxapp.models import (
    ApiKey,
    KeyMoment,
    KeyStatus,
    LeakReport,
    Membership,
    Notice,
    Role,
    User,
    core_table,
    utc_now,
)
from rxapp.services.webhooks import outbox as webhooks

EXPIRING, EXPIRED, LEAKED, UNUSED = "expiring", "expired", "leaked", "unused"
REMINDER_DAYS = webhooks.EXPIRING_DAYS  # (1, 7, 30): `key.expiring` at each
NOTICE_DAYS = (1, 7)  # the reminders people get (30 days ahead is for machines)
_CHUNK = 5_000  # ids per statement (SQLite allows 32,766 bound values)


def scan_expiring(session: Session, now: dt.datetime | None = None) -> int:
    """Record the reminders ACTIVE keys have reached; returns how many are new (and told).

    One INSERT ... SELECT per reminder: the database copies the key's own values, and skips a key
    whose reminder for this end date exists already (NOT EXISTS, through the unique index)."""
    now = now or utc_now()
    keys, moments = core_table(ApiKey), core_table(KeyMoment)
    created: list[sa.Row[Any]] = []
    lower = now
    for days in sorted(REMINDER_DAYS):
        upper = now + dt.timedelta(days=days)
        seen = sa.exists().where(
            moments.c.key_row_id == keys.c.id,
            moments.c.kind == EXPIRING,
            moments.c.days_before == days,
            moments.c.key_expires_at == keys.c.expires_at,
        )
        select = _moment_select(keys, moments, EXPIRING, now, days=days).where(
            keys.c.status == KeyStatus.ACTIVE.value,
            keys.c.expires_at.is_not(None),
            keys.c.expires_at > lower,
            keys.c.expires_at <= upper,
            ~seen,
        )
        created += _insert_moments(session, select)
        lower = upper
    webhooks.emit_expiring(session, [(row.key_row_id, row.days_before) for row in created], now)
    _tell_people(session, [row.id for row in created if row.days_before in NOTICE_DAYS], now)
    return len(created)


def expired(session: Session, key_row_ids: Sequence[int], now: dt.datetime) -> int:
    """The keys the expiry job has just claimed (same transaction): one moment each, told."""
    if not key_row_ids:
        return 0
    keys, moments = core_table(ApiKey), core_table(KeyMoment)
    created: list[sa.Row[Any]] = []
    for start in range(0, len(key_row_ids), _CHUNK):
        chunk = list(key_row_ids[start : start + _CHUNK])
        select = _moment_select(keys, moments, EXPIRED, now).where(
            keys.c.id.in_(chunk), keys.c.expires_at.is_not(None)
        )
        created += _insert_moments(session, select)
    webhooks.emit_expired(session, key_row_ids, now)
    _tell_people(session, [row.id for row in created], now)
    return len(created)


def leaked(session: Session, key: ApiKey, report: LeakReport) -> int:
    """A handled leak report about `key` (same transaction): where it was found, never the key."""
    assert key.id is not None and report.id is not None
    values = {
        "workspace_id": key.workspace_id,
        "key_row_id": key.id,
        "key_id": key.key_id,
        "key_name": key.name,
        "kind": LEAKED,
        "days_before": 0,
        "key_expires_at": None,
        "leak_report_id": report.id,
        "leak_url": report.url[:1000],
        "leak_action": report.action[:8],
        "created_at": report.created_at,
    }
    statement = _ignoring(session, core_table(KeyMoment)).values(**values)
    created = session.execute(statement.returning(core_table(KeyMoment).c.id)).scalars().all()
    webhooks.emit_key_leaked(session, key, url=report.url, source=report.source, now=report.created_at)
    _tell_people(session, list(created), report.created_at)
    return len(created)


def unused_warning(
    session: Session, key: ApiKey, disable_on: dt.datetime, after_days: int, now: dt.datetime
) -> int:
    """The unused-key rule's warning about `key` (same transaction): who is told, once per date."""
    assert key.id is not None
    values = {
        "workspace_id": key.workspace_id,
        "key_row_id": key.id,
        "key_id": key.key_id,
        "key_name": key.name,
        "kind": UNUSED,
        "days_before": after_days,
        "key_expires_at": disable_on,
        "leak_report_id": 0,
        "leak_url": "",
        "leak_action": "",
        "created_at": now,
    }
    moments = core_table(KeyMoment)
    statement = _ignoring(session, moments).values(**values).returning(moments.c.id)
    created = session.execute(statement).scalars().all()
    _tell_people(session, list(created), now)
    return len(created)


def _moment_select(
    keys: sa.Table, moments: sa.Table, kind: str, now: dt.datetime, *, days: int = 0
) -> sa.Select[Any]:
    """The moment row of each selected key, in `_MOMENT_COLUMNS` order."""
    return sa.select(
        keys.c.workspace_id,
        keys.c.id,
        keys.c.key_id,
        keys.c.name,
        sa.literal(kind),
        sa.literal(days),
        keys.c.expires_at,
        sa.literal(0),
        sa.literal(""),
        sa.literal(""),
        sa.literal(now, moments.c.created_at.type),
    )


_MOMENT_COLUMNS = (
    "workspace_id",
    "key_row_id",
    "key_id",
    "key_name",
    "kind",
    "days_before",
    "key_expires_at",
    "leak_report_id",
    "leak_url",
    "leak_action",
    "created_at",
)


def _insert_moments(session: Session, select: sa.Select[Any]) -> list[sa.Row[Any]]:
    """The moments the select finds, minus those recorded already; returns the new rows only."""
    moments = core_table(KeyMoment)
    statement = _ignoring(session, moments).from_select(list(_MOMENT_COLUMNS), select)
    returning = statement.returning(moments.c.id, moments.c.key_row_id, moments.c.days_before)
    return list(session.execute(returning).all())


def _ignoring(session: Session, table: sa.Table) -> Any:
    """An INSERT that skips a row whose unique key exists already (it waits for a concurrent
    insert of the same key to commit or roll back, then decides: nothing is told twice)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing()


def _tell_people(session: Session, moment_ids: Sequence[int], now: dt.datetime) -> None:
    """One notice per person concerned and moment: the owners of the key's workspace and its
    creator (while a member), enabled accounts only. Each is emailed too when SMTP is set up and
    the person has not opted out."""
    if not moment_ids:
        return
    email = "pending" if get_settings().smtp_url else "off"
    moments, notices = core_table(KeyMoment), core_table(Notice)
    members, users, keys = core_table(Membership), core_table(User), core_table(ApiKey)
    columns = ["moment_id", "user_id", "workspace_id", "created_at", "email_status"]
    columns += ["email_attempts", "email_next_at", "email_error"]
    for start in range(0, len(moment_ids), _CHUNK):
        select = (
            sa.select(
                moments.c.id,
                members.c.user_id,
                moments.c.workspace_id,
                sa.literal(now, notices.c.created_at.type),
                sa.case((users.c.email_notices_opt_out == sa.true(), "opted_out"), else_=sa.literal(email)),
                sa.literal(0),
                sa.literal(now, notices.c.email_next_at.type),
                sa.literal(""),
            )
            .select_from(
                moments.join(members, members.c.workspace_id == moments.c.workspace_id)
                .join(users, users.c.id == members.c.user_id)
                .outerjoin(keys, keys.c.id == moments.c.key_row_id)
            )
            .where(
                moments.c.id.in_(list(moment_ids[start : start + _CHUNK])),
                users.c.disabled == sa.false(),
                sa.or_(members.c.role == Role.OWNER.value, members.c.user_id == keys.c.owner_id),
            )
        )
        session.execute(_ignoring(session, notices).from_select(columns, select))
