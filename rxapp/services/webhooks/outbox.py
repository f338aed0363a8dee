"""The durable outbox: an event becomes one `webhook_messages` row per subscribed endpoint, in the
same transaction as the change it tells of (a rolled-back change sends nothing; a committed one is
sent at least once, whatever happens to the worker after).

Payloads carry ids, names and times, never a secret, digest or masked key:
`{"type": "key.created", "timestamp": ISO, "data": {"workspace_id", "key_id", "name", ...}}`.
Reminders: `key.expiring` 30, 7 and 1 days before follows the moments services/notices/moments.py
records (once per key, reminder and end date); `key.credits_low` is found by a scan the expiry job
runs. A dedupe key per (endpoint, reminder) makes each one sent once, however many workers scan at
the same moment.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from rxapp.models import (
    ApiKey,
    KeyStatus,
    WebhookEndpoint,
    WebhookMessage,
    Workspace,
    as_utc,
    core_table,
    utc_now,
)
from rxapp.services.versioning import rows_matched

KEY_CREATED = "key.created"
KEY_UPDATED = "key.updated"
KEY_ROLLED = "key.rolled"
KEY_DELETED = "key.deleted"
KEY_EXPIRING = "key.expiring"
KEY_EXPIRED = "key.expired"
KEY_LEAKED = "key.leaked"
KEY_CREDITS_LOW = "key.credits_low"
KEY_UNUSED_WARNING = "key.unused_warning"
EVENTS = (
    KEY_CREATED,
    KEY_UPDATED,
    KEY_ROLLED,
    KEY_DELETED,
    KEY_EXPIRING,
    KEY_EXPIRED,
    KEY_LEAKED,
    KEY_CREDITS_LOW,
    KEY_UNUSED_WARNING,
)
EXPIRING_DAYS = (1, 7, 30)  # reminders: the smallest of these at or above the days left


def new_message_id() -> str:
    return "msg_" + base64.b32encode(secrets.token_bytes(15)).decode().lower()


def _time(value: dt.datetime | None) -> str | None:
    return as_utc(value).isoformat().replace("+00:00", "Z") if value else None


def key_data(key: ApiKey) -> dict[str, Any]:
    """What a key event says of the key: ids, name, status and times (never its secret or digest)."""
    return {
        "key_id": key.key_id,
        "name": key.name,
        "status": key.status,
        "expires_at": _time(key.expires_at),
        "created_at": _time(key.created_at),
        "updated_at": _time(key.updated_at),
    }


def _subscribed(
    session: Session, workspace_ids: Iterable[int] | None, event_type: str
) -> list[WebhookEndpoint]:
    query = select(WebhookEndpoint).where(col(WebhookEndpoint.disabled_at).is_(None))
    if workspace_ids is not None:
        query = query.where(col(WebhookEndpoint.workspace_id).in_(list(workspace_ids)))
    return [e for e in session.exec(query).all() if event_type in e.events.split()]


def _public_ids(session: Session, workspace_ids: Iterable[int]) -> dict[int, str]:
    rows = session.execute(
        sa.select(col(Workspace.id), col(Workspace.public_id)).where(
            col(Workspace.id).in_(list(workspace_ids))
        )
    )
    return {row_id: public_id for row_id, public_id in rows}


def _body(event_type: str, public_id: str, data: dict[str, Any], now: dt.datetime) -> str:
    payload = {"type": event_type, "timestamp": _time(now), "data": {"workspace_id": public_id, **data}}
    return json.dumps(payload, separators=(",", ":"), sort_keys=False)


def _insert(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert messages; a row whose (endpoint, dedupe key) exists already is skipped."""
    if not rows:
        return 0
    table = core_table(WebhookMessage)
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement: Any = pg_insert(table).on_conflict_do_nothing()
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(table).on_conflict_do_nothing()
    else:  # pragma: no cover (the console runs on SQLite or PostgreSQL)
        statement = sa.insert(table)
    result = session.execute(statement, rows)
    return max(rows_matched(result), 0)  # executemany: drivers may not count (-1)


def _message(
    endpoint: WebhookEndpoint, event_type: str, body: str, now: dt.datetime, dedupe: str | None
) -> dict:
    return {
        "message_id": new_message_id(),
        "endpoint_row_id": endpoint.id,
        "workspace_id": endpoint.workspace_id,
        "event_type": event_type,
        "payload": body,
        "dedupe_key": dedupe,
        "status": "pending",
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
    }


def emit(
    session: Session,
    workspace_id: int,
    event_type: str,
    data: dict[str, Any],
    *,
    now: dt.datetime | None = None,
    dedupe_key: str | None = None,
) -> int:
    """Queue `event_type` for every enabled endpoint of the workspace that subscribes to it, in
    the caller's transaction. Returns the number of messages queued (0 without endpoints: one
    indexed read is all an event costs a workspace without webhooks)."""
    assert event_type in EVENTS, event_type
    endpoints = _subscribed(session, [workspace_id], event_type)
    if not endpoints:
        return 0
    now = now or utc_now()
    body = _body(event_type, _public_ids(session, [workspace_id]).get(workspace_id, ""), data, now)
    return _insert(session, [_message(e, event_type, body, now, dedupe_key) for e in endpoints])


def emit_key(
    session: Session, key: ApiKey, event_type: str, now: dt.datetime | None = None, **extra: Any
) -> int:
    """A key event: the key's ids, name, status and times, and `extra` (e.g. the rolled key's id)."""
    return emit(session, key.workspace_id, event_type, {**key_data(key), **extra}, now=now)


