"""Workspace key policies as owners set them (issue 26, item 4): read, change (owners only,
audited), and the existing keys that break the policy, listed with what breaks it, because the
policy never rewrites a key ("nothing changes silently"). The rules themselves are applied by the
key operations (services/keys/policy.py) and the unused-key job (services/keys/idle.py), whose
disabling of idle keys, announced first, is the policy's one documented effect on existing keys.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from rxapp.models import ApiKey, KeyIdleNotice, KeyStatus, WorkspaceKeyPolicy, as_utc, utc_now
from rxapp.services import audit
from rxapp.services.access import Access, Need, require
from rxapp.services.errors import ValidationError
from rxapp.services.keys import idle
from rxapp.services.keys.policy import (
    LIFETIME_SLACK,
    NO_POLICY,
    KeyPolicy,
    end_breaks_policy,
    latest_end,
    policy_for,
)

LIFETIME_MAX_DAYS = 3650
BAD_POLICY = "BAD_KEY_POLICY"
DEFAULT_ABOVE_MAX = "POLICY_DEFAULT_ABOVE_MAX"
VIOLATIONS_SHOWN = 100  # listed by name; the total says how many more


@dataclass(frozen=True)
class PolicyValues:
    """What an owner sets (None: no such rule)."""

    max_lifetime_days: int | None = None
    default_lifetime_days: int | None = None
    require_bias_profile: bool = False
    disable_unused_after_days: int | None = None


@dataclass(frozen=True)
class Problem:
    """One way a key breaks the policy: the rule (`max_lifetime`, `require_bias_profile`,
    `disable_unused`) and the words the settings show."""

    rule: str
    message: str


@dataclass(frozen=True)
class Violation:
    key_id: str
    name: str
    problems: tuple[Problem, ...]


@dataclass(frozen=True)
class PolicyView:
    policy: KeyPolicy
    violations: list[Violation]  # the first VIOLATIONS_SHOWN, by name
    violations_total: int


def values_of(policy: KeyPolicy) -> PolicyValues:
    return PolicyValues(
        policy.max_lifetime_days,
        policy.default_lifetime_days,
        policy.require_bias_profile,
        policy.disable_unused_after_days,
    )


def get_policy(session: Session, access: Access) -> KeyPolicy:
    """Anyone who can see the workspace can read its policy (the create dialog shows it)."""
    return policy_for(session, require(access, Need.READ).workspace_id)


def idle_notices(session: Session, access: Access, key_ids: list[str]) -> dict[str, idle.IdleNotice]:
    """The unused-key rule's notice per key (warned, or disabled and why), for its page and the list."""
    return idle.notices_for(session, require(access, Need.READ).workspace_id, key_ids)


def view(session: Session, access: Access, now: dt.datetime | None = None) -> PolicyView:
    """The policy and the keys that break it."""
    policy = get_policy(session, access)
    violations = _violations(session, access.workspace_id, policy, now or utc_now())
    return PolicyView(policy, violations[:VIOLATIONS_SHOWN], len(violations))


_LABELS = {
    "max_lifetime_days": "Maximum lifetime",
    "default_lifetime_days": "Default lifetime",
    "disable_unused_after_days": "Disable unused keys after",
}


def parse_days(text: str, field: str) -> int | None:
    """A number of days as typed in the settings: blank is no rule; anything but a whole number is
    refused next to its field (BAD_KEY_POLICY). `check_values` checks the range."""
    cleaned = (text or "").strip().replace(",", "").replace("_", "")
    if not cleaned:
        return None
    if not cleaned.isdecimal() or len(cleaned) > 6:
        raise ValidationError(
            f"{_LABELS[field]} must be a whole number of days, or empty for none.",
            field=field,
            code=BAD_POLICY,
        )
    return int(cleaned)


