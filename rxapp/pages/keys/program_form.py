"""The create and edit dialogs' "Limits and permissions" section (issue 24): credits and refill,
named rate limits, permissions, metadata, IP allowlist and identity.

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

from rxapp.components.forms import choice_select, invalid_if, labelled_field
from rxapp.models import ApiKeyPublic
from rxapp.services import identities, programs
from rxapp.services.access import Access
from rxapp.services.errors import ValidationError

# a service error's code -> the field (and `error_field`) it is shown next to
CODE_FIELDS = {
    "BAD_CREDITS": "credits",
    "BAD_REFILL": "refill",
    "BAD_RATELIMIT": "ratelimits",
    "BAD_PERMISSION": "permissions",
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
    "meta": "key-meta",
    "ip_allow": "key-ip-allow",
    "identity": "key-identity",
}
REFILL_CHOICES = {"none": "No refill", "day": "Every day", "month": "Every month, on day"}
_UNITS = (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000))
# a phone's touch target: 44 px (a text field's <input> is 2 px shorter than its box); a desktop's usual size
_CONTROL = {"min_height": rx.breakpoints(initial="44px", sm="32px")}
_INPUT = {"min_height": rx.breakpoints(initial="46px", sm="32px")}


def duration_text(ms: int) -> str:
    """60000 -> "1m": the largest unit that divides it (milliseconds otherwise)."""
    for unit, size in _UNITS:
        if ms and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def catalogue(session: Session, access: Access) -> list[str]:
    """The workspace's permission names (through `in_session` when a dialog opens)."""
    return [permission.name for permission in identities.list_permissions(session, access)]


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

    def show_catalogue(self, names: list[str]) -> None:
        """The checkboxes: the workspace's catalogue (`catalogue`) and the key's own names."""
        self.permission_options = sorted(set(names) | set(self.permissions))

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


def _hint(text: str, element_id: str) -> rx.Component:
    return rx.text(text, size="1", color=rx.color("gray", 11), id=element_id)


def _field(state: Any, label: str, control: rx.Component, control_id: str, field: str) -> rx.Component:
    return labelled_field(
        label, control, html_for=control_id, error=state.error, error_field=state.error_field, field=field
    )


def _text_input(state: Any, control_id: str, name: str, default: Any, field: str, **props) -> rx.Component:
    return rx.input(
        default_value=default,
        id=control_id,
        name=name,
        width="100%",
        **_INPUT,
        aria_invalid=invalid_if(state.error_field, field),
        **props,
    )


def _credits(state: Any) -> rx.Component:
    refill_day = rx.cond(
        state.refill_period == "month",
        rx.input(
            default_value=state.refill_day_text,
            id="key-refill-day",
            name="refill_day",
            input_mode="numeric",
            aria_label="Day of the month (1-31)",
            width="5em",
            **_INPUT,
        ),
    )
    return rx.vstack(
        _field(
            state,
            "Credits (uses left, optional)",
            _text_input(
                state,
                "key-credits",
                "credits",
                state.credits_text,
                "credits",
                input_mode="numeric",
                placeholder="Unlimited",
            ),
            "key-credits",
            "credits",
        ),
        _field(
            state,
            "Refill (sets the credits back to this amount)",
            rx.hstack(
                _text_input(
                    state,
                    "key-refill-amount",
                    "refill_amount",
                    state.refill_amount_text,
                    "refill",
                    input_mode="numeric",
                    placeholder="Amount",
                ),
                choice_select(
                    REFILL_CHOICES,
                    state.refill_period,
                    state.set_refill_period,
                    "key-refill-period",
                    aria_label="Refill period",
                    **_CONTROL,
                ),
                refill_day,
                width="100%",
                wrap="wrap",
            ),
            "key-refill-amount",
            "refill",
        ),
        width="100%",
    )


def _ratelimit_row(state: Any, row: Any, index: Any) -> rx.Component:
    number = (index + 1).to_string()
    return rx.hstack(
        rx.input(
            value=row["name"],
            on_change=lambda value: state.set_ratelimit_cell(index, "name", value),
            placeholder="name",
            aria_label="Limit " + number + " name",
            id="key-ratelimit-name-" + index.to_string(),
            width="40%",
            **_INPUT,
        ),
        rx.input(
            value=row["limit"],
            on_change=lambda value: state.set_ratelimit_cell(index, "limit", value),
            placeholder="100",
            input_mode="numeric",
            aria_label="Limit " + number + " calls",
            id="key-ratelimit-limit-" + index.to_string(),
            width="25%",
            **_INPUT,
        ),
        rx.input(
            value=row["duration"],
            on_change=lambda value: state.set_ratelimit_cell(index, "duration", value),
            placeholder="1m",
            aria_label="Limit " + number + " window (e.g. 1s, 1m, 1h, 1d)",
            id="key-ratelimit-duration-" + index.to_string(),
            width="20%",
            **_INPUT,
        ),
        rx.icon_button(
            rx.icon("x", size=16),
            type="button",
            variant="soft",
            color_scheme="gray",
            on_click=state.remove_ratelimit(index),
            aria_label="Remove limit " + number,
            id="key-ratelimit-remove-" + index.to_string(),
            min_width="44px",
            **_CONTROL,
        ),
        width="100%",
        align="center",
    )


