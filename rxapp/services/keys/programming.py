"""A key's programmable fields on create and update: validated (codes from services/programs.py),
turned into column values and audit notes. Permissions new to the workspace join its catalogue and
an identity named by external id is made when new (both audited)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

from rxapp.models import ApiKey
from rxapp.services import identities, programs, roles
from rxapp.services.access import Access
from rxapp.services.errors import ValidationError

FIELDS = ("credits", "refill", "ratelimits", "permissions", "roles", "meta", "ip_allow", "identity")


class ProgramFields(BaseModel):
    """The programmable fields; on update only those set change (null clears one)."""

    model_config = ConfigDict(extra="forbid")

    credits: int | None = None
    refill: dict[str, Any] | None = None  # {amount, interval: day|month, day}
    ratelimits: list[dict[str, Any]] | None = None  # [{name, limit, duration (ms or "1m")}]
    permissions: list[str] | None = None
    roles: list[str] | None = None  # role names of the workspace
    meta: dict[str, Any] | None = None
    ip_allow: list[str] | None = None
    identity: str | None = None  # the identity's external id


def refill_text(amount: int | None, interval: str | None, day: int | None) -> str:
    if amount is None or interval is None:
        return "none"
    return f"{amount}/{interval}" + (f"@{day}" if interval == "month" and day else "")


def program_values(
    session: Session,
    access: Access,
    actor: str,
    key: ApiKey | None,
    given: dict[str, Any],
    now: dt.datetime,
) -> tuple[dict[str, Any], list[str]]:
    """Column values for the fields in `given` (name -> value) and the audit notes for them."""
    current = dict((key.program if key is not None else None) or {})
    credits = key.credits_remaining if key is not None else None
    refill: dict[str, Any] | None = (
        {"amount": key.refill_amount, "interval": key.refill_interval, "day": key.refill_day}
        if key is not None and key.refill_amount is not None
        else None
    )
    identity_id = key.identity_id if key is not None else None
    values: dict[str, Any] = {}
    notes: list[str] = []
    if "refill" in given:
        refill = programs.check_refill(given["refill"])
        text = refill_text(refill["amount"], refill["interval"], refill["day"]) if refill else "none"
        values.update(
            refill_amount=refill["amount"] if refill else None,
            refill_interval=refill["interval"] if refill else None,
            refill_day=refill["day"] if refill else None,
        )
        if refill:
            values["last_refill_at"] = now  # the current period counts as refilled: the next one sets it
        notes.append(f"refill={text}")
        if refill and credits is None and "credits" not in given:
            credits = int(refill["amount"])
            values["credits_remaining"] = credits
            notes.append(f"credits={credits}")
    if "credits" in given:
        credits = programs.check_credits(given["credits"])
        if credits is None and refill is not None:
            raise ValidationError(
                "A key with a refill needs credits; remove the refill first.",
                field="credits",
                code="BAD_CREDITS",
            )
        values["credits_remaining"] = credits
        notes.append(f"credits={credits if credits is not None else 'none'}")
    if "ratelimits" in given:
        current["ratelimits"] = programs.check_ratelimits(given["ratelimits"])
        limits = [f"{item['name']}={item['limit']}/{item['duration']}ms" for item in current["ratelimits"]]
        notes.append(f"ratelimits={limits}")
    if "permissions" in given:
        current["permissions"] = programs.check_permissions(given["permissions"])
        identities.ensure_permissions(session, access, actor, current["permissions"])
        notes.append(f"permissions={current['permissions']}")
    if "roles" in given:
        names = programs.check_roles(given["roles"])
        current["roles"] = names
        current["role_permissions"] = roles.permissions_of(session, access, names)
        notes.append(f"roles={names}")
    if "meta" in given:
        current["meta"] = programs.check_meta(given["meta"])
        notes.append("meta=" + ("set" if current["meta"] is not None else "none"))
    if "ip_allow" in given:
        current["ip_allow"] = programs.check_ip_allow(given["ip_allow"])
        notes.append(f"ip_allow={current['ip_allow']}")
    if "identity" in given:
        external_id = given["identity"]
        if external_id is None:
            identity_id = None
        else:
            identity_id = identities.ensure_identity(session, access, actor, external_id).id
        values["identity_id"] = identity_id
        notes.append(f"identity={external_id!r}")
    if not notes:
        return {}, []
    values["program"] = programs.stored_program(
        credits=credits is not None,
        permissions=list(current.get("permissions") or []),
        meta=current.get("meta"),
        ip_allow=list(current.get("ip_allow") or []),
        ratelimits=list(current.get("ratelimits") or []),
        identity_id=identity_id,
        roles=list(current.get("roles") or []),
        role_permissions=list(current.get("role_permissions") or []),
    )
    return values, notes


def public_fields(key: ApiKey, identity: str | None) -> dict[str, Any]:
    """What ApiKeyPublic shows of a key's programmable fields."""
    program = key.program or {}
    refill = None
    if key.refill_amount is not None:
        refill = {"amount": key.refill_amount, "interval": key.refill_interval, "day": key.refill_day}
    return {
        "credits": key.credits_remaining,
        "refill": refill,
        "last_refill_at": key.last_refill_at,
        "ratelimits": list(program.get("ratelimits") or []),
        "permissions": list(program.get("permissions") or []),
        "roles": list(program.get("roles") or []),
        "meta": program.get("meta"),
        "ip_allow": list(program.get("ip_allow") or []),
        "identity": identity,
    }
