"""Rolling a key without downtime, and telling the user when the old one is safe to expire.

Rolling creates a new secret with the same name, Bias Profile, rate limit and expiry policy, links
the two (rolled from / rolled to), and gives the old key an end date after the chosen grace
period; the expiry job does the rest. The assistant reads real usage (Last Used of the old key,
first use of the new one); it never guesses.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from rxapp.models import ApiKey, KeyStatus, as_utc, utc_now
from rxapp.services import audit, moments
from rxapp.services import keys as key_service
from rxapp.services.access import Access, Need, require
from rxapp.services.errors import ConflictError, NotFoundError, ValidationError
from rxapp.services.keys import policy as key_policy
from rxapp.services.keys.programming import public_fields
from rxapp.services.keys.rules import identity_of
from rxapp.services.notices import moments as key_moments
from rxapp.services.versioning import rows_matched
from rxapp.services.webhooks import outbox as webhooks

GRACE_CHOICES: dict[str, dt.timedelta] = {
    "0": dt.timedelta(0),
    "1h": dt.timedelta(hours=1),
    "24h": dt.timedelta(hours=24),
    "7d": dt.timedelta(days=7),
}
GRACE_LABELS = {"0": "Immediately", "1h": "1 hour", "24h": "24 hours", "7d": "7 days"}
# "Safe to expire" needs the old key silent this long after the new key's first use. A call one
# second before the switch says nothing about the replicas, workers and cron jobs that have not
# restarted yet: a rolling deploy takes minutes, and a job every 5 minutes gets three chances to
# show itself. Last Used reaches the database within a second (write-behind), so the flush lag is
# negligible. Callers rarer than this (hourly, daily) are what the grace period is for.
QUIET_PERIOD = dt.timedelta(minutes=15)
QUIET_PERIOD_LABEL = f"{int(QUIET_PERIOD.total_seconds() // 60)} minutes"


def parse_grace(value: str) -> dt.timedelta:
    try:
        return GRACE_CHOICES[value.strip()]
    except KeyError:
        raise ValidationError(
            "Choose how long the old key keeps working: 0, 1h, 24h or 7d.", field="grace", code="BAD_GRACE"
        ) from None


EXPIRED_REFUSAL = "An expired key cannot be rolled. Create a new key instead."


def roll_refusal(status: str) -> str:
    """Why a key in this (effective) status cannot be rolled, or "" when it can. Pages show it
    beside a disabled Roll button; `roll_key` refuses with the same words."""
    return EXPIRED_REFUSAL if status == KeyStatus.EXPIRED else ""


def _owned(session: Session, workspace_id: int, key_id: str) -> ApiKey:
    key = session.exec(
        select(ApiKey).where(ApiKey.key_id == key_id, ApiKey.workspace_id == workspace_id)
    ).first()
    if key is None:
        raise NotFoundError("API key not found.", target_type="key", target_id=key_id)
    return key


@dataclass(frozen=True)
class Rolled:
    new: key_service.CreatedKey
    old_key_id: str
    old_expires_at: dt.datetime


def roll_key(
    session: Session,
    access: Access,
    actor: str,
    key_id: str,
    grace: dt.timedelta,
    *,
    client_address: str = "",
    now: dt.datetime | None = None,
    profile_rule: bool = True,
) -> Rolled:
    """A new secret for the same purpose; the old key works until `now + grace`, then expires.

    The workspace's key policy applies to the new key: its lifetime (the old key's) is cut to the
    maximum, and a key without a Bias Profile is not rolled where one is required, unless
    `profile_rule` is False (a leaked key is replaced whatever the policy: services/leaks.py)."""
    workspace_id = require(access, Need.WRITE).workspace_id
    now = now or utc_now()
    old = _owned(session, workspace_id, key_id)
    old_end = as_utc(old.expires_at)
    refusal = roll_refusal(key_service.effective_status(old.status, old_end, now))
    if refusal:
        raise ConflictError(refusal, code="KEY_EXPIRED")
    if profile_rule:
        key_policy.check_profile(
            key_policy.policy_for(session, workspace_id), old.bias_profile_id, rolling=True
        )
    lifetime = old_end - as_utc(old.created_at) if old_end else None
    created = key_service.create_key(
        session,
        access,
        actor,
        old.name,
        bias_profile_id=old.bias_profile_id,
        expires_at=moments.capped_after(now, lifetime) if lifetime and lifetime > dt.timedelta(0) else None,
        rate_limit_per_minute=old.rate_limit_per_minute,
        program=_program_of(session, old),
        client_address=client_address,
        now=now,
        end_date_capped=True,
        profile_rule=False,  # checked above, in a roll's words
    )
    new_row = session.exec(select(ApiKey).where(ApiKey.key_id == created.key.key_id)).one()
    new_row.rolled_from_id = old.id
    if old.credits_remaining is not None:  # the balance moves to the new key (never doubled)
        new_row.credits_remaining = _take_credits(session, old)
        new_row.last_refill_at = old.last_refill_at
    session.add(new_row)
    # both trails tell the roll: the new key's says where it came from (the key page links it)
    audit.record(
        session,
        action="key.roll",
        actor=actor,
        owner_id=new_row.owner_id,
        workspace_id=new_row.workspace_id,
        target_type="key",
        target_id=new_row.key_id,
        detail=f"rolled from {old.key_id}",
        client_address=client_address,
        when=now,
    )
    grace_end = now + grace
    end = min(old_end, grace_end) if old_end else grace_end
    changes: dict[str, object] = {"expires_at": end}
    if end <= now:
        changes["status"] = KeyStatus.EXPIRED.value
    detail = f"rolled to {new_row.key_id}; old key ends {end.isoformat()}"
    key_service.change_key(
        session, old, changes, actor, [("key.roll", detail)], client_address=client_address, now=now
    )
    webhooks.emit_key(session, old, webhooks.KEY_ROLLED, now, new_key_id=new_row.key_id)
    return Rolled(new=created, old_key_id=old.key_id, old_expires_at=end)


def _program_of(session: Session, old: ApiKey) -> dict[str, object] | None:
    """The old key's programmable fields, for the new key (services/keys/programming.py)."""
    if old.program is None and old.refill_amount is None and old.credits_remaining is None:
        return None
    fields = public_fields(old, identity_of(session, old))
    given = {name: fields[name] for name in ("ratelimits", "permissions", "meta", "ip_allow") if fields[name]}
    if fields["identity"]:
        given["identity"] = fields["identity"]
    if old.credits_remaining is not None:
        given["credits"] = 0  # set to the moved balance by `_take_credits`
    if fields["refill"]:
        given["refill"] = fields["refill"]
    return given


