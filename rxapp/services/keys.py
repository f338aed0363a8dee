"""API keys: create, list, update, delete, verify and expire. Ownership is part of every query."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticValidationError
from sqlmodel import Session, col, func, select

from rxapp.models import ApiKey, ApiKeyPublic, BiasProfile, KeyPage, KeyStatus, utc_now
from rxapp.services import audit, key_format
from rxapp.services.errors import ConflictError, NotFoundError, ValidationError
from rxapp.services.text import hidden_character
from rxapp.settings import get_settings

NAME_MAX_LENGTH = 100
PAGE_SIZE_DEFAULT = 25
PAGE_SIZE_MAX = 100
SORT_COLUMNS = {
    "name": ApiKey.name,
    "created": ApiKey.created_at,
    "last_used": ApiKey.last_used_at,
    "expires": ApiKey.expires_at,
}
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0, DEL and C1


# ---------------------------------------------------------------- validation


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


def _check_future_end_date(expires_at: dt.datetime | None, now: dt.datetime) -> None:
    if expires_at is None:
        return
    if expires_at.tzinfo is None:
        raise ValidationError("End date must include a time zone.", field="expires_at")
    if expires_at <= now:
        raise ValidationError("End date must be in the future.", field="expires_at")


def effective_status(status: str, expires_at: dt.datetime | None, now: dt.datetime) -> str:
    """A key past its end date is EXPIRED even before the expiry job has run."""
    if status != KeyStatus.EXPIRED and expires_at is not None and expires_at <= now:
        return KeyStatus.EXPIRED.value
    return status


def _owned_profile(session: Session, owner_id: int, profile_id: int) -> BiasProfile:
    profile = session.exec(
        select(BiasProfile).where(BiasProfile.id == profile_id, BiasProfile.owner_id == owner_id)
    ).first()
    if profile is None:
        raise NotFoundError(
            "Bias profile not found.",
            field="bias_profile_id",
            target_type="profile",
            target_id=str(profile_id),
        )
    return profile


def _owned_key(session: Session, owner_id: int, key_id: str) -> ApiKey:
    key = session.exec(select(ApiKey).where(ApiKey.key_id == key_id, ApiKey.owner_id == owner_id)).first()
    if key is None:
        raise NotFoundError("API key not found.", target_type="key", target_id=key_id[:100])
    return key


def key_row_id(session: Session, owner_id: int, key_id: str) -> int:
    """The internal row id of an owned key (usage rows are keyed by it); NotFoundError otherwise."""
    return _owned_key(session, owner_id, key_id).id or 0


def _public(key: ApiKey, profile_name: str | None, now: dt.datetime) -> ApiKeyPublic:
    return ApiKeyPublic(
        key_id=key.key_id,
        name=key.name,
        masked=key.masked,
        status=effective_status(key.status, key.expires_at, now),
        expires_at=key.expires_at,
        last_used_at=key.last_used_at,
        bias_profile_id=key.bias_profile_id,
        bias_profile_name=profile_name,
        created_at=key.created_at,
        updated_at=key.updated_at,
        version=key.version,
    )


# ---------------------------------------------------------------- create / read


@dataclass(frozen=True)
class CreatedKey:
    """The only object that ever holds a full secret; callers show it once and drop it."""

    key: ApiKeyPublic
    secret: str = field(repr=False)


def create_key(
    session: Session,
    owner_id: int,
    actor: str,
    name: str,
    *,
    bias_profile_id: int | None = None,
    expires_at: dt.datetime | None = None,
    rate_limit_per_minute: int | None = None,
    client_address: str = "",
    now: dt.datetime | None = None,
) -> CreatedKey:
    settings = get_settings()
    now = now or utc_now()
    name = clean_name(name)
    _check_future_end_date(expires_at, now)
    rate_limit_per_minute = check_rate_limit(rate_limit_per_minute)
    profile_name = None
    if bias_profile_id is not None:
        profile_name = _owned_profile(session, owner_id, bias_profile_id).name
    secret = key_format.generate_secret(settings.key_prefix)
    key = ApiKey(
        key_id=key_format.generate_key_id(),
        owner_id=owner_id,
        name=name,
        digest=key_format.digest(secret, settings.pepper),
        masked=key_format.mask(secret, settings.key_prefix),
        status=KeyStatus.ACTIVE.value,
        expires_at=expires_at,
        bias_profile_id=bias_profile_id,
        rate_limit_per_minute=rate_limit_per_minute,
        created_at=now,
        updated_at=now,
    )
    session.add(key)
    audit.record(
        session,
        action="key.create",
        actor=actor,
        owner_id=owner_id,
        target_type="key",
        target_id=key.key_id,
        detail=f"name={name!r} profile={profile_name!r} expires_at={_iso(expires_at)}",
        client_address=client_address,
        when=now,
    )
    session.flush()
    return CreatedKey(key=_public(key, profile_name, now), secret=secret)


def get_key(session: Session, owner_id: int, key_id: str) -> ApiKeyPublic:
    key = _owned_key(session, owner_id, key_id)
    profile_name = None
    if key.bias_profile_id is not None:
        profile_name = session.get(BiasProfile, key.bias_profile_id).name  # type: ignore[union-attr]
    return _public(key, profile_name, utc_now())


SortField = Literal["name", "created", "last_used", "expires"]
StatusFilter = Literal["", "ACTIVE", "INACTIVE", "EXPIRED"]


class KeyQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    search: str = ""
    status: StatusFilter = ""
    bias_profile_id: int | None = None  # 0 means "keys without a profile"
    sort: SortField = "created"
    descending: bool = True
    page: int = 1
    page_size: int = PAGE_SIZE_DEFAULT


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_keys(
    session: Session, owner_id: int, query: KeyQuery | None = None, now: dt.datetime | None = None
) -> KeyPage:
    """One page of the owner's keys, filtered, searched and sorted in the database."""
    query = query or KeyQuery()
    now = now or utc_now()
    page_size = min(max(query.page_size, 1), PAGE_SIZE_MAX)
    conditions: list[Any] = [ApiKey.owner_id == owner_id]
    search = query.search.strip()[:100]
    if search:
        pattern = f"%{_escape_like(search)}%"
        if session.get_bind().dialect.name == "sqlite":
            # SQLite's LIKE already ignores ASCII case; lower() per row would double the scan cost
            name_matches = col(ApiKey.name).like(pattern, escape="\\")
        else:
            name_matches = col(ApiKey.name).ilike(pattern, escape="\\")
        conditions.append(
            sa.or_(name_matches, col(ApiKey.key_id).like(f"%{_escape_like(search.lower())}%", escape="\\"))
        )
    not_past_end = sa.or_(col(ApiKey.expires_at).is_(None), col(ApiKey.expires_at) > now)
    if query.status == KeyStatus.EXPIRED:
        conditions.append(sa.or_(ApiKey.status == KeyStatus.EXPIRED, sa.not_(not_past_end)))
    elif query.status:
        conditions.extend([ApiKey.status == query.status, not_past_end])
    if query.bias_profile_id == 0:
        conditions.append(col(ApiKey.bias_profile_id).is_(None))
    elif query.bias_profile_id is not None:
        conditions.append(ApiKey.bias_profile_id == query.bias_profile_id)

    total = session.exec(select(func.count(col(ApiKey.id))).where(*conditions)).one()
    last_page = max((total + page_size - 1) // page_size, 1)
    page = min(max(query.page, 1), last_page)
    sort_column = col(SORT_COLUMNS[query.sort])
    order = sort_column.desc() if query.descending else sort_column.asc()
    if query.sort in ("last_used", "expires"):
        order = order.nulls_last()
    statement = (
        select(ApiKey, BiasProfile.name)
        .join(BiasProfile, col(ApiKey.bias_profile_id) == col(BiasProfile.id), isouter=True)
        .where(*conditions)
        .order_by(order, col(ApiKey.id).desc() if query.descending else col(ApiKey.id).asc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    rows = [_public(key, profile_name, now) for key, profile_name in session.exec(statement)]
    return KeyPage(rows=rows, total=total, page=page, page_size=page_size)


def count_keys(session: Session, owner_id: int) -> int:
    return session.exec(select(func.count(col(ApiKey.id))).where(ApiKey.owner_id == owner_id)).one()


# ---------------------------------------------------------------- update / delete


class KeyChanges(BaseModel):
    """What an owner may change. Unknown fields (owner, digest, Last Used...) are rejected."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    bias_profile_id: int | None = None
    status: Literal["ACTIVE", "INACTIVE"] | None = None
    expires_at: dt.datetime | None = None
    rate_limit_per_minute: int | None = None


def parse_changes(data: dict[str, Any]) -> KeyChanges:
    try:
        return KeyChanges.model_validate(data)
    except PydanticValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        if first["type"] == "extra_forbidden":
            raise ValidationError(f"Field {where!r} cannot be changed.", field=where) from None
        raise ValidationError(f"Invalid value for {where!r}.", field=where) from None


def update_key(
    session: Session,
    owner_id: int,
    actor: str,
    key_id: str,
    changes: KeyChanges,
    *,
    expected_version: int | None = None,
    client_address: str = "",
    now: dt.datetime | None = None,
) -> ApiKeyPublic:
    """Apply the fields set in `changes`. A stale `expected_version` is a conflict, not an overwrite."""
    now = now or utc_now()
    key = _owned_key(session, owner_id, key_id)
    if expected_version is not None and key.version != expected_version:
        raise ConflictError("This key was changed somewhere else since you opened it. Reload and try again.")
    given = changes.model_fields_set
    current_status = effective_status(key.status, key.expires_at, now)
    values: dict[str, Any] = {}
    notes: list[str] = []
    if "name" in given and changes.name is not None:
        name = clean_name(changes.name)
        if name != key.name:
            values["name"] = name
            notes.append(f"name={name!r}")
    profile_name: str | None = None
    if key.bias_profile_id is not None:
        profile = session.get(BiasProfile, key.bias_profile_id)
        profile_name = profile.name if profile else None
    if "bias_profile_id" in given and changes.bias_profile_id != key.bias_profile_id:
        if changes.bias_profile_id is None:
            profile_name = None
        else:
            profile_name = _owned_profile(session, owner_id, changes.bias_profile_id).name
        values["bias_profile_id"] = changes.bias_profile_id
        notes.append(f"profile={profile_name!r}")
    if "rate_limit_per_minute" in given and changes.rate_limit_per_minute != key.rate_limit_per_minute:
        values["rate_limit_per_minute"] = check_rate_limit(changes.rate_limit_per_minute)
        notes.append(f"rate_limit_per_minute={values['rate_limit_per_minute']}")
    if "expires_at" in given and changes.expires_at != key.expires_at:
        if current_status == KeyStatus.EXPIRED:
            raise ValidationError(
                "An expired key cannot be given a new end date. Create a new key instead.",
                field="expires_at",
            )
        _check_future_end_date(changes.expires_at, now)
        values["expires_at"] = changes.expires_at
        notes.append(f"expires_at={_iso(changes.expires_at)}")
    status_changed = False
    if "status" in given and changes.status is not None and changes.status != current_status:
        if current_status == KeyStatus.EXPIRED:
            raise ValidationError(
                "An expired key cannot be reactivated. Create a new key instead.", field="status"
            )
        values["status"] = changes.status
        status_changed = True
    if not values:
        return _public(key, profile_name, now)
    values["updated_at"] = now
    values["version"] = key.version + 1
    result = session.execute(
        sa.update(ApiKey).where(col(ApiKey.id) == key.id, col(ApiKey.version) == key.version).values(**values)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ConflictError("This key was changed somewhere else since you opened it. Reload and try again.")
    if notes:
        audit.record(
            session,
            action="key.update",
            actor=actor,
            owner_id=owner_id,
            target_type="key",
            target_id=key_id,
            detail=" ".join(notes),
            client_address=client_address,
            when=now,
        )
    if status_changed:
        audit.record(
            session,
            action="key.status",
            actor=actor,
            owner_id=owner_id,
            target_type="key",
            target_id=key_id,
            detail=f"{current_status} -> {changes.status}",
            client_address=client_address,
            when=now,
        )
    session.flush()
    session.refresh(key)
    return _public(key, profile_name, now)


def delete_key(session: Session, owner_id: int, actor: str, key_id: str, *, client_address: str = "") -> None:
    """Permanent: the row is gone and the next verification fails. Only the audit event remains."""
    key = _owned_key(session, owner_id, key_id)
    session.execute(sa.delete(ApiKey).where(col(ApiKey.id) == key.id))
    audit.record(
        session,
        action="key.delete",
        actor=actor,
        owner_id=owner_id,
        target_type="key",
        target_id=key_id,
        detail=f"name={key.name!r}",
        client_address=client_address,
    )
    session.flush()


# ---------------------------------------------------------------- expiry


def expire_due_keys(session: Session, now: dt.datetime | None = None) -> int:
    """One conditional UPDATE: safe when every worker runs it at once (a row is claimed once)."""
    now = now or utc_now()
    claimed = session.execute(
        sa.update(ApiKey)
        .where(
            col(ApiKey.status).in_([KeyStatus.ACTIVE.value, KeyStatus.INACTIVE.value]),
            col(ApiKey.expires_at).is_not(None),
            col(ApiKey.expires_at) <= now,
        )
        .values(status=KeyStatus.EXPIRED.value, updated_at=now, version=ApiKey.version + 1)
        .returning(ApiKey.owner_id, ApiKey.key_id)
        .execution_options(synchronize_session=False)
    ).all()
    if claimed:
        session.execute(
            sa.insert(audit.AuditEvent.__table__),  # Core insert: no ORM bookkeeping for 100,000 rows
            [
                {
                    "owner_id": owner_id,
                    "actor": audit.SYSTEM_ACTOR,
                    "action": "key.expire",
                    "target_type": "key",
                    "target_id": key_id,
                    "detail": "end date reached",
                    "client_address": "",
                    "created_at": now,
                }
                for owner_id, key_id in claimed
            ],
        )
    return len(claimed)


# ---------------------------------------------------------------- verification (hot path)


@dataclass(frozen=True)
class Verification:
    valid: bool
    code: str = ""
    key_row_id: int | None = None
    key_id: str = ""
    status: str = ""
    expires_at: dt.datetime | None = None
    bias_profile: dict[str, Any] | None = None
    rate_limit: int | None = None  # calls per minute; None: no limit (nothing to check)


MALFORMED = Verification(valid=False, code="MALFORMED")
NOT_FOUND = Verification(valid=False, code="NOT_FOUND")

_api_keys = ApiKey.__table__  # type: ignore[attr-defined]
_profiles = BiasProfile.__table__  # type: ignore[attr-defined]
_VERIFY_STATEMENT = (
    sa.select(
        _api_keys.c.id,
        _api_keys.c.key_id,
        _api_keys.c.status,
        _api_keys.c.expires_at,
        _profiles.c.id.label("profile_id"),
        _profiles.c.name,
        _profiles.c.description,
        _profiles.c.categories,
        _profiles.c.sensitivity,
        _profiles.c.action,
        _api_keys.c.rate_limit_per_minute,
    )
    .select_from(_api_keys.outerjoin(_profiles, _api_keys.c.bias_profile_id == _profiles.c.id))
    .where(_api_keys.c.digest == sa.bindparam("digest"))
)


def fetch_row(connection: sa.Connection, digest: str) -> tuple | None:
    """The row `decide` takes, through SQLAlchemy (the fallback when no leaner lookup applies)."""
    row = connection.execute(_VERIFY_STATEMENT, {"digest": digest}).first()
    return tuple(row) if row is not None else None


def verify_secret(connection: sa.Connection, secret: str, now: dt.datetime | None = None) -> Verification:
    """Format and checksum first (no database work), then one indexed lookup; rules at call time."""
    return verify_with(lambda digest: fetch_row(connection, digest), secret, now)


def digest_for(secret: str) -> str | None:
    """The lookup digest of a well-formed secret, or None: shape and checksum cost no database work."""
    settings = get_settings()
    if not key_format.is_well_formed(secret, settings.key_prefix):
        return None
    return key_format.digest(secret, settings.pepper)


def decide(row: tuple | None, now: dt.datetime | None = None) -> Verification:
    """The rules at call time, given the row fetched for a digest (None: no such key).

    `row` is (id, key_id, status, expires_at, profile id, name, description, categories,
    sensitivity, action); expires_at may be an aware datetime, a naive UTC one or SQLite's UTC text.
    """
    if row is None:
        return NOT_FOUND
    (row_id, key_id, status, expires_at, profile_id, name, description, categories, sensitivity, action) = (
        row[:10]
    )
    rate_limit = row[10] if len(row) > 10 else None
    if isinstance(expires_at, str):
        expires_at = dt.datetime.fromisoformat(expires_at).replace(tzinfo=dt.UTC)
    elif expires_at is not None:
        expires_at = expires_at.replace(tzinfo=dt.UTC) if expires_at.tzinfo is None else expires_at
        expires_at = expires_at.astimezone(dt.UTC)
    now = now or utc_now()
    status = effective_status(status, expires_at, now)
    if status != KeyStatus.ACTIVE:
        return Verification(valid=False, code=status, key_row_id=row_id, key_id=key_id)
    profile = None
    if profile_id is not None:
        if isinstance(categories, str):
            categories = json.loads(categories)
        profile = {
            "id": profile_id,
            "name": name,
            "description": description,
            "categories": list(categories or []),
            "sensitivity": sensitivity,
            "action": action,
        }
    return Verification(
        valid=True,
        key_row_id=row_id,
        key_id=key_id,
        status=status,
        expires_at=expires_at,
        bias_profile=profile,
        rate_limit=rate_limit,
    )


def verify_with(
    fetch: Callable[[str], tuple | None], secret: str, now: dt.datetime | None = None
) -> Verification:
    """The verification rules, given a way to fetch the row for a digest (see `decide`)."""
    digest = digest_for(secret)
    if digest is None:
        return MALFORMED
    return decide(fetch(digest), now)


async def verify_with_async(
    fetch: Callable[[str], Awaitable[tuple | None]], secret: str, now: dt.datetime | None = None
) -> Verification:
    """`verify_with` for an awaitable lookup (PostgreSQL on the event loop); same rules."""
    digest = digest_for(secret)
    if digest is None:
        return MALFORMED
    return decide(await fetch(digest), now)


def _iso(value: dt.datetime | None) -> str:
    return value.isoformat() if value else "never"
