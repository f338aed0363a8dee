"""The create and edit dialogs' "Limits and permissions" section (issue 24): credits and refill,
named rate limits, permissions and roles, metadata, IP allowlist and identity: its state and what it sends
(drawn by limits_section.py).

Collapsed by default, so a plain key is still three clicks. The text fields are uncontrolled: their
values travel with the dialog's submit (`form_data`), as the name does. The rate-limit rows, the
permission checkboxes and the refill period are kept in state (rows are added and removed, a
checkbox toggles). The services check every value (services/programs.py); their errors carry a
code, mapped here to the field it belongs to, and the section opens to show it.
"""

from __future__ import annotations

import json
from typing import Any

import reflex as rx
from sqlmodel import Session

from rxapp.models import ApiKeyPublic
from rxapp.services import identities, programs, roles
from rxapp.services.access import Access
from rxapp.services.errors import ValidationError

# a service error's code -> the field (and `error_field`) it is shown next to
CODE_FIELDS = {
    "BAD_CREDITS": "credits",
    "BAD_REFILL": "refill",
    "BAD_RATELIMIT": "ratelimits",
    "BAD_PERMISSION": "permissions",
    "BAD_ROLE": "roles",
    "UNKNOWN_ROLE": "roles",
    "BAD_META": "meta",
    "BAD_IP_ALLOW": "ip_allow",
    "BAD_IDENTITY": "identity",
}
PROGRAM_FIELDS = tuple(CODE_FIELDS.values())
# the control that holds each field's value: where focus goes when that field is refused
PROGRAM_CONTROLS = {
    "credits": "key-credits",
    "refill": "key-refill-amount",
    "ratelimits": "key-ratelimit-add",
    "permissions": "key-permission-new",
    "roles": "key-roles",
    "meta": "key-meta",
    "ip_allow": "key-ip-allow",
    "identity": "key-identity",
}
REFILL_CHOICES = {"none": "No refill", "day": "Every day", "month": "Every month, on day"}
_UNITS = (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000))


def duration_text(ms: int) -> str:
    """60000 -> "1m": the largest unit that divides it (milliseconds otherwise)."""
    for unit, size in _UNITS:
        if ms and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def catalogue(session: Session, access: Access) -> tuple[list[str], list[str]]:
    """The workspace's permission names and role names (through `in_session` when a dialog opens)."""
    names = [permission.name for permission in identities.list_permissions(session, access)]
    return names, roles.role_names(session, access)


def _whole(text: Any, field: str, code: str, what: str) -> int | None:
    text = text.strip() if isinstance(text, str) else ""
    if not text:
        return None
    if not text.isdigit():
        raise ValidationError(f"{what} is a whole number (0 or more).", field=field, code=code)
    return int(text)


