"""The typed answer of `POST /api/v1/verify`.

Every field the console answers today, plus the ones of programmable keys (credits, meta,
permissions, identity, ratelimits): a field the console did not send is None. Unknown fields are
ignored (and kept in `raw`), so a newer console does not break an older client.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

# The codes of `valid: false` answers, for comparisons without typos. The console may add more.
NOT_FOUND = "NOT_FOUND"
INACTIVE = "INACTIVE"
EXPIRED = "EXPIRED"
MALFORMED = "MALFORMED"
MISSING_KEY = "MISSING_KEY"
RATE_LIMITED = "RATE_LIMITED"
USAGE_EXCEEDED = "USAGE_EXCEEDED"
INSUFFICIENT_PERMISSIONS = "INSUFFICIENT_PERMISSIONS"
FORBIDDEN = "FORBIDDEN"
# The client's own codes. PERMISSIONS_NOT_CHECKED: a permission query was sent and the console
# said valid without answering `permissions` (a console without programmable keys ignores the
# query): refused, never taken as a pass.
PERMISSIONS_NOT_CHECKED = "PERMISSIONS_NOT_CHECKED"
# UNREACHABLE: the console gave no verdict (unreachable, timed out, or an answer that is
# not a verdict, such as a 5xx from a proxy in front of it). See `on_unreachable`.
UNREACHABLE = "UNREACHABLE"


@dataclass(frozen=True, slots=True)
class BiasProfile:
    id: int
    name: str
    description: str
    categories: list[str]
    sensitivity: float
    action: str


@dataclass(frozen=True, slots=True)
class Identity:
    external_id: str
    meta: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class RateLimit:
    name: str
    limit: int | None = None
    remaining: int | None = None
    reset: int | str | None = None  # as the console sends it


@dataclass(frozen=True, slots=True)
class Verification:
    """One verification. Test `valid`; on `valid: false`, `code` says why."""

    valid: bool
    code: str | None = None
    key_id: str | None = None
    status: str | None = None
    expires_at: dt.datetime | None = None
    bias_profile: BiasProfile | None = None
    workspace_id: str | None = None
    workspace_name: str | None = None
    retry_after: int | None = None  # seconds, with RATE_LIMITED
    # Programmable keys (absent from consoles that do not have them):
    credits: int | None = None  # remaining after this call, for a key with credits
    meta: dict[str, Any] | None = None
    permissions: list[str] | None = None
    identity: Identity | None = None
    ratelimits: list[RateLimit] | None = None
    # True when the console could not be asked and `on_unreachable="allow"` let the call through:
    # `valid` is then True with code UNREACHABLE, and no key field is known.
    unverified: bool = False
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Verification:
        """Build from a verify answer's JSON object (unknown fields ignored, missing ones None)."""
        profile = body.get("bias_profile")
        identity = body.get("identity")
        limits = body.get("ratelimits")
        expires_at = body.get("expires_at")
        return cls(
            valid=bool(body.get("valid")),
            code=body.get("code"),
            key_id=body.get("key_id"),
            status=body.get("status"),
            expires_at=_datetime(expires_at) if isinstance(expires_at, str) else None,
            bias_profile=_profile(profile) if isinstance(profile, dict) else None,
            workspace_id=body.get("workspace_id"),
            workspace_name=body.get("workspace_name"),
            retry_after=_int(body.get("retry_after")),
            credits=_int(body.get("credits")),
            meta=body.get("meta") if isinstance(body.get("meta"), dict) else None,
            permissions=[str(p) for p in body["permissions"]]
            if isinstance(body.get("permissions"), list)
            else None,
            identity=Identity(str(identity.get("external_id", "")), identity.get("meta"))
            if isinstance(identity, dict)
            else None,
            ratelimits=[_ratelimit(item) for item in limits if isinstance(item, dict)]
            if isinstance(limits, list)
            else None,
            raw=body,
        )

    @classmethod
    def unreachable(cls, allow: bool) -> Verification:
        return cls(valid=allow, code=UNREACHABLE, unverified=allow)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _datetime(text: str) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)  # the console answers UTC


def _profile(data: dict[str, Any]) -> BiasProfile:
    return BiasProfile(
        id=int(data.get("id", 0)),
        name=str(data.get("name", "")),
        description=str(data.get("description", "")),
        categories=[str(c) for c in data.get("categories") or []],
        sensitivity=float(data.get("sensitivity", 0.0)),
        action=str(data.get("action", "")),
    )


def _ratelimit(data: dict[str, Any]) -> RateLimit:
    reset = data.get("reset")
    return RateLimit(
        name=str(data.get("name", "")),
        limit=_int(data.get("limit")),
        remaining=_int(data.get("remaining")),
        reset=reset if isinstance(reset, int | str) and not isinstance(reset, bool) else None,
    )