def _take_credits(session: Session, old: ApiKey) -> int:
    """Zero the old key's balance and return what it held, atomically against concurrent spends
    (compare-and-set: a spend in between makes the next attempt read the new balance)."""
    while True:
        seen = session.execute(
            sa.select(col(ApiKey.credits_remaining)).where(col(ApiKey.id) == old.id)
        ).scalar()
        if seen is None:
            return 0
        moved = session.execute(
            sa.update(ApiKey)
            .where(col(ApiKey.id) == old.id, col(ApiKey.credits_remaining) == seen)
            .values(credits_remaining=0)
        )
        if rows_matched(moved) == 1:
            return int(seen)


@dataclass(frozen=True)
class RollLinks:
    rolled_from: str | None  # key ID of the predecessor
    rolled_to: str | None  # key ID of the successor


def links(session: Session, access: Access, key_id: str) -> RollLinks:
    workspace_id = require(access, Need.READ).workspace_id
    key = _owned(session, workspace_id, key_id)
    before = session.get(ApiKey, key.rolled_from_id) if key.rolled_from_id else None
    after = session.exec(
        select(ApiKey.key_id).where(ApiKey.rolled_from_id == key.id).order_by(col(ApiKey.id).desc())
    ).first()
    return RollLinks(rolled_from=before.key_id if before else None, rolled_to=after)


@dataclass(frozen=True)
class RotationStatus:
    """Where a rotation stands, for a key in its grace period that has been rolled to another."""

    state: str  # "new_unused" | "both_in_use" | "settling" | "safe_to_expire"
    old_key_id: str
    new_key_id: str
    old_last_used_at: dt.datetime | None
    new_first_used_at: dt.datetime | None
    old_expires_at: dt.datetime | None
    new_last_used_at: dt.datetime | None = None
    safe_from: dt.datetime | None = None  # when the quiet period ends if the old key stays silent


