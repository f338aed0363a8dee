"""Programmable keys: what a key may carry beyond on/off, and how verify reads it.

A key may have credits (with an optional refill), named rate limits, permissions, metadata, an IP
allowlist and an identity. The key row stores them in `program` (JSON; NULL for a key with none of
them: verify's cheap check) plus `credits_remaining` and the refill columns. This module validates
what callers send (service errors with machine-readable codes), builds the stored JSON, and parses
it back into a `Program` for verify (once per distinct JSON text, cached).
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

from rxapp.services.errors import ValidationError
from rxapp.services.permission_query import NAME as PERMISSION_NAME

CREDITS_MAX = 2_000_000_000
META_MAX_BYTES = 4096
RATELIMITS_MAX = 16
LIMIT_MAX = 1_000_000_000
DURATION_MIN_MS = 1000
DURATION_MAX_MS = 86_400_000
PERMISSIONS_MAX = 100
PERMISSION_MAX_LENGTH = 100
IP_ALLOW_MAX = 100
ROLES_MAX = 50
EXTERNAL_ID_MAX_LENGTH = 255
REFILL_INTERVALS = ("day", "month")
_LIMIT_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_DURATION = re.compile(r"^(\d+)\s*(ms|s|m|h|d)$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


class Limit(NamedTuple):
    name: str
    limit: int
    duration: int  # milliseconds


@dataclass(frozen=True, slots=True)
class Program:
    """A key's programmable features, as verify reads them (immutable, shared)."""

    credits: bool
    permissions: frozenset[str]
    permission_list: tuple[str, ...]
    meta: Any
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    ratelimits: tuple[Limit, ...]
    identity_id: int | None


# ---------------------------------------------------------------- validation (create, update)


