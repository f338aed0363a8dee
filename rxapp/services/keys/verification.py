"""The row rules of verification: is this key row a good key right now, and which profile goes
with it?

The one definition of the verify row lives here: `VERIFY_SQL` (one query, with the placeholder
style of each driver) and `VerifyRow` (its named shape). Every lookup (services/key_lookup.py) runs
this query and hands `decide_row` this row. `digest_for` checks format and checksum first (no
database work), so garbage never costs a round trip. The pipeline that runs them in order, the
one the hot path and the tests call, is rxapp/hotpath/pipeline.py.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, NamedTuple

from rxapp.context import get_settings
from rxapp.models import KeyStatus, utc_now
from rxapp.services import key_format
from rxapp.services.keys.rules import effective_status
from rxapp.services.programs import Program, program_from

_VERIFY_SELECT = (
    "SELECT k.id, k.key_id, k.status, k.expires_at, p.id, p.name, p.description, p.categories,"
    " p.sensitivity, p.action, k.rate_limit_per_minute, w.public_id, w.name, k.program{more}"
    " FROM api_keys AS k JOIN workspaces AS w ON w.id = k.workspace_id"
    " LEFT JOIN bias_profiles AS p ON k.bias_profile_id = p.id WHERE k.digest {match}"
)
VERIFY_SQL = _VERIFY_SELECT.format(more="", match="= {placeholder}")
# Several digests at once (PostgreSQL, under load): the same row, then the digest it answers.
VERIFY_MANY_SQL = _VERIFY_SELECT.format(more=", k.digest", match="= ANY({placeholder})")
# Programmable keys only (services/programs.py): a spend (atomic: refused when the balance is short),
# the balance, the identity. Formatted with each driver's placeholders, or ints for a batch of spends.
SPEND_SQL = (
    "UPDATE api_keys SET credits_remaining = credits_remaining - {cost}"
    " WHERE id = {id} AND credits_remaining >= {cost} RETURNING credits_remaining"
)
CREDITS_SQL = "SELECT credits_remaining FROM api_keys WHERE id = {id}"
IDENTITY_SQL = "SELECT external_id, meta, ratelimits FROM identities WHERE id = {id}"
IdentityRow = tuple[str, Any, Any]  # external_id, meta (JSON text or decoded), ratelimits (same)


class VerifyRow(NamedTuple):
    """What `VERIFY_SQL` returns. `expires_at` may be an aware datetime, a naive UTC one or
    SQLite's UTC text; `categories` a list or its JSON text (drivers differ; `decide_row` copes)."""

    id: int
    key_id: str
    status: str
    expires_at: dt.datetime | str | None
    profile_id: int | None
    name: str | None
    description: str | None
    categories: list[str] | tuple[str, ...] | str | None
    sensitivity: float | None
    action: str | None
    rate_limit: int | None = None  # calls per minute; None: no limit
    workspace_id: str = ""  # the workspace's public id (never its row number)
    workspace_name: str = ""
    program: str | dict | None = None  # JSON text (or a decoded dict); None: a key without features


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
    workspace_id: str = ""  # public id: whose key it is, for the caller's attribution and billing
    workspace_name: str = ""
    program: Program | None = None  # None: no programmable features, today's path exactly


MALFORMED = Verification(valid=False, code="MALFORMED")
NOT_FOUND = Verification(valid=False, code="NOT_FOUND")


def digest_for(secret: str) -> str | None:
    """The lookup digest of a well-formed secret, or None: shape and checksum cost no database work."""
    settings = get_settings()
    if not key_format.is_well_formed(secret, settings.key_prefix):
        return None
    return key_format.digest(secret, settings.pepper)


def _aware(expires_at: dt.datetime | str | None) -> dt.datetime | None:
    if isinstance(expires_at, str):
        return dt.datetime.fromisoformat(expires_at).replace(tzinfo=dt.UTC)
    if expires_at is None:
        return None
    return (expires_at.replace(tzinfo=dt.UTC) if expires_at.tzinfo is None else expires_at).astimezone(dt.UTC)


def decide_row(row: tuple | None, now: dt.datetime | None = None) -> Verification:
    """The rules at call time, given the `VerifyRow` fetched for a digest (None: no such key).

    The row is fetched fresh on every call; only what follows from its exact contents (the parsed
    end date, the profile, the valid answer) is remembered, keyed by the whole row, so a changed
    row (status, end date, profile, name) is a new key and can never meet an old answer.
    """
    if row is None:
        return NOT_FOUND
    found = row if isinstance(row, VerifyRow) else VerifyRow(*row)
    derived = _derived(found)
    status = effective_status(found.status, derived.expires_at, now or utc_now())
    if status != KeyStatus.ACTIVE:  # a known key: its usage counts the refusal
        return Verification(valid=False, code=status, key_row_id=found.id, key_id=found.key_id)
    return derived.valid


@dataclass(frozen=True, slots=True)
class _Derived:
    expires_at: dt.datetime | None
    valid: Verification  # the answer when the key is ACTIVE at call time (shared: read-only)


_DERIVED: dict[VerifyRow, _Derived] = {}
_DERIVED_MAX = 4096  # rows remembered per process; cleared when full (a miss only costs the derivation)


def _derived(found: VerifyRow) -> _Derived:
    if isinstance(found.categories, list):  # a driver that decodes JSON: a tuple keeps the row hashable
        found = found._replace(categories=tuple(found.categories))
    if isinstance(found.program, dict):  # a driver that decodes JSON: keyed by its text instead
        found = found._replace(program=json.dumps(found.program, sort_keys=True))
    derived = _DERIVED.get(found)
    if derived is None:
        derived = _derive(found)
        if len(_DERIVED) >= _DERIVED_MAX:
            _DERIVED.clear()
        _DERIVED[found] = derived
    return derived


def _derive(found: VerifyRow) -> _Derived:
    expires_at = _aware(found.expires_at)
    profile = None
    if found.profile_id is not None:
        categories = found.categories
        if isinstance(categories, str):
            categories = json.loads(categories)
        profile = {
            "id": found.profile_id,
            "name": found.name,
            "description": found.description,
            "categories": list(categories or []),
            "sensitivity": found.sensitivity,
            "action": found.action,
        }
    valid = Verification(
        valid=True,
        key_row_id=found.id,
        key_id=found.key_id,
        status=KeyStatus.ACTIVE.value,
        expires_at=expires_at,
        bias_profile=profile,
        rate_limit=found.rate_limit,
        workspace_id=found.workspace_id,
        workspace_name=found.workspace_name,
        program=program_from(found.program),
    )
    return _Derived(expires_at, valid)