def verdict(
    old_last: dt.datetime | None,
    new_first: dt.datetime | None,
    new_last: dt.datetime | None,
    now: dt.datetime,
) -> tuple[str, dt.datetime | None]:
    """The assistant's rule, on Last Used times alone: (state, safe_from).

    Safe only once the old key has been silent for QUIET_PERIOD counted from the later of its last
    call and the new key's first use, and the last call of the two went to the new key (after an
    overlap, the new key was called again since the old key's last call)."""
    if new_first is None:
        return "new_unused", None
    quiet_from = max(old_last, new_first) if old_last is not None else new_first
    safe_from = quiet_from + QUIET_PERIOD
    overlapped = old_last is not None and old_last >= new_first
    if overlapped and (new_last is None or new_last <= quiet_from):
        return "both_in_use", safe_from  # the latest call went to the old key
    if now < safe_from:
        return ("both_in_use" if overlapped else "settling"), safe_from
    return "safe_to_expire", safe_from


def rotation_status(
    session: Session, access: Access, key_id: str, now: dt.datetime | None = None
) -> RotationStatus | None:
    """None unless `key_id` is an old key still working after a roll."""
    workspace_id = require(access, Need.READ).workspace_id
    now = now or utc_now()
    old = _owned(session, workspace_id, key_id)
    successor = session.exec(
        select(ApiKey).where(ApiKey.rolled_from_id == old.id).order_by(col(ApiKey.id).desc())
    ).first()
    old_end = as_utc(old.expires_at)
    if successor is None or key_service.effective_status(old.status, old_end, now) == KeyStatus.EXPIRED:
        return None
    old_last, new_first = as_utc(old.last_used_at), as_utc(successor.first_used_at)
    new_last = as_utc(successor.last_used_at)
    state, safe_from = verdict(old_last, new_first, new_last, now)
    return RotationStatus(
        state, old.key_id, successor.key_id, old_last, new_first, old_end, new_last, safe_from
    )


def expire_now(
    session: Session, access: Access, actor: str, key_id: str, *, client_address: str = "", now=None
) -> None:
    """The assistant's "Expire now": the old key answers EXPIRED on its next call."""
    workspace_id = require(access, Need.WRITE).workspace_id
    now = now or utc_now()
    key = _owned(session, workspace_id, key_id)
    if key.status == KeyStatus.EXPIRED.value:
        return
    changes = {"status": KeyStatus.EXPIRED.value, "expires_at": now}
    events = [("key.expire_now", "expired by the user after a roll")]
    key_service.change_key(session, key, changes, actor, events, client_address=client_address, now=now)
    session.flush()
    key_moments.expired(session, [key.id or 0], now)  # the `key.expired` webhook, notices, emails


def page_links(session: Session, access: Access, key_ids: list[str]) -> dict[str, RollLinks]:
    """Roll links of a page of keys in two queries (rolled from / rolled to, by key ID)."""
    workspace_id = require(access, Need.READ).workspace_id
    if not key_ids:
        return {}
    keys = session.exec(
        select(ApiKey.id, ApiKey.key_id, ApiKey.rolled_from_id).where(
            ApiKey.workspace_id == workspace_id, col(ApiKey.key_id).in_(key_ids)
        )
    ).all()
    ids = {row_id for row_id, _, _ in keys}
    predecessors = {rolled_from for _, _, rolled_from in keys if rolled_from}
    neighbours = session.exec(
        select(ApiKey.id, ApiKey.key_id, ApiKey.rolled_from_id).where(
            ApiKey.workspace_id == workspace_id,
            sa.or_(col(ApiKey.id).in_(predecessors), col(ApiKey.rolled_from_id).in_(ids)),
        )
    ).all()
    key_id_of = {row_id: key_id for row_id, key_id, _ in [*keys, *neighbours]}
    successor_of = {rolled_from: key_id for _, key_id, rolled_from in neighbours if rolled_from in ids}
    return {
        key_id: RollLinks(
            rolled_from=key_id_of.get(rolled_from) if rolled_from else None,
            rolled_to=successor_of.get(row_id),
        )
        for row_id, key_id, rolled_from in keys
    }