class KeyProgramFields(rx.State, mixin=True):
    """Mixed into CreateKeyState and EditKeyState beside KeyFormFields."""

    limits_open: bool = False
    refill_period: str = "none"
    ratelimit_rows: list[dict[str, str]] = []
    permissions: list[str] = []  # the ticked names
    permission_options: list[str] = []  # the workspace's catalogue and the key's own names
    roles: list[str] = []  # the ticked role names
    role_options: list[str] = []  # the workspace's roles and the key's own
    credits_text: str = ""  # the defaults of the uncontrolled fields (edit: the key's values)
    refill_amount_text: str = ""
    refill_day_text: str = "1"
    meta_text: str = ""
    ip_text: str = ""
    identity_text: str = ""
    _original: dict[str, Any] = {}  # edit: the payload as read (only changed fields are sent)

    @rx.event
    def toggle_limits(self):
        self.limits_open = not self.limits_open

    @rx.event
    def set_refill_period(self, value: str):
        self.refill_period = value if value in REFILL_CHOICES else "none"

    @rx.event
    def add_ratelimit(self):
        if len(self.ratelimit_rows) < programs.RATELIMITS_MAX:
            self.ratelimit_rows = [*self.ratelimit_rows, {"name": "", "limit": "", "duration": "1m"}]

    @rx.event
    def remove_ratelimit(self, index: int):
        self.ratelimit_rows = [row for i, row in enumerate(self.ratelimit_rows) if i != index]

    @rx.event
    def set_ratelimit_cell(self, index: int, column: str, value: str):
        if column in ("name", "limit", "duration") and 0 <= index < len(self.ratelimit_rows):
            rows = [dict(row) for row in self.ratelimit_rows]
            rows[index][column] = value[:64]
            self.ratelimit_rows = rows

    @rx.event
    def toggle_permission(self, name: str, checked: bool):
        chosen = set(self.permissions)
        if checked:
            chosen.add(name)
        else:
            chosen.discard(name)
        self.permissions = sorted(chosen)

    @rx.event
    def toggle_role(self, name: str, checked: bool):
        chosen = set(self.roles)
        if checked:
            chosen.add(name)
        else:
            chosen.discard(name)
        self.roles = sorted(chosen)

    def show_catalogue(self, found: tuple[list[str], list[str]]) -> None:
        """The checkboxes: the workspace's catalogue and roles (`catalogue`) and the key's own."""
        names, role_names = found
        self.permission_options = sorted(set(names) | set(self.permissions))
        self.role_options = sorted(set(role_names) | set(self.roles))

    def fill_program(self, key: ApiKeyPublic | None) -> None:
        """The section's values: empty for a new key, the key's own for edit."""
        refill = key.refill if key is not None else None
        self.credits_text = str(key.credits) if key is not None and key.credits is not None else ""
        self.refill_period = str(refill["interval"]) if refill else "none"
        self.refill_amount_text = str(refill["amount"]) if refill else ""
        self.refill_day_text = str(refill.get("day") or 1) if refill else "1"
        self.ratelimit_rows = [
            {"name": item["name"], "limit": str(item["limit"]), "duration": duration_text(item["duration"])}
            for item in (key.ratelimits if key is not None else [])
        ]
        self.permissions = list(key.permissions) if key is not None else []
        self.roles = list(key.roles) if key is not None else []
        self.meta_text = json.dumps(key.meta, indent=2) if key is not None and key.meta is not None else ""
        self.ip_text = "\n".join(key.ip_allow) if key is not None else ""
        self.identity_text = (key.identity or "") if key is not None else ""
        self._original = self._payload(
            {
                "credits": self.credits_text,
                "refill_amount": self.refill_amount_text,
                "refill_day": self.refill_day_text,
                "meta": self.meta_text,
                "ip_allow": self.ip_text,
                "identity": self.identity_text,
            }
        )

    def _payload(self, form_data: dict) -> dict[str, Any]:
        """Every programmable field as the services take it (None / [] for "none")."""
        credits = _whole(form_data.get("credits"), "credits", "BAD_CREDITS", "Credits")
        refill = None
        if self.refill_period != "none":
            amount = _whole(form_data.get("refill_amount"), "refill", "BAD_REFILL", "The refill amount")
            if amount is None:
                raise ValidationError("Give the refill an amount.", field="refill", code="BAD_REFILL")
            refill = {"amount": amount, "interval": self.refill_period}
            if self.refill_period == "month":
                refill["day"] = _whole(form_data.get("refill_day"), "refill", "BAD_REFILL", "The day") or 1
        limits = []
        for row in self.ratelimit_rows:
            if not (row["name"].strip() or row["limit"].strip()):
                continue  # an untouched new row is no limit
            limit = _whole(row["limit"], "ratelimits", "BAD_RATELIMIT", "A rate limit's limit")
            limits.append({"name": row["name"].strip(), "limit": limit, "duration": row["duration"]})
        typed = form_data.get("permissions_new")
        new = (
            [name for name in (typed or "").replace(",", " ").split() if name]
            if isinstance(typed, str)
            else []
        )
        meta_text = form_data.get("meta")
        meta = (
            programs.parse_meta_text(meta_text) if isinstance(meta_text, str) and meta_text.strip() else None
        )
        ip_text = form_data.get("ip_allow")
        ip_allow = (
            [line.strip() for line in (ip_text or "").splitlines() if line.strip()]
            if isinstance(ip_text, str)
            else []
        )
        identity = form_data.get("identity")
        return {
            "credits": credits,
            "refill": refill,
            "ratelimits": programs.check_ratelimits(limits),
            "permissions": sorted(set(self.permissions) | set(new)),
            "roles": sorted(self.roles),
            "meta": meta,
            "ip_allow": ip_allow,
            "identity": identity.strip() or None if isinstance(identity, str) else None,
        }

    def program_changes(self, form_data: dict, *, creating: bool) -> dict[str, Any]:
        """What to send: on create the fields set, on edit the fields changed (None clears one)."""
        if "credits" not in form_data:  # the section was never rendered: nothing to say
            return {}
        payload = self._payload(form_data)
        if creating:
            return {name: value for name, value in payload.items() if value not in (None, [])}
        return {name: value for name, value in payload.items() if self._original.get(name) != value}

    def place_error(self, code: str, field: str) -> str:
        """A refusal of the section's fields: by its code, the field it is shown next to (the
        section opens to show it). The dialog sets it as `error_field` and focuses its control."""
        field = CODE_FIELDS.get(code, field)
        if field in PROGRAM_FIELDS:
            self.limits_open = True
        return field
