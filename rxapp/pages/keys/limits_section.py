"""The "Limits and permissions" section as drawn in the create and edit dialogs (its state and the
checks of what it sends: program_form.py). Kept mounted while collapsed, so what was typed survives
closing it."""

from __future__ import annotations

from typing import Any

import reflex as rx

from rxapp.components.forms import choice_select, invalid_if, labelled_field
from rxapp.pages.keys.program_form import REFILL_CHOICES
from rxapp.services import programs

# a phone's touch target: 44 px (a text field's <input> is 2 px shorter than its box); a desktop's usual size
_CONTROL = {"min_height": rx.breakpoints(initial="44px", sm="32px")}
_INPUT = {"min_height": rx.breakpoints(initial="46px", sm="32px")}


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
            aria_label=name,  # axe: the wrapping label does not name Radix's button role=checkbox
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


def _role_box(state: Any, name: rx.Var) -> rx.Component:
    return rx.el.label(
        rx.checkbox(
            checked=state.roles.contains(name),
            aria_label=name,  # axe: the wrapping label does not name Radix's button role=checkbox
            on_change=lambda checked: state.toggle_role(name, checked),
        ),
        rx.text(name, size="2"),
        display="inline-flex",
        align_items="center",
        gap="6px",
        min_height="44px",
        padding_right="12px",
    )


def _roles(state: Any) -> rx.Component:
    """The workspace's roles as checkboxes (made in the catalogue on the Members page)."""
    return _field(
        state,
        "Roles (the key gets their permissions too)",
        rx.cond(
            state.role_options.length() > 0,
            rx.el.div(
                rx.foreach(state.role_options, lambda name: _role_box(state, name)),
                id="key-roles",
                role="group",
                aria_label="Roles",
                display="flex",
                flex_wrap="wrap",
            ),
            rx.text(
                "No roles yet: the Members page's permission catalogue makes them.",
                size="2",
                id="key-roles",
                color=rx.color("gray", 11),
            ),
        ),
        "key-roles",
        "roles",
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
        _roles(state),
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
