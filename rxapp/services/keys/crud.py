"""Key CRUD: create (the one place a secret is born), read, update, delete. One transaction each."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import ConfigDict
from pydantic import ValidationError as PydanticValidationError
from sqlmodel import Session, col

from rxapp.context import get_settings
from rxapp.models import ApiKey, ApiKeyPublic, BiasProfile, KeyStatus, utc_now
from rxapp.services import audit, key_format
from rxapp.services.access import Access, Need, require
from rxapp.services.errors import ConflictError, ValidationError
from rxapp.services.keys import idle
from rxapp.services.keys import policy as key_policy
from rxapp.services.keys.programming import FIELDS as PROGRAM_FIELDS
from rxapp.services.keys.programming import ProgramFields, program_values
from rxapp.services.keys.rules import (
    check_future_end_date,
    check_rate_limit,
    clean_name,
    effective_status,
    identity_of,
    iso,
    owned_key,
    owned_profile,
    public,
)
from rxapp.services.versioning import STALE_CODE, delete_row, rows_matched
from rxapp.services.webhooks import outbox as webhooks

STALE_MESSAGE = "This key was changed somewhere else since you opened it. Reload and try again."


@dataclass(frozen=True)
class CreatedKey:
    """The only object that ever holds a full secret; callers show it once and drop it."""

    key: ApiKeyPublic
    secret: str = field(repr=False)


def create_key(
    session: Session,
    access: Access,
    actor: str,
    name: str,
    *,
    bias_profile_id: int | None = None,
    expires_at: dt.datetime | None = None,
    rate_limit_per_minute: int | None = None,
    program: dict[str, Any] | None = None,
    client_address: str = "",
    now: dt.datetime | None = None,
    end_date_capped: bool = False,
    profile_rule: bool = True,
) -> CreatedKey:
    """`program`: the programmable fields given (services/keys/programming.py `FIELDS`).

    The workspace's key policy applies (services/keys/policy.py): no end date means the default
    lifetime; one past the maximum is refused (cut to it with `end_date_capped`, as a roll does);
    no Bias Profile is refused when one is required (unless `profile_rule` is False: a leak's roll)."""
    workspace_id = require(access, Need.WRITE).workspace_id
    settings = get_settings()
    now = now or utc_now()
    name = clean_name(name) if (name or "").strip() else _default_name(session, workspace_id)
    expires_at = check_future_end_date(expires_at, now)
    rules = key_policy.policy_for(session, workspace_id)
    expires_at = key_policy.end_for_new_key(rules, expires_at, now, capped=end_date_capped)
    if profile_rule:
        key_policy.check_profile(rules, bias_profile_id)
    rate_limit_per_minute = check_rate_limit(rate_limit_per_minute)
    profile_name = None
    if bias_profile_id is not None:
        profile_name = owned_profile(session, workspace_id, bias_profile_id).name
    secret = key_format.generate_secret(settings.key_prefix)
    key = ApiKey(
        key_id=key_format.generate_key_id(),
        owner_id=access.user_id,
        workspace_id=workspace_id,
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
    notes: list[str] = []
    if program:
        values, notes = program_values(session, access, actor, None, program, now)
        for column, value in values.items():
            setattr(key, column, value)
    session.add(key)
    detail = f"name={name!r} profile={profile_name!r} expires_at={iso(expires_at)}"
    audit.record_for(
        session,
        access,
        action="key.create",
        actor=actor,
        target_type="key",
        target_id=key.key_id,
        detail=_bounded(" ".join([detail, *notes])),
        client_address=client_address,
        when=now,
    )
    session.flush()
    webhooks.emit_key(session, key, webhooks.KEY_CREATED, now)  # same transaction: never lost
    identity = program.get("identity") if program else None
    return CreatedKey(key=public(key, profile_name, now, identity), secret=secret)


def _bounded(detail: str) -> str:
    return detail if len(detail) <= 1000 else detail[:997] + "..."


def default_name(session: Session, access: Access) -> str:
    """A name is optional (the seed creates a key in three clicks): "Key N", the first N not taken
    (with Key 1 and Key 3 in the workspace, Key 2)."""
    return _default_name(session, require(access, Need.READ).workspace_id)


def _default_name(session: Session, workspace_id: int) -> str:
    names = sa.select(col(ApiKey.name)).where(col(ApiKey.workspace_id) == workspace_id)
    taken = set(session.execute(names).scalars())
    number = 1
    while f"Key {number}" in taken:
        number += 1
    return f"Key {number}"


def get_key(session: Session, access: Access, key_id: str) -> ApiKeyPublic:
    workspace_id = require(access, Need.READ).workspace_id
    key = owned_key(session, workspace_id, key_id)
    profile_name = None
    if key.bias_profile_id is not None:
        profile_name = session.get_one(BiasProfile, key.bias_profile_id).name
    return public(key, profile_name, utc_now(), identity_of(session, key))


SettableStatus = Literal["ACTIVE", "INACTIVE"]  # what an owner may set; EXPIRED comes with the end date


class KeyChanges(ProgramFields):
    """What an owner may change. Unknown fields (owner, digest, Last Used...) are rejected."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    bias_profile_id: int | None = None
    status: SettableStatus | None = None
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
    access: Access,
    actor: str,
    key_id: str,
    changes: KeyChanges,
    *,
    expected_version: int | None = None,
    client_address: str = "",
    now: dt.datetime | None = None,
) -> ApiKeyPublic:
    """Apply the fields set in `changes`. A stale `expected_version` is a conflict, not an overwrite."""
    workspace_id = require(access, Need.WRITE).workspace_id
    now = now or utc_now()
    key = owned_key(session, workspace_id, key_id)
    if expected_version is not None and key.version != expected_version:
        raise ConflictError(STALE_MESSAGE, code=STALE_CODE)
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
    rules = key_policy.policy_for(session, workspace_id)
    if "bias_profile_id" in given and changes.bias_profile_id != key.bias_profile_id:
        if changes.bias_profile_id is None:
            key_policy.check_profile(rules, None)
            profile_name = None
        else:
            profile_name = owned_profile(session, workspace_id, changes.bias_profile_id).name
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
        values["expires_at"] = check_future_end_date(changes.expires_at, now)
        key_policy.check_end_date(rules, values["expires_at"], key.created_at)
        notes.append(f"expires_at={iso(values['expires_at'])}")
    program_given = {name: getattr(changes, name) for name in PROGRAM_FIELDS if name in given}
    if program_given:
        program_changes, program_notes = program_values(session, access, actor, key, program_given, now)
        values.update(program_changes)
        notes += program_notes
    status_changed = False
    if "status" in given and changes.status is not None and changes.status != current_status:
        if current_status == KeyStatus.EXPIRED:
            raise ValidationError(
                "An expired key cannot be reactivated. Create a new key instead.", field="status"
            )
        values["status"] = changes.status
        status_changed = True
    if not values:
        return public(key, profile_name, now, identity_of(session, key))
    events = [("key.update", _bounded(" ".join(notes)))] if notes else []
    if status_changed:
        events.append(("key.status", f"{current_status} -> {changes.status}"))
    change_key(session, key, values, actor, events, client_address=client_address, now=now)
    if status_changed and changes.status == KeyStatus.ACTIVE:
        idle.restart_clock(session, key, now)  # turning a key back on counts as a use (idle rule)
    webhooks.emit_key(session, key, webhooks.KEY_UPDATED, now)
    return public(key, profile_name, now, identity_of(session, key))


def change_key(
    session: Session,
    key: ApiKey,
    values: dict[str, Any],
    actor: str,
    events: list[tuple[str, str]],
    *,
    client_address: str = "",
    now: dt.datetime,
) -> None:
    """The one way an existing key row changes (edit, roll, expire now): bump `updated_at` and
    `version` only if the row still has the version read into `key` (else a STALE conflict, never
    a lost update), record each (action, detail) audit event, and reload `key`."""
    values = {**values, "updated_at": now, "version": key.version + 1}
    result = session.execute(
        sa.update(ApiKey).where(col(ApiKey.id) == key.id, col(ApiKey.version) == key.version).values(**values)
    )
    if rows_matched(result) != 1:
        raise ConflictError(STALE_MESSAGE, code=STALE_CODE)
    for action, detail in events:
        audit.record(
            session,
            action=action,
            actor=actor,
            owner_id=key.owner_id,
            workspace_id=key.workspace_id,
            target_type="key",
            target_id=key.key_id,
            detail=detail,
            client_address=client_address,
            when=now,
        )
    session.flush()
    session.refresh(key)


def delete_key(
    session: Session,
    access: Access,
    actor: str,
    key_id: str,
    *,
    expected_version: int | None = None,
    client_address: str = "",
) -> None:
    """Permanent: the row is gone and the next verification fails. Only the audit event remains.

    With `expected_version` the DELETE itself is conditional on it (WHERE version = :v), so a
    change committed between the caller's read and this delete is a STALE conflict, never lost."""
    workspace_id = require(access, Need.WRITE).workspace_id
    key = owned_key(session, workspace_id, key_id)
    assert key.id is not None  # a stored row
    delete_row(session, ApiKey, key.id, expected_version, STALE_MESSAGE)
    audit.record_for(
        session,
        access,
        action="key.delete",
        actor=actor,
        target_type="key",
        target_id=key_id,
        detail=f"name={key.name!r}",
        client_address=client_address,
    )
    webhooks.emit_key(session, key, webhooks.KEY_DELETED)
    session.flush()


def key_row_id(session: Session, access: Access, key_id: str) -> int:
    """The internal row id of an owned key (usage rows are keyed by it); NotFoundError otherwise."""
    workspace_id = require(access, Need.READ).workspace_id
    return owned_key(session, workspace_id, key_id).id or 0