def emit_key_leaked(
    session: Session, key: ApiKey, *, url: str = "", source: str = "", now: dt.datetime | None = None
) -> int:
    """For the leak reports (issue 26 part 3): where the key was found, never the key itself."""
    return emit_key(session, key, KEY_LEAKED, now, leak_url=url[:500], leak_source=source[:100])


def emit_key_unused_warning(
    session: Session,
    key: ApiKey,
    *,
    idle_since: dt.datetime,
    disable_on: dt.datetime,
    after_days: int,
    now: dt.datetime | None = None,
) -> int:
    """For the key policies' unused rule (services/keys/idle.py): the key will be disabled on
    `disable_on` if still unused; once per key and idle period (dedupe key), whatever the workers."""
    extra = {"unused_since": _time(idle_since), "disable_on": _time(disable_on), "unused_days": after_days}
    dedupe = f"{KEY_UNUSED_WARNING}:{key.key_id}:{_time(idle_since)}"
    return emit(
        session, key.workspace_id, KEY_UNUSED_WARNING, {**key_data(key), **extra}, now=now, dedupe_key=dedupe
    )


def emit_expired(session: Session, row_ids: Sequence[int], now: dt.datetime) -> int:
    """`key.expired` for keys the expiry job just claimed: nothing is read unless some endpoint
    listens (the job may claim 100,000 keys in one go)."""
    endpoints = _subscribed(session, None, KEY_EXPIRED)
    if not endpoints or not row_ids:
        return 0
    by_workspace = _grouped(endpoints)
    queued = 0
    for start in range(0, len(row_ids), 1000):
        keys = session.exec(
            select(ApiKey).where(
                col(ApiKey.id).in_(row_ids[start : start + 1000]),
                col(ApiKey.workspace_id).in_(list(by_workspace)),
            )
        ).all()
        queued += _emit_each(session, keys, by_workspace, KEY_EXPIRED, now, lambda key: ({}, None))
    return queued


def _emit_each(session, keys, by_workspace, event_type, now, extra_and_dedupe) -> int:
    public_ids = _public_ids(session, {key.workspace_id for key in keys})
    rows = []
    for key in keys:
        extra, dedupe = extra_and_dedupe(key)
        body = _body(event_type, public_ids.get(key.workspace_id, ""), {**key_data(key), **extra}, now)
        rows += [_message(e, event_type, body, now, dedupe) for e in by_workspace[key.workspace_id]]
    return _insert(session, rows)


def emit_expiring(session: Session, reminders: Sequence[tuple[int | None, int]], now: dt.datetime) -> int:
    """`key.expiring` for reminders just recorded (services/notices/moments.py decides when a key
    reaches one): (key row id, days before). Nothing is read unless some endpoint listens."""
    endpoints = _subscribed(session, None, KEY_EXPIRING)
    days_by_key = {row_id: days for row_id, days in reminders if row_id is not None}
    if not endpoints or not days_by_key:
        return 0
    by_workspace = _grouped(endpoints)
    row_ids = list(days_by_key)
    queued = 0
    for start in range(0, len(row_ids), 1000):
        keys = session.exec(
            select(ApiKey).where(
                col(ApiKey.id).in_(row_ids[start : start + 1000]),
                col(ApiKey.workspace_id).in_(list(by_workspace)),
            )
        ).all()

        def expiring_extra(key: ApiKey) -> tuple[dict[str, Any], str]:
            left = as_utc(key.expires_at or now) - now
            threshold = days_by_key[key.id or 0]
            dedupe = f"{KEY_EXPIRING}:{key.key_id}:{threshold}:{_time(key.expires_at)}"
            return {"days_before": threshold, "seconds_left": int(left.total_seconds())}, dedupe

        queued += _emit_each(session, keys, by_workspace, KEY_EXPIRING, now, expiring_extra)
    return queued


def scan_reminders(session: Session, credits_low: int, now: dt.datetime | None = None) -> int:
    """`key.credits_low` (once per key and balance setting) for the workspaces whose endpoints
    listen. (`key.expiring` follows the expiry reminders: `emit_expiring`.)"""
    now = now or utc_now()
    low = _grouped(_subscribed(session, None, KEY_CREDITS_LOW))
    if not low:
        return 0
    keys = session.exec(
        select(ApiKey).where(
            col(ApiKey.workspace_id).in_(list(low)),
            col(ApiKey.credits_remaining).is_not(None),
            col(ApiKey.credits_remaining) <= credits_low,
            col(ApiKey.status) == KeyStatus.ACTIVE.value,
        )
    ).all()

    def low_extra(key: ApiKey) -> tuple[dict[str, Any], str]:
        dedupe = f"{KEY_CREDITS_LOW}:{key.key_id}:{key.version}:{_time(key.last_refill_at)}"
        return {"credits_remaining": key.credits_remaining, "threshold": credits_low}, dedupe

    return _emit_each(session, keys, low, KEY_CREDITS_LOW, now, low_extra)


def _grouped(endpoints: list[WebhookEndpoint]) -> dict[int, list[WebhookEndpoint]]:
    grouped: dict[int, list[WebhookEndpoint]] = {}
    for endpoint in endpoints:
        grouped.setdefault(endpoint.workspace_id, []).append(endpoint)
    return grouped
