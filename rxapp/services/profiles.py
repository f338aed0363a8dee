"""Bias profiles: named settings the service applies to calls made with a key."""

from __future__ import annotations

import math
import re
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from rxapp.models import BIAS_CATEGORIES, ApiKey, BiasProfile, BiasProfilePublic, ProfileAction, utc_now
from rxapp.services import audit
from rxapp.services.access import Access, Need, require
from rxapp.services.errors import ConflictError, NotFoundError, ValidationError
from rxapp.services.text import hidden_character
from rxapp.services.versioning import STALE_CODE, delete_row, rows_matched

NAME_MAX_LENGTH = 80
DESCRIPTION_MAX_LENGTH = 500
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # descriptions may hold tabs/newlines
_NAME_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # a name is one printable line
STALE_MESSAGE = "This profile was changed somewhere else since you opened it. Reload and try again."


def validate_settings(
    name: str, description: str, categories: list[str], sensitivity: Any, action: str
) -> tuple[str, str, list[str], float, str]:
    name = (name or "").strip()
    if not name:
        raise ValidationError("Name is required.", field="name")
    if len(name) > NAME_MAX_LENGTH or _NAME_CONTROL_CHARACTERS.search(name) or hidden_character(name):
        raise ValidationError(
            f"Name must be at most {NAME_MAX_LENGTH} printable characters, with no invisible or "
            "text-direction characters.",
            field="name",
        )
    description = (description or "").strip()
    if (
        len(description) > DESCRIPTION_MAX_LENGTH
        or _CONTROL_CHARACTERS.search(description)
        or hidden_character(description, multiline=True)
    ):
        raise ValidationError(
            f"Description must be at most {DESCRIPTION_MAX_LENGTH} printable characters.",
            field="description",
        )
    unknown = [category for category in categories if category not in BIAS_CATEGORIES]
    if unknown:
        raise ValidationError(f"Unknown bias category: {unknown[0]!r}.", field="categories")
    ordered = [category for category in BIAS_CATEGORIES if category in set(categories)]
    try:
        sensitivity_value = float(sensitivity)
    except (TypeError, ValueError):
        raise ValidationError("Sensitivity must be a number between 0 and 1.", field="sensitivity") from None
    if not math.isfinite(sensitivity_value) or not 0.0 <= sensitivity_value <= 1.0:
        raise ValidationError("Sensitivity must be between 0 and 1.", field="sensitivity")
    if action not in {member.value for member in ProfileAction}:
        raise ValidationError("Action must be flag, block or rewrite.", field="action")
    return name, description, ordered, round(sensitivity_value, 4), action


def _public(profile: BiasProfile, key_count: int) -> BiasProfilePublic:
    return BiasProfilePublic(
        id=profile.id or 0,
        name=profile.name,
        description=profile.description,
        categories=list(profile.categories),
        sensitivity=profile.sensitivity,
        action=profile.action,
        key_count=key_count,
        version=profile.version,
    )


def _owned(session: Session, workspace_id: int, profile_id: int) -> BiasProfile:
    profile = session.exec(
        select(BiasProfile).where(BiasProfile.id == profile_id, BiasProfile.workspace_id == workspace_id)
    ).first()
    if profile is None:
        raise NotFoundError("Bias profile not found.", target_type="profile", target_id=str(profile_id))
    return profile


def _name_taken(session: Session, workspace_id: int, name: str, except_id: int | None = None) -> bool:
    query = select(BiasProfile.id).where(
        BiasProfile.workspace_id == workspace_id, func.lower(BiasProfile.name) == name.lower()
    )
    if except_id is not None:
        query = query.where(BiasProfile.id != except_id)
    return session.exec(query).first() is not None


def create_profile(
    session: Session,
    access: Access,
    actor: str,
    name: str,
    *,
    description: str = "",
    categories: list[str] | None = None,
    sensitivity: Any = 0.5,
    action: str = "flag",
    client_address: str = "",
) -> BiasProfilePublic:
    workspace_id = require(access, Need.WRITE).workspace_id
    name, description, categories, sensitivity, action = validate_settings(
        name, description, categories or [], sensitivity, action
    )
    if _name_taken(session, workspace_id, name):
        raise ConflictError(f"This workspace already has a bias profile named {name!r}.", field="name")
    profile = BiasProfile(
        owner_id=access.user_id,
        workspace_id=workspace_id,
        name=name,
        description=description,
        categories=categories,
        sensitivity=sensitivity,
        action=action,
    )
    session.add(profile)
    session.flush()
    audit.record_for(
        session,
        access,
        action="profile.create",
        actor=actor,
        target_type="profile",
        target_id=name,
        client_address=client_address,
        detail=f"categories={','.join(categories)} sensitivity={sensitivity} action={action}",
    )
    return _public(profile, 0)