def check_credits(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= CREDITS_MAX:
        raise ValidationError(
            f"Credits must be a whole number from 0 to {CREDITS_MAX:,}.", field="credits", code="BAD_CREDITS"
        )
    return value


def check_refill(value: Any) -> dict[str, Any] | None:
    """`{"amount": N, "interval": "day" | "month", "day": 1..31}` (day only for month; default 1)."""
    if value is None:
        return None
    bad = ValidationError(
        "Refill needs an amount (0 or more) and an interval, day or month (with a day of the month, 1-31).",
        field="refill",
        code="BAD_REFILL",
    )
    if not isinstance(value, dict) or set(value) - {"amount", "interval", "day"}:
        raise bad
    amount, interval, day = value.get("amount"), value.get("interval"), value.get("day")
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount <= CREDITS_MAX:
        raise bad
    if interval not in REFILL_INTERVALS:
        raise bad
    if interval == "day":
        if day is not None:
            raise bad
        return {"amount": amount, "interval": "day", "day": None}
    day = 1 if day is None else day
    if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 31:
        raise bad
    return {"amount": amount, "interval": "month", "day": day}


def parse_refill_text(text: str) -> dict[str, Any]:
    """The CLI's `N/day`, `N/month` or `N/month@D` → a refill."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(day|month)(?:\s*@\s*(\d+))?\s*", text or "")
    if not match or (match.group(2) == "day" and match.group(3)):
        raise ValidationError("Refill is N/day, N/month or N/month@DAY.", field="refill", code="BAD_REFILL")
    day = int(match.group(3)) if match.group(3) else None
    refill = check_refill({"amount": int(match.group(1)), "interval": match.group(2), "day": day})
    assert refill is not None
    return refill


def parse_duration(text: str) -> int:
    """`1s`, `60s`, `1m`, `1h`, `1d`, `500ms` → milliseconds (1 s .. 1 day)."""
    match = _DURATION.match((text or "").strip().lower())
    if not match:
        raise ValidationError(
            "A duration is a number and a unit: ms, s, m, h or d (e.g. 1m).",
            field="ratelimits",
            code="BAD_RATELIMIT",
        )
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


def parse_limit_text(text: str) -> dict[str, Any]:
    """The CLI's `NAME=N/DURATION` (e.g. `requests=100/1m`)."""
    name, _, rest = (text or "").partition("=")
    count, _, duration = rest.partition("/")
    if not name or not count.strip().isdigit() or not duration:
        raise ValidationError(
            "A limit is NAME=N/DURATION, e.g. requests=100/1m.", field="ratelimits", code="BAD_RATELIMIT"
        )
    return {"name": name.strip(), "limit": int(count), "duration": parse_duration(duration)}


def check_ratelimits(value: Any) -> list[dict[str, Any]]:
    """`[{"name", "limit", "duration" (ms)}]`: unique names, limit ≥ 1, duration 1 s .. 1 day."""
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > RATELIMITS_MAX:
        raise ValidationError(
            f"Rate limits are a list of at most {RATELIMITS_MAX}.", field="ratelimits", code="BAD_RATELIMIT"
        )
    seen: set[str] = set()
    limits = []
    for item in value:
        if not isinstance(item, dict) or set(item) - {"name", "limit", "duration"}:
            raise ValidationError(
                "Each rate limit has a name, a limit and a duration.",
                field="ratelimits",
                code="BAD_RATELIMIT",
            )
        name, limit, duration = item.get("name"), item.get("limit"), item.get("duration")
        if not isinstance(name, str) or not _LIMIT_NAME.match(name) or name in seen:
            raise ValidationError(
                "A rate limit's name is 1-64 letters, digits or _ . : - and unique on the key.",
                field="ratelimits",
                code="BAD_RATELIMIT",
            )
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= LIMIT_MAX:
            raise ValidationError(
                "A rate limit's limit is a whole number from 1.", field="ratelimits", code="BAD_RATELIMIT"
            )
        if isinstance(duration, str):
            duration = parse_duration(duration)
        if (
            isinstance(duration, bool)
            or not isinstance(duration, int)
            or not DURATION_MIN_MS <= duration <= DURATION_MAX_MS
        ):
            raise ValidationError(
                "A rate limit's duration is 1 second to 1 day (in milliseconds).",
                field="ratelimits",
                code="BAD_RATELIMIT",
            )
        seen.add(name)
        limits.append({"name": name, "limit": limit, "duration": duration})
    return limits


def check_permission_name(name: Any) -> str:
    if (
        not isinstance(name, str)
        or not 1 <= len(name) <= PERMISSION_MAX_LENGTH
        or not PERMISSION_NAME.fullmatch(name)
    ):
        raise ValidationError(
            f"A permission name is 1-{PERMISSION_MAX_LENGTH} letters, digits or _ . : - / *"
            " (e.g. documents.read).",
            field="permissions",
            code="BAD_PERMISSION",
        )
    if name.upper() in ("AND", "OR"):
        raise ValidationError(
            "AND and OR cannot be permission names.", field="permissions", code="BAD_PERMISSION"
        )
    return name


def check_permissions(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > PERMISSIONS_MAX:
        raise ValidationError(
            f"Permissions are a list of at most {PERMISSIONS_MAX} names.",
            field="permissions",
            code="BAD_PERMISSION",
        )
    return sorted({check_permission_name(name) for name in value})


def check_role_name(name: Any) -> str:
    """A role's name: the same characters as a permission's (e.g. `editor`, `billing.admin`)."""
    if (
        not isinstance(name, str)
        or not 1 <= len(name) <= PERMISSION_MAX_LENGTH
        or not PERMISSION_NAME.fullmatch(name)
        or name.upper() in ("AND", "OR")
    ):
        raise ValidationError(
            f"A role's name is 1-{PERMISSION_MAX_LENGTH} letters, digits or _ . : - / * (e.g. editor).",
            field="roles",
            code="BAD_ROLE",
        )
    return name


def check_roles(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > ROLES_MAX:
        raise ValidationError(
            f"Roles are a list of at most {ROLES_MAX} names.", field="roles", code="BAD_ROLE"
        )
    return sorted({check_role_name(name) for name in value})


def check_meta(value: Any, field: str = "meta") -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValidationError("Metadata is a JSON object.", field=field, code="BAD_META")
    bad = "Metadata is a JSON object of text, numbers, lists and objects (no NUL character)."
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        size = len(text.encode())
        orjson.dumps(value)  # what verify renders it with: integers within 64 bits
    except (ValueError, TypeError, UnicodeEncodeError, orjson.JSONEncodeError):
        raise ValidationError(bad, field=field, code="BAD_META") from None
    if "\\u0000" in text:  # no database text holds NUL
        raise ValidationError(bad, field=field, code="BAD_META")
    if size > META_MAX_BYTES:
        raise ValidationError(
            f"Metadata is at most {META_MAX_BYTES} bytes of JSON.", field=field, code="BAD_META"
        )
    return value


def parse_meta_text(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        raise ValidationError("Metadata is a JSON object.", field="meta", code="BAD_META") from None
    return check_meta(value)


def check_ip_allow(value: Any) -> list[str]:
    """CIDRs (IPv4 or IPv6; a bare address is a /32 or /128), normalised."""
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > IP_ALLOW_MAX:
        raise ValidationError(
            f"The IP allowlist is at most {IP_ALLOW_MAX} CIDRs.", field="ip_allow", code="BAD_IP_ALLOW"
        )
    networks = []
    for item in value:
        try:
            networks.append(str(ipaddress.ip_network(str(item).strip(), strict=False)))
        except ValueError:
            raise ValidationError(
                f"{str(item)[:60]!r} is not an IPv4 or IPv6 address or CIDR.",
                field="ip_allow",
                code="BAD_IP_ALLOW",
            ) from None
    return sorted(set(networks))


def check_external_id(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > EXTERNAL_ID_MAX_LENGTH:
        raise ValidationError(
            f"An identity's external id is 1-{EXTERNAL_ID_MAX_LENGTH} characters.",
            field="identity",
            code="BAD_IDENTITY",
        )
    if any(ord(character) < 32 or ord(character) == 127 for character in value):
        raise ValidationError(
            "An external id has no control characters.", field="identity", code="BAD_IDENTITY"
        )
    return value.strip()


def stored_program(
    *,
    credits: bool,
    permissions: list[str],
    meta: dict[str, Any] | None,
    ip_allow: list[str],
    ratelimits: list[dict[str, Any]],
    identity_id: int | None,
    roles: list[str] | None = None,
    role_permissions: list[str] | None = None,
) -> dict[str, Any] | None:
    """The `program` column: None when the key has none of the features (verify's bare path).
    `role_permissions` is the union of the roles' permissions, kept here so verify reads it with
    the key row (services/roles.py rewrites it on every role change)."""
    if not (
        credits
        or permissions
        or meta is not None
        or ip_allow
        or ratelimits
        or identity_id is not None
        or roles
    ):
        return None
    stored: dict[str, Any] = {
        "credits": credits,
        "permissions": permissions,
        "meta": meta,
        "ip_allow": ip_allow,
        "ratelimits": ratelimits,
        "identity_id": identity_id,
    }
    if roles:
        stored["roles"] = sorted(roles)
        stored["role_permissions"] = sorted(set(role_permissions or ()))
    return stored


# ---------------------------------------------------------------- verify's reading


_PARSED: dict[str, Program] = {}
_PARSED_MAX = 4096


def program_from(stored: str | dict[str, Any] | None) -> Program | None:
    """The stored JSON (text as drivers return it, or a dict) as a `Program`; None for NULL."""
    if stored is None:
        return None
    if isinstance(stored, dict):
        return _build(stored)
    found = _PARSED.get(stored)
    if found is None:
        found = _build(json.loads(stored))
        if found is None:
            return None
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[stored] = found
    return found


def _build(data: Any) -> Program | None:
    if not isinstance(data, dict):  # JSON null stored in the column: a key without a program
        return None
    permissions = tuple(sorted({*(data.get("permissions") or ()), *(data.get("role_permissions") or ())}))
    return Program(
        credits=bool(data.get("credits")),
        permissions=frozenset(permissions),
        permission_list=permissions,
        meta=data.get("meta"),
        networks=tuple(ipaddress.ip_network(cidr, strict=False) for cidr in data.get("ip_allow") or ()),
        ratelimits=tuple(
            Limit(item["name"], item["limit"], item["duration"]) for item in data.get("ratelimits") or ()
        ),
        identity_id=data.get("identity_id"),
    )


def key_bucket(key_row_id: int, name: str) -> str:
    """The limiter bucket of a key's own named limit (rxapp/limiters.py)."""
    return f"k{key_row_id}:{name}"


def identity_bucket(identity_id: int, name: str) -> str:
    """The limiter bucket of an identity's limit, shared by all its keys."""
    return f"i{identity_id}:{name}"


def limits_from(stored: str | list[Any] | None) -> tuple[Limit, ...]:
    """An identity's `ratelimits` column as Limits."""
    items: Any = json.loads(stored) if isinstance(stored, str) else stored
    return tuple(Limit(item["name"], item["limit"], item["duration"]) for item in items or ())


def ip_allowed(address: str, networks: tuple[Any, ...]) -> bool:
    """Is the caller's address inside one of the networks? An IPv4-mapped IPv6 address counts as
    its IPv4 address; no address (or garbage) is never allowed."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == network.version and ip in network for network in networks)
