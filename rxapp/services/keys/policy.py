"""A workspace's key policy (issue 26, item 4) as the key operations apply it: create, edit and
roll (services/keys/crud.py, services/rolling.py) ask here, so the console, REST and the CLI refuse
the same things with the same codes.

- **Maximum lifetime** (days): a key's end date is at most that many days after its creation; a
  key created without an end date gets the default lifetime (or the maximum). The last allowed
  *day* counts whole (LIFETIME_SLACK): an end date picked as a day ends at the end of that day in
  the picker's time zone, which may be a few hours past the exact moment.
  A key older than the rule may be given an end date up to that many days after the rule was set
  (`max_lifetime_since`), so an old key can be brought in line without being replaced.
- **Default lifetime** (days, at most the maximum): what a key without an end date gets.
- **Required Bias Profile**: a key cannot be created, or changed, to have none.
- **Disable unused keys** after N days: services/keys/idle.py.

The policy never rewrites existing keys: it refuses new values that break it, and the settings
list the keys that already do (services/key_policies.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlmodel import Session

from rxapp.models import WorkspaceKeyPolicy, as_utc
from rxapp.services.errors import ValidationError

MAX_LIFETIME = "POLICY_MAX_LIFETIME"
PROFILE_REQUIRED = "POLICY_PROFILE_REQUIRED"
LIFETIME_SLACK = dt.timedelta(days=1)


@dataclass(frozen=True)
class KeyPolicy:
    """A workspace's key policy; every rule is optional (the default value is "no rule")."""

    max_lifetime_days: int | None = None
    default_lifetime_days: int | None = None
    require_bias_profile: bool = False
    disable_unused_after_days: int | None = None
    max_lifetime_since: dt.datetime | None = None
    disable_unused_since: dt.datetime | None = None

    @property
    def new_key_days(self) -> int | None:
        """The lifetime a key created without an end date gets: the default, else the maximum."""
        return self.default_lifetime_days or self.max_lifetime_days

    @property
    def any_rule(self) -> bool:
        return bool(
            self.max_lifetime_days
            or self.default_lifetime_days
            or self.require_bias_profile
            or self.disable_unused_after_days
        )


NO_POLICY = KeyPolicy()


def policy_for(session: Session, workspace_id: int) -> KeyPolicy:
    """The workspace's policy (no row: no rule). Callers have checked the role already."""
    row = session.get(WorkspaceKeyPolicy, workspace_id)
    if row is None:
        return NO_POLICY
    return KeyPolicy(
        max_lifetime_days=row.max_lifetime_days,
        default_lifetime_days=row.default_lifetime_days,
        require_bias_profile=bool(row.require_bias_profile),
        disable_unused_after_days=row.disable_unused_after_days,
        max_lifetime_since=as_utc(row.max_lifetime_since),
        disable_unused_since=as_utc(row.disable_unused_since),
    )


def latest_end(policy: KeyPolicy, created_at: dt.datetime) -> dt.datetime | None:
    """The exact latest end of a key created at `created_at` (None: no maximum); an end date up to
    LIFETIME_SLACK past it is accepted (the last allowed day counts whole)."""
    if not policy.max_lifetime_days:
        return None
    start = as_utc(created_at)
    since = policy.max_lifetime_since
    if since is not None and since > start:  # a key older than the rule: counted from the rule
        start = since
    return start + dt.timedelta(days=policy.max_lifetime_days)


def _day(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d")


def end_breaks_policy(policy: KeyPolicy, expires_at: dt.datetime | None, created_at: dt.datetime) -> bool:
    """True when this end date (None: never) is past what the maximum lifetime allows."""
    latest = latest_end(policy, created_at)
    if latest is None:
        return False
    return expires_at is None or as_utc(expires_at) > latest + LIFETIME_SLACK


def check_end_date(policy: KeyPolicy, expires_at: dt.datetime | None, created_at: dt.datetime) -> None:
    """A new end date for a key (None: never): refused past the maximum lifetime, next to the
    end-date field (POLICY_MAX_LIFETIME)."""
    if not end_breaks_policy(policy, expires_at, created_at):
        return
    latest = latest_end(policy, created_at)
    assert latest is not None  # a maximum is set
    days = policy.max_lifetime_days
    if expires_at is None:
        message = (
            f"This workspace's policy allows keys to live at most {days} days: "
            f"a key needs an end date, on or before {_day(latest)}."
        )
    else:
        message = (
            f"This workspace's policy allows keys to live at most {days} days: "
            f"choose an end date on or before {_day(latest)}."
        )
    raise ValidationError(message, field="expires_at", code=MAX_LIFETIME)


def end_for_new_key(
    policy: KeyPolicy, expires_at: dt.datetime | None, now: dt.datetime, *, capped: bool = False
) -> dt.datetime | None:
    """The end date a new key gets: the one asked for, else today plus the default (or maximum)
    lifetime. Past the maximum it is refused, or, with `capped` (a roll, whose end date follows
    the old key's lifetime rather than a choice), cut to the maximum."""
    if expires_at is None and policy.new_key_days:
        return now + dt.timedelta(days=policy.new_key_days)
    if capped and end_breaks_policy(policy, expires_at, now):
        return latest_end(policy, now)
    check_end_date(policy, expires_at, now)
    return expires_at


def check_profile(policy: KeyPolicy, bias_profile_id: int | None, *, rolling: bool = False) -> None:
    """A key without a Bias Profile is refused when the policy requires one (POLICY_PROFILE_REQUIRED,
    next to the profile field)."""
    if policy.require_bias_profile and bias_profile_id is None:
        message = (
            "This workspace's policy requires a Bias Profile on every key: give this key one (Edit) "
            "before rolling it."
            if rolling
            else "This workspace's policy requires a Bias Profile on every key: choose one."
        )
        raise ValidationError(message, field="bias_profile_id", code=PROFILE_REQUIRED)
