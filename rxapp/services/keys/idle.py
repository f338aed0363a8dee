"""Disabling keys unused for N days, a workspace key policy rule (services/keys/policy.py), always
announced first. Run by the expiry job on every worker; each step is a conditional UPDATE, so a key
is warned once and disabled once however many workers run it at the same moment.

- **Idle since**: a key's last successful use, else its creation; turning a key back on (ACTIVE)
  restarts the clock (`restart_clock`): it counts as a use.
- **Warning** (`warn_unused_keys`): once an ACTIVE key has been idle N - WARNING days, it is
  flagged "will be disabled on DATE if still unused" (its page and the Keys list), audited, and
  `key.unused_warning` is emitted (`unused_warning_made`, the one place to announce it). DATE is
  the latest of: idle since + N days; the rule's start + GRACE; the warning + WARNING. So a key is
  never disabled without at least WARNING days of notice, and switching the rule on (or shortening
  it) disables nothing for GRACE, however many keys are idle already.
- **Disable** (`disable_unused_keys`): one conditional UPDATE turns INACTIVE the ACTIVE keys whose
  warning date has passed and that were not used since the warning (and whose workspace still has
  the rule); the reason stays on the key's page, audited, with a `key.updated` webhook.

A use after the warning cancels it (a new warning comes when the key is idle again); changing or
switching off the rule withdraws pending warnings (`withdraw_warnings`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from rxapp.models import ApiKey, KeyIdleNotice, KeyStatus, WorkspaceKeyPolicy, as_utc, core_table, utc_now
from rxapp.services import audit
from rxapp.services.notices import moments
from rxapp.services.versioning import rows_matched
from rxapp.services.webhooks import outbox as webhooks

WARNING = dt.timedelta(days=7)  # notice given before any disable
GRACE = dt.timedelta(days=7)  # nothing is disabled sooner after the rule is switched on or shortened
MIN_DAYS, MAX_DAYS = 14, 3650  # N: at least twice the warning, so a warning is not the key's whole life
WARN_BATCH = 1000  # keys warned per workspace per run (the next run takes the rest)


@dataclass(frozen=True)
class UnusedWarning:
    """A key just warned: what an email or webhook says about it (ids and dates, no secret)."""

    key_row_id: int
    key_id: str
    workspace_id: int
    idle_since: dt.datetime
    disable_on: dt.datetime
    after_days: int


def _tables() -> tuple[sa.Table, sa.Table]:
    return core_table(ApiKey), core_table(KeyIdleNotice)


def _idle_since(keys: sa.Table, notices: sa.Table) -> Any:
    """A key's idle anchor in SQL: its last use (else creation), or the clock's restart if later."""
    base = sa.func.coalesce(keys.c.last_used_at, keys.c.created_at)
    return sa.case((notices.c.clock_from > base, notices.c.clock_from), else_=base)


def _not_expired(keys: sa.Table, now: dt.datetime) -> Any:
    return sa.or_(keys.c.expires_at.is_(None), keys.c.expires_at > now)


def disable_date(
    idle_since: dt.datetime, after_days: int, rule_since: dt.datetime | None, now: dt.datetime
) -> dt.datetime:
    """When a key idle since `idle_since`, warned `now`, is disabled if still unused."""
    candidates = [as_utc(idle_since) + dt.timedelta(days=after_days), now + WARNING]
    if rule_since is not None:
        candidates.append(as_utc(rule_since) + GRACE)
    return max(candidates)


def _insert_ignore(session: Session, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows; one whose primary key exists already is skipped (another worker made it)."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement: Any = pg_insert(table).on_conflict_do_nothing()
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(table).on_conflict_do_nothing()
    session.execute(statement, rows)


def warn_unused_keys(session: Session, now: dt.datetime | None = None) -> list[UnusedWarning]:
    """THE warning step: find the ACTIVE keys of every workspace with the rule that are due a
    warning, claim each (one conditional UPDATE: a key is warned once per idle period, whatever
    the number of workers), record it and announce it. Returns the warnings this call made."""
    now = now or utc_now()
    rules = session.exec(
        select(WorkspaceKeyPolicy).where(col(WorkspaceKeyPolicy.disable_unused_after_days).is_not(None))
    ).all()
    made: list[UnusedWarning] = []
    for rule in rules:
        made += _warn_in_workspace(session, rule, now)
    return made


def _warn_in_workspace(session: Session, rule: WorkspaceKeyPolicy, now: dt.datetime) -> list[UnusedWarning]:
    keys, notices = _tables()
    days = int(rule.disable_unused_after_days or 0)
    idle_since = _idle_since(keys, notices)
    due = (
        sa.select(keys.c.id, idle_since.label("idle_since"))
        .select_from(keys.outerjoin(notices, notices.c.api_key_id == keys.c.id))
        .where(
            keys.c.workspace_id == rule.workspace_id,
            keys.c.status == KeyStatus.ACTIVE.value,
            _not_expired(keys, now),
            idle_since <= now - (dt.timedelta(days=days) - WARNING),
            sa.or_(notices.c.idle_since.is_(None), notices.c.idle_since < idle_since),
        )
        .limit(WARN_BATCH)
    )
    candidates = session.execute(due).all()
    if not candidates:
        return []
    _insert_ignore(
        session,
        notices,
        [{"api_key_id": row_id, "workspace_id": rule.workspace_id} for row_id, _ in candidates],
    )
    claimed: list[tuple[int, dt.datetime, dt.datetime]] = []
    for row_id, since in candidates:
        since = as_utc(since)
        disable_on = disable_date(since, days, as_utc(rule.disable_unused_since), now)
        result = session.execute(
            sa.update(notices)
            .where(
                notices.c.api_key_id == row_id,
                sa.or_(notices.c.idle_since.is_(None), notices.c.idle_since < since),
            )
            .values(idle_since=since, disable_on=disable_on, warned_at=now, after_days=days, disabled_at=None)
        )
        if rows_matched(result) == 1:
            claimed.append((row_id, since, disable_on))
    rows = {key.id: key for key in _keys(session, [row_id for row_id, _, _ in claimed])}
    made = []
    for row_id, since, disable_on in claimed:
        key = rows[row_id]
        warning = UnusedWarning(row_id, key.key_id, key.workspace_id, since, disable_on, days)
        unused_warning_made(session, key, warning, now)
        made.append(warning)
    return made


def _keys(session: Session, row_ids: Sequence[int]) -> list[ApiKey]:
    if not row_ids:
        return []
    return list(session.exec(select(ApiKey).where(col(ApiKey.id).in_(list(row_ids)))).all())


def _day(moment: dt.datetime) -> str:
    return as_utc(moment).strftime("%Y-%m-%d")


def unused_warning_made(session: Session, key: ApiKey, warning: UnusedWarning, now: dt.datetime) -> None:
    """The one place a warning is announced beyond the key's page, in the warning's transaction:
    the key's audit trail, the `key.unused_warning` webhook, and the people concerned (a notice in
    the console and an email, services/notices)."""
    audit.record(
        session,
        action="key.unused_warning",
        actor=audit.SYSTEM_ACTOR,
        owner_id=key.owner_id,
        workspace_id=key.workspace_id,
        target_type="key",
        target_id=key.key_id,
        detail=(
            f"will be disabled on {_day(warning.disable_on)} if still unused "
            f"(unused since {_day(warning.idle_since)}; workspace policy: {warning.after_days} days)"
        ),
        when=now,
    )
    webhooks.emit_key_unused_warning(
        session,
        key,
        idle_since=warning.idle_since,
        disable_on=warning.disable_on,
        after_days=warning.after_days,
        now=now,
    )
    moments.unused_warning(session, key, warning.disable_on, warning.after_days, now)


def disable_unused_keys(session: Session, now: dt.datetime | None = None) -> int:
    """One conditional UPDATE: ACTIVE keys whose warning date has passed, unused since the warning,
    in a workspace that still has the rule, turn INACTIVE (a row another worker took is skipped by
    the status condition). Each is audited with its reason and told by a `key.updated` webhook."""
    now = now or utc_now()
    keys, notices = _tables()
    rules = core_table(WorkspaceKeyPolicy)
    warned_and_unused = sa.exists(
        sa.select(notices.c.api_key_id).where(
            notices.c.api_key_id == keys.c.id,
            notices.c.disabled_at.is_(None),
            notices.c.disable_on.is_not(None),
            notices.c.disable_on <= now,
            notices.c.idle_since >= sa.func.coalesce(keys.c.last_used_at, keys.c.created_at),
            rules.c.workspace_id == keys.c.workspace_id,
            rules.c.disable_unused_after_days.is_not(None),
        )
    )
    claimed = list(
        session.execute(
            sa.update(keys)
            .where(keys.c.status == KeyStatus.ACTIVE.value, _not_expired(keys, now), warned_and_unused)
            .values(status=KeyStatus.INACTIVE.value, updated_at=now, version=keys.c.version + 1)
            .returning(keys.c.id)
        ).scalars()
    )
    if not claimed:
        return 0
    session.execute(sa.update(notices).where(notices.c.api_key_id.in_(claimed)).values(disabled_at=now))
    days = dict(
        session.execute(
            sa.select(notices.c.api_key_id, notices.c.after_days).where(notices.c.api_key_id.in_(claimed))
        ).all()
    )
    for key in _keys(session, claimed):
        audit.record(
            session,
            action="key.status",
            actor=audit.SYSTEM_ACTOR,
            owner_id=key.owner_id,
            workspace_id=key.workspace_id,
            target_type="key",
            target_id=key.key_id,
            detail=f"ACTIVE -> INACTIVE (unused for {days.get(key.id)} days: workspace policy)",
            when=now,
        )
        webhooks.emit_key(session, key, webhooks.KEY_UPDATED, now, reason="unused")
    return len(claimed)


def restart_clock(session: Session, key: ApiKey, now: dt.datetime) -> None:
    """The key was turned back on: its idle clock starts again now, and an old warning or disable
    reason no longer applies."""
    _, notices = _tables()
    _insert_ignore(session, notices, [{"api_key_id": key.id, "workspace_id": key.workspace_id}])
    session.execute(
        sa.update(notices)
        .where(notices.c.api_key_id == key.id)
        .values(clock_from=now, idle_since=None, disable_on=None, warned_at=None, disabled_at=None)
    )


def withdraw_warnings(session: Session, workspace_id: int) -> None:
    """The rule changed (or was switched off): pending warnings are withdrawn; the next run warns
    again under the new rule, with a new date and its own notice."""
    _, notices = _tables()
    session.execute(
        sa.update(notices)
        .where(notices.c.workspace_id == workspace_id, notices.c.disabled_at.is_(None))
        .values(idle_since=None, disable_on=None, warned_at=None, after_days=None)
    )


@dataclass(frozen=True)
class IdleNotice:
    """What a key's page and the Keys list say: "warning" (disabled on `when` if still unused) or
    "disabled" (on `when`, after `after_days` days unused)."""

    state: str
    when: dt.datetime
    after_days: int
    idle_since: dt.datetime | None


def notices_for(session: Session, workspace_id: int, key_ids: Iterable[str]) -> dict[str, IdleNotice]:
    """The current notice of each of these keys that has one (callers check the role)."""
    ids = list(key_ids)
    if not ids:
        return {}
    keys, notices = _tables()
    rows = session.execute(
        sa.select(
            keys.c.key_id,
            keys.c.status,
            sa.func.coalesce(keys.c.last_used_at, keys.c.created_at),
            notices.c.idle_since,
            notices.c.disable_on,
            notices.c.disabled_at,
            notices.c.after_days,
        )
        .select_from(keys.join(notices, notices.c.api_key_id == keys.c.id))
        .where(keys.c.workspace_id == workspace_id, keys.c.key_id.in_(ids))
    ).all()
    found: dict[str, IdleNotice] = {}
    for key_id, status, last, idle_since, disable_on, disabled_at, after_days in rows:
        if status == KeyStatus.INACTIVE.value and disabled_at is not None:
            found[key_id] = IdleNotice("disabled", as_utc(disabled_at), after_days or 0, as_utc(idle_since))
        elif (
            status == KeyStatus.ACTIVE.value
            and disabled_at is None
            and disable_on is not None
            and idle_since is not None
            and as_utc(idle_since) >= as_utc(last)
        ):
            found[key_id] = IdleNotice("warning", as_utc(disable_on), after_days or 0, as_utc(idle_since))
    return found