def list_profiles(session: Session, access: Access) -> list[BiasProfilePublic]:
    workspace_id = require(access, Need.READ).workspace_id
    key_counts = (
        select(ApiKey.bias_profile_id, func.count(col(ApiKey.id)).label("key_count"))
        .where(ApiKey.workspace_id == workspace_id, col(ApiKey.bias_profile_id).is_not(None))
        .group_by(col(ApiKey.bias_profile_id))
        .subquery()
    )
    rows = session.exec(
        select(BiasProfile, func.coalesce(key_counts.c.key_count, 0))
        .join(key_counts, key_counts.c.bias_profile_id == BiasProfile.id, isouter=True)
        .where(BiasProfile.workspace_id == workspace_id)
        .order_by(func.lower(BiasProfile.name))
    ).all()
    return [_public(profile, count) for profile, count in rows]


def get_profile(session: Session, access: Access, profile_id: int) -> BiasProfilePublic:
    workspace_id = require(access, Need.READ).workspace_id
    profile = _owned(session, workspace_id, profile_id)
    return _public(profile, _key_count(session, workspace_id, profile_id))


def find_profile_by_name(session: Session, access: Access, name: str) -> BiasProfilePublic:
    workspace_id = require(access, Need.READ).workspace_id
    profile = session.exec(
        select(BiasProfile).where(
            BiasProfile.workspace_id == workspace_id, func.lower(BiasProfile.name) == name.strip().lower()
        )
    ).first()
    if profile is None:
        raise NotFoundError(f"No bias profile named {name!r}.")
    return _public(profile, _key_count(session, workspace_id, profile.id or 0))


def _key_count(session: Session, workspace_id: int, profile_id: int) -> int:
    return session.exec(
        select(func.count(col(ApiKey.id))).where(
            ApiKey.workspace_id == workspace_id, ApiKey.bias_profile_id == profile_id
        )
    ).one()


def update_profile(
    session: Session,
    access: Access,
    actor: str,
    profile_id: int,
    *,
    name: str,
    description: str,
    categories: list[str],
    sensitivity: Any,
    action: str,
    expected_version: int | None = None,
    client_address: str = "",
) -> BiasProfilePublic:
    workspace_id = require(access, Need.WRITE).workspace_id
    profile = _owned(session, workspace_id, profile_id)
    if expected_version is not None and profile.version != expected_version:
        raise ConflictError(STALE_MESSAGE, code=STALE_CODE)
    name, description, categories, sensitivity, action = validate_settings(
        name, description, categories, sensitivity, action
    )
    if _name_taken(session, workspace_id, name, except_id=profile_id):
        raise ConflictError(f"This workspace already has a bias profile named {name!r}.", field="name")
    result = session.execute(
        sa.update(BiasProfile)
        .where(col(BiasProfile.id) == profile_id, col(BiasProfile.version) == profile.version)
        .values(
            name=name,
            description=description,
            categories=categories,
            sensitivity=sensitivity,
            action=action,
            updated_at=utc_now(),
            version=profile.version + 1,
        )
    )
    if rows_matched(result) != 1:
        raise ConflictError(STALE_MESSAGE, code=STALE_CODE)
    audit.record_for(
        session,
        access,
        action="profile.update",
        actor=actor,
        target_type="profile",
        target_id=name,
        client_address=client_address,
        detail=f"categories={','.join(categories)} sensitivity={sensitivity} action={action}",
    )
    session.flush()
    session.refresh(profile)
    return _public(profile, _key_count(session, workspace_id, profile_id))


def delete_profile(
    session: Session,
    access: Access,
    actor: str,
    profile_id: int,
    *,
    expected_version: int | None = None,
    client_address: str = "",
) -> None:
    """Refused while keys use it. With `expected_version` the DELETE itself is conditional on it
    (WHERE version = :v): a change committed since the caller's read is a STALE conflict."""
    workspace_id = require(access, Need.WRITE).workspace_id
    profile = _owned(session, workspace_id, profile_id)
    in_use = _key_count(session, workspace_id, profile_id)
    if in_use:
        noun = "key uses" if in_use == 1 else "keys use"
        raise ConflictError(
            f"{in_use} API {noun} the profile {profile.name!r}. Move "
            f"{'it' if in_use == 1 else 'them'} to another profile (or to no profile) first."
        )
    delete_row(session, BiasProfile, profile_id, expected_version, STALE_MESSAGE)
    audit.record_for(
        session,
        access,
        action="profile.delete",
        actor=actor,
        target_type="profile",
        target_id=profile.name,
        client_address=client_address,
    )
    session.flush()