def _ratelimits(state: Any) -> rx.Component:
    return _field(
        state,
        "Named rate limits",
        rx.vstack(
            rx.foreach(state.ratelimit_rows, lambda row, index: _ratelimit_row(state, row, index)),
            rx.button(
                rx.icon("plus", size=14),
                "Add a limit",
                type="button",
                variant="soft",
                on_click=state.add_ratelimit,
                id="key-ratelimit-add",
                **_CONTROL,
            ),
            _hint(
                "Name, calls per window and the window (1s to 1d); verify checks each.", "key-ratelimit-hint"
            ),
            width="100%",
            spacing="2",
        ),
        "key-ratelimit-add",
        "ratelimits",
    )


def _permission_box(state: Any, name: rx.Var) -> rx.Component:
    return rx.el.label(
        rx.checkbox(
            checked=state.permissions.contains(name),
            on_change=lambda checked: state.toggle_permission(name, checked),
        ),
        rx.text(name, size="2"),
        display="inline-flex",
        align_items="center",
        gap="6px",
        min_height="44px",
        padding_right="12px",
    )


def _permissions(state: Any) -> rx.Component:
    return _field(
        state,
        "Permissions (new ones join the workspace's catalogue)",
        rx.vstack(
            rx.el.div(
                rx.foreach(state.permission_options, lambda name: _permission_box(state, name)),
                id="key-permissions",
                role="group",
                aria_label="Permissions",
                display="flex",
                flex_wrap="wrap",
            ),
            _text_input(
                state,
                "key-permission-new",
                "permissions_new",
                "",
                "permissions",
                placeholder="New names, e.g. documents.read (space or comma between)",
                aria_label="New permissions",
            ),
            width="100%",
            spacing="1",
        ),
        "key-permission-new",
        "permissions",
    )


def _textarea(state: Any, control_id: str, name: str, default: Any, field: str, **props) -> rx.Component:
    return rx.text_area(
        default_value=default,
        id=control_id,
        name=name,
        width="100%",
        rows="3",
        aria_invalid=invalid_if(state.error_field, field),
        aria_describedby=control_id + "-hint",
        **props,
    )


def limits_section(state: Any) -> rx.Component:
    """The collapsed "Limits and permissions" section of a key dialog (kept mounted when closed, so
    what was typed survives closing it)."""
    body = rx.vstack(
        _credits(state),
        _ratelimits(state),
        _permissions(state),
        _field(
            state,
            "Metadata (a JSON object, at most 4 KiB)",
            rx.vstack(
                _textarea(state, "key-meta", "meta", state.meta_text, "meta", placeholder='{"plan": "pro"}'),
                _hint("Returned as meta by verify.", "key-meta-hint"),
                width="100%",
                spacing="1",
            ),
            "key-meta",
            "meta",
        ),
        _field(
            state,
            "IP allowlist (one address or CIDR a line)",
            rx.vstack(
                _textarea(
                    state, "key-ip-allow", "ip_allow", state.ip_text, "ip_allow", placeholder="203.0.113.0/24"
                ),
                _hint("Empty allows every address.", "key-ip-allow-hint"),
                width="100%",
                spacing="1",
            ),
            "key-ip-allow",
            "ip_allow",
        ),
        _field(
            state,
            "Identity (your customer's external id)",
            _text_input(
                state,
                "key-identity",
                "identity",
                state.identity_text,
                "identity",
                placeholder="e.g. acme",
                max_length=programs.EXTERNAL_ID_MAX_LENGTH,
            ),
            "key-identity",
            "identity",
        ),
        id="key-limits",
        width="100%",
        spacing="3",
        display=rx.cond(state.limits_open, "flex", "none"),
    )
    return rx.vstack(
        rx.button(
            rx.cond(state.limits_open, rx.icon("chevron-down", size=16), rx.icon("chevron-right", size=16)),
            "Limits and permissions",
            type="button",
            variant="ghost",
            on_click=state.toggle_limits,
            aria_expanded=rx.cond(state.limits_open, "true", "false"),
            aria_controls="key-limits",
            id="key-limits-toggle",
            **_CONTROL,
        ),
        body,
        width="100%",
    )