def _days(value: int | None, field: str, label: str, low: int, high: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not low <= int(value) <= high:
        raise ValidationError(
            f"{label} must be a whole number of days from {low} to {high:,}, or empty for none.",
            field=field,
            code=BAD_POLICY,
        )
    return int(value)


def check_values(values: PolicyValues) -> PolicyValues:
    """The values' own rules: ranges, and a default no longer than the maximum."""
    most = _days(values.max_lifetime_days, "max_lifetime_days", "Maximum lifetime", 1, LIFETIME_MAX_DAYS)
    default = _days(
        values.default_lifetime_days, "default_lifetime_days", "Default lifetime", 1, LIFETIME_MAX_DAYS
    )
    unused = _days(
        values.disable_unused_after_days,
        "disable_unused_after_days",
        "Disable unused keys after",
        idle.MIN_DAYS,
        idle.MAX_DAYS,
    )
    if most is not None and default is not None and default > most:
        raise ValidationError(
            f"The default lifetime ({default} days) cannot be longer than the maximum ({most} days).",
            field="default_lifetime_days",
            code=DEFAULT_ABOVE_MAX,
        )
    return PolicyValues(most, default, bool(values.require_bias_profile), unused)


def _since(
    new: int | None, old: int | None, old_since: dt.datetime | None, now: dt.datetime
) -> dt.datetime | None:
    """When a days rule started: now when it is switched on or shortened, else unchanged."""
    if new is None:
        return None
    if old is None or new < old or old_since is None:
        return now
    return old_since


def set_policy(
    session: Session,
    access: Access,
    actor: str,
    values: PolicyValues,
    *,
    client_address: str = "",
    now: dt.datetime | None = None,
) -> PolicyView:
    """Owners only, audited. Existing keys are not changed: the answer lists those that break the
    new policy. Changing the unused rule withdraws pending warnings (a new notice follows)."""
    require(access, Need.MANAGE)
    now = now or utc_now()
    values = check_values(values)
    row = session.get(WorkspaceKeyPolicy, access.workspace_id)
    old = policy_for(session, access.workspace_id) if row is not None else NO_POLICY
    if row is None:
        row = WorkspaceKeyPolicy(workspace_id=access.workspace_id)
    if values == values_of(old):
        return view(session, access, now)
    row.max_lifetime_days = values.max_lifetime_days
    row.default_lifetime_days = values.default_lifetime_days
    row.require_bias_profile = values.require_bias_profile
    row.disable_unused_after_days = values.disable_unused_after_days
    row.max_lifetime_since = _since(
        values.max_lifetime_days, old.max_lifetime_days, old.max_lifetime_since, now
    )
    row.disable_unused_since = _since(
        values.disable_unused_after_days, old.disable_unused_after_days, old.disable_unused_since, now
    )
    row.updated_at = now
    session.add(row)
    session.flush()
    if values.disable_unused_after_days != old.disable_unused_after_days:
        idle.withdraw_warnings(session, access.workspace_id)
    answer = view(session, access, now)
    audit.record_for(
        session,
        access,
        action="workspace.key_policy",
        actor=actor,
        target_type="workspace",
        target_id=access.workspace_public_id,
        detail=(
            f"max_lifetime_days={values.max_lifetime_days} "
            f"default_lifetime_days={values.default_lifetime_days} "
            f"require_bias_profile={values.require_bias_profile} "
            f"disable_unused_after_days={values.disable_unused_after_days} "
            f"keys_breaking_it={answer.violations_total}"
        ),
        client_address=client_address,
        when=now,
    )
    return answer


def _day(moment: dt.datetime) -> str:
    return as_utc(moment).strftime("%Y-%m-%d")


def _violations(session: Session, workspace_id: int, policy: KeyPolicy, now: dt.datetime) -> list[Violation]:
    """Keys (not expired) that break a rule, by name. The query keeps a superset (every key's
    latest allowed end is at least the rule's start plus the maximum); the rules decide below."""
    if not policy.any_rule:
        return []
    reasons = []
    if policy.max_lifetime_days:
        earliest_bound = (policy.max_lifetime_since or now) + dt.timedelta(days=policy.max_lifetime_days)
        reasons.append(
            sa.or_(col(ApiKey.expires_at).is_(None), col(ApiKey.expires_at) > earliest_bound + LIFETIME_SLACK)
        )
    if policy.require_bias_profile:
        reasons.append(col(ApiKey.bias_profile_id).is_(None))
    if policy.disable_unused_after_days:
        idle_before = now - dt.timedelta(days=policy.disable_unused_after_days)
        reasons.append(
            sa.and_(
                col(ApiKey.status) == KeyStatus.ACTIVE.value,
                sa.func.coalesce(col(ApiKey.last_used_at), col(ApiKey.created_at)) <= idle_before,
            )
        )
    keys = session.exec(
        select(ApiKey)
        .where(
            ApiKey.workspace_id == workspace_id,
            col(ApiKey.status) != KeyStatus.EXPIRED.value,
            sa.or_(col(ApiKey.expires_at).is_(None), col(ApiKey.expires_at) > now),
            sa.or_(*reasons),
        )
        .order_by(col(ApiKey.name), col(ApiKey.key_id))
    ).all()
    notices = _notices(session, [key.id for key in keys if key.id is not None])
    found = []
    for key in keys:
        problems = _problems(key, policy, notices.get(key.id or 0), now)
        if problems:
            found.append(Violation(key.key_id, key.name, tuple(problems)))
    return found


def _notices(session: Session, row_ids: list[int]) -> dict[int, KeyIdleNotice]:
    if not row_ids or len(row_ids) > 10_000:  # a huge list: projected dates only (no per-key read)
        return {}
    rows = session.exec(select(KeyIdleNotice).where(col(KeyIdleNotice.api_key_id).in_(row_ids))).all()
    return {row.api_key_id: row for row in rows}


def _problems(
    key: ApiKey, policy: KeyPolicy, notice: KeyIdleNotice | None, now: dt.datetime
) -> list[Problem]:
    problems = []
    days = policy.max_lifetime_days
    if days and end_breaks_policy(policy, key.expires_at, key.created_at):
        latest = latest_end(policy, key.created_at) or now
        if key.expires_at is None:
            said = f"no end date (max lifetime {days} days: give it one on or before {_day(latest)})"
        else:
            said = f"ends {_day(key.expires_at)}, after {_day(latest)} (max lifetime {days} days)"
        problems.append(Problem("max_lifetime", said))
    if policy.require_bias_profile and key.bias_profile_id is None:
        problems.append(Problem("require_bias_profile", "no Bias Profile"))
    unused = policy.disable_unused_after_days
    if unused and key.status == KeyStatus.ACTIVE.value:
        since = as_utc(key.last_used_at or key.created_at)
        used = f"last used {_day(since)}" if key.last_used_at else f"never used (created {_day(since)})"
        if notice is not None and notice.clock_from is not None and as_utc(notice.clock_from) > since:
            since = as_utc(notice.clock_from)
            used = f"unused since it was turned back on, {_day(since)}"
        if since <= now - dt.timedelta(days=unused):
            warned_for = as_utc(notice.idle_since) if notice is not None else None
            warned_on = as_utc(notice.disable_on) if notice is not None else None
            if warned_for is not None and warned_on is not None and warned_for >= since:
                when = warned_on  # the date the warning named
            else:
                when = idle.disable_date(since, unused, policy.disable_unused_since, now)
            problems.append(
                Problem(
                    "disable_unused",
                    f"{used}: will be disabled on {_day(when)} if still unused "
                    f"(disable unused after {unused} days)",
                )
            )
    return problems
