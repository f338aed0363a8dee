"""Rules every key operation shares: name hygiene, the effective status, ownership, the public shape.

Change here when a rule about what a key *is* changes; the operations live beside this module
(crud, listing, verification, expiry).
"""

from __future__ import annotations

import datetime as dt
import re

from sqlmodel import Session, select

from rxapp.models import ApiKey, ApiKeyPublic, BiasProfile, KeyStatus
from rxapp.services import identities, moments
from rxapp.services.errors import NotFoundError, ValidationError
from rxapp.services.keys.programming import public_fields
from rxapp.services.text import hidden_character

NAME_MAX_LENGTH = 100
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0, DEL and C1


def clean_name(name: str) -> str:
    cleaned = (name or "").strip()
    if not cleaned:
        raise ValidationError("Name is required.", field="name")
    if len(cleaned) > NAME_MAX_LENGTH:
        raise ValidationError(f"Name must be at most {NAME_MAX_LENGTH} characters.", field="name")
    if _CONTROL_CHARACTERS.search(cleaned) or hidden_character(cleaned):
        raise ValidationError(
            "Name must not contain control, invisible or text-direction characters.", field="name"
        )
    return cleaned


RATE_LIMIT_MAX = 1_000_000


def check_rate_limit(value: int | None) -> int | None:
    """Calls per minute a key may make: None (no limit) or 1..1,000,000."""
    if value is None:
        return None
    if not 1 <= int(value) <= RATE_LIMIT_MAX:
        raise ValidationError(
            f"Rate limit must be between 1 and {RATE_LIMIT_MAX:,} calls per minute, or empty for none.",
            field="rate_limit_per_minute",
            code="BAD_RATE_LIMIT",
        )
    return int(value)


def parse_rate_limit(text: str) -> int | None:
    """The rate limit as typed in a dialog: blank means none; anything but a whole number in range
    is refused next to the field (BAD_RATE_LIMIT)."""
    cleaned = (text or "").strip().replace(",", "").replace("_", "")
    if not cleaned:
        return None
    if not cleaned.isdecimal() or len(cleaned) > 12:
        raise ValidationError(
            f"Rate limit must be a whole number of calls per minute (1 to {RATE_LIMIT_MAX:,}), "
            "or empty for none.",
            field="rate_limit_per_minute",
            code="BAD_RATE_LIMIT",
        )
    return check_rate_limit(int(cleaned))


def check_future_end_date(expires_at: dt.datetime | None, now: dt.datetime) -> dt.datetime | None:
    """A new end date: aware, in the future, storable (see `moments`); returned in UTC."""
    return moments.future_end(expires_at, now, field="expires_at")


def effective_status(status: str, expires_at: dt.datetime | None, now: dt.datetime) -> str:
    """A key past its end date is EXPIRED even before the expiry job has run."""
    if status != KeyStatus.EXPIRED and expires_at is not None and expires_at <= now:
        return KeyStatus.EXPIRED.value
    return status


def owned_profile(session: Session, workspace_id: int, profile_id: int) -> BiasProfile:
    profile = session.exec(
        select(BiasProfile).where(BiasProfile.id == profile_id, BiasProfile.workspace_id == workspace_id)
    ).first()
    if profile is None:
        raise NotFoundError(
            "Bias profile not found.",
            field="bias_profile_id",
            target_type="profile",
            target_id=str(profile_id),
        )
    return profile


def owned_key(session: Session, workspace_id: int, key_id: str) -> ApiKey:
    key = session.exec(
        select(ApiKey).where(ApiKey.key_id == key_id, ApiKey.workspace_id == workspace_id)
    ).first()
    if key is None:
        raise NotFoundError("API key not found.", target_type="key", target_id=key_id[:100])
    return key


def identity_of(session: Session, key: ApiKey) -> str | None:
    """The external id of the key's identity, if it has one."""
    if key.identity_id is None:
        return None
    return identities.identity_external_ids(session, {key.identity_id}).get(key.identity_id)


def public(
    key: ApiKey, profile_name: str | None, now: dt.datetime, identity: str | None = None
) -> ApiKeyPublic:
    """The shape that leaves the service layer: never the digest, never a secret."""
    return ApiKeyPublic(
        key_id=key.key_id,
        name=key.name,
        masked=key.masked,
        status=effective_status(key.status, key.expires_at, now),
        expires_at=key.expires_at,
        last_used_at=key.last_used_at,
        bias_profile_id=key.bias_profile_id,
        bias_profile_name=profile_name,
        rate_limit_per_minute=key.rate_limit_per_minute,
        created_at=key.created_at,
        updated_at=key.updated_at,
        version=key.version,
        **public_fields(key, identity),
    )


def iso(value: dt.datetime | None) -> str:
    return value.isoformat() if value else "never"
