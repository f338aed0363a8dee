"""Update API Key: name, Bias Profile, status (ACTIVE/INACTIVE), end date and rate limit, with a stale-edit
check (the version read when the dialog opened)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import reflex as rx

from rxapp.components.badges import status_badge
from rxapp.components.dialogs import DialogOpen, dialog_footer, form_dialog
from rxapp.components.forms import focus_element, form_error, invalid_if, labelled_field
from rxapp.models import ApiKeyPublic, KeyStatus
from rxapp.pages.keys.key_form import RATE_LIMIT_FIELD, KeyFormFields, end_date_input, rate_limit_field
from rxapp.pages.keys.limits_section import limits_section
from rxapp.pages.keys.listing import profile_select, reload_table
from rxapp.pages.keys.program_form import (
    PROGRAM_CONTROLS,
    PROGRAM_FIELDS,
    KeyProgramFields,
    catalogue,
)
from rxapp.services import keys as key_service
from rxapp.session_guard import Caller
from rxapp.state import AuthState, Refusal, requires_user

_FIELDS = ("name", "expires_at", "status", "bias_profile_id", RATE_LIMIT_FIELD, *PROGRAM_FIELDS)
_FIELD_CONTROLS = {
    "name": "edit-name",
    "bias_profile_id": "edit-profile",
    "expires_at": "edit-end-date",
    RATE_LIMIT_FIELD: "edit-rate-limit",
    **PROGRAM_CONTROLS,
}


class EditKeyState(KeyFormFields, KeyProgramFields, DialogOpen, AuthState):
    key_id: str = ""
    status: str = KeyStatus.ACTIVE.value
    expired: bool = False
    end_date: str = ""
    rate_limit: str = ""  # as typed: blank for no limit
    stale: bool = False  # the key changed elsewhere: the dialog offers "Reload"
    _version: int = 0
    _original_end: str = ""
    _expires_at: str = ""  # the key's end (ISO) as read: its local day is known once the zone is
    _form: dict[str, Any] = {}  # the submitted form (the section's uncontrolled fields)

    @rx.event
    @requires_user
    async def start(self, user: Caller, key_id: str):
        key = await self.in_session(key_service.get_key, user.access, key_id)  # not found: a toast
        await reload_table(self, user, with_profiles=True)
        self.reset()
        self._fill(key)
        self.show_catalogue(await self.in_session(catalogue, user.access))
        self.open = True
        return self.ask_browser_zone()

    @rx.event
    @requires_user
    async def reload_key(self, user: Caller):
        """After a conflict: read the key again (its current values and version) into the dialog."""
        key = await self.in_session(key_service.get_key, user.access, self.key_id)
        self.error = self.error_field = ""
        self.stale = False
        self._fill(key)
        await reload_table(self, user)
        return focus_element("edit-name")

    def _fill(self, key: ApiKeyPublic) -> None:
        self.key_id = key.key_id
        self.name = key.name
        self.profile = (
            str(key.bias_profile_id) if key.bias_profile_id else key_service.ProfileScope.NONE.value
        )
        self.expired = key.status == KeyStatus.EXPIRED
        self.status = key.status
        self._expires_at = key.expires_at.isoformat() if key.expires_at else ""
        self.end_date = self._original_end = key_service.date_field(key.expires_at, self.zone())
        self.end_preview = self.end_preview_exact = ""
        self.rate_limit = str(key.rate_limit_per_minute) if key.rate_limit_per_minute else ""
        self._version = key.version
        self.fill_program(key)
        self._form = {}

    def _zone_known(self) -> None:
        """Show the key's end date as the reader's local day (a field left alone stays unchanged)."""
        expires = dt.datetime.fromisoformat(self._expires_at) if self._expires_at else None
        untouched = self.end_date == self._original_end
        self._original_end = key_service.date_field(expires, self.zone())
        if untouched:
            self.end_date = self._original_end

    @rx.event
    def set_status(self, value: str):
        if value in (KeyStatus.ACTIVE, KeyStatus.INACTIVE):
            self.status = value

    @rx.event
    def set_end_date(self, value: str):
        self.end_date = value[:10]
        self.preview_end(self.end_date if self.end_date != self._original_end else "")
        if self.error_field == "expires_at":
            self.error = self.error_field = ""

    @rx.event
    def set_rate_limit(self, value: str):
        self.rate_limit = value[:20]
        if self.error_field == RATE_LIMIT_FIELD:
            self.error = self.error_field = ""

    @rx.event
    def clear_end_date(self):
        self.end_date = ""
        self.end_preview = self.end_preview_exact = ""

    @rx.event
    def submit_form(self, form_data: dict):
        """Enter in a field saves, as the Save button does (with the name as typed)."""
        if isinstance(form_data.get("name"), str):
            self.name = form_data["name"][:200]
        if isinstance(form_data.get("rate_limit"), str):
            self.rate_limit = form_data["rate_limit"][:20]
        self._form = {name: value for name, value in form_data.items() if isinstance(value, str)}
        return EditKeyState.submit

    def _changes(self) -> dict[str, Any]:
        changes: dict[str, Any] = {
            "name": self.name,
            "bias_profile_id": key_service.profile_choice(self.profile),
            # blank is no limit; a bad value is refused next to the field (BAD_RATE_LIMIT)
            RATE_LIMIT_FIELD: key_service.parse_rate_limit(self.rate_limit),
            **self.program_changes(self._form, creating=False),
        }
        if self.expired:  # an expired key keeps its status and end date (the service says so too)
            return changes
        changes["status"] = self.status
        if self.end_date != self._original_end:
            # the end of the picked day in the reader's zone; a past day is refused (PAST_END_DATE)
            changes["expires_at"] = self.local_end(self.end_date) if self.end_date else None
        return changes

    @rx.event
    @requires_user
    async def submit(self, user: Caller):
        with Refusal(self) as refused:
            updated = await self.in_session(
                key_service.update_key,
                user.access,
                user.email,
                self.key_id,
                key_service.parse_changes(self._changes()),
                expected_version=self._version,
                client_address=self.client_address(),
            )
        if refused:
            self.error_field = field = self.place_error(refused.code, refused.field)
            self.stale = refused.code == key_service.STALE_CODE
            control = _FIELD_CONTROLS.get(field)
            return focus_element(control) if control else None
        self.open = False
        await reload_table(self, user)
        return rx.toast.success(f"Saved {updated.name}")


def _status_field() -> rx.Component:
    state = EditKeyState
    expired_note = rx.vstack(
        status_badge(KeyStatus.EXPIRED.value),
        rx.text(
            "This key reached its end date. An expired key cannot be reactivated; create a new key instead.",
            size="2",
            color=rx.color("gray", 11),
            id="edit-expired-reason",
        ),
    )
    picker = rx.select.root(
        rx.select.trigger(id="edit-status", width="100%"),
        rx.select.content(
            rx.select.item(KeyStatus.ACTIVE.value, value=KeyStatus.ACTIVE.value),
            rx.select.item(KeyStatus.INACTIVE.value, value=KeyStatus.INACTIVE.value),
        ),
        value=state.status,
        on_change=state.set_status,
    )
    return labelled_field(
        "Status",
        rx.cond(state.expired, expired_note, picker),
        html_for="edit-status",
        error=state.error,
        error_field=state.error_field,
        field="status",
    )


def _end_date_field() -> rx.Component:
    state = EditKeyState
    return labelled_field(
        "End date (the end of that day, your time; empty for never)",
        rx.hstack(
            end_date_input(state, state.end_date, state.set_end_date, "edit-end-date"),
            rx.button(
                "Never",
                variant="soft",
                color_scheme="gray",
                on_click=state.clear_end_date,
                id="edit-end-never",
                type="button",
            ),
            width="100%",
            align="start",
        ),
        html_for="edit-end-date",
        error=state.error,
        error_field=state.error_field,
        field="expires_at",
    )


def edit_dialog() -> rx.Component:
    state = EditKeyState
    return form_dialog(
        "Update API Key",
        rx.text("Key ID: ", rx.code(state.key_id)),
        labelled_field(
            "Name",
            rx.input(
                value=state.name,
                on_change=state.set_name,
                id="edit-name",
                name="name",
                max_length=key_service.NAME_MAX_LENGTH,
                width="100%",
                aria_required="true",
                aria_invalid=invalid_if(state.error_field, "name"),
            ),
            html_for="edit-name",
            required=True,
            error=state.error,
            error_field=state.error_field,
            field="name",
        ),
        labelled_field(
            "Bias Profile",
            profile_select(state.profile, state.set_profile, "edit-profile"),
            html_for="edit-profile",
            error=state.error,
            error_field=state.error_field,
            field="bias_profile_id",
        ),
        _status_field(),
        rx.cond(~state.expired, _end_date_field()),
        rate_limit_field(state, "edit-rate-limit", value=state.rate_limit, on_change=state.set_rate_limit),
        limits_section(state),
        form_error(state.error, state.error_field, _FIELDS),
        rx.cond(
            state.stale,
            rx.button(
                rx.icon("refresh-cw", size=14),
                "Reload",
                type="button",
                variant="soft",
                on_click=state.reload_key,
                id="edit-reload",
            ),
        ),
        dialog_footer("edit-cancel", rx.button("Save", type="submit", id="edit-save"), width="100%"),
        open=state.open,
        on_open_change=state.set_open,
        on_submit=state.submit_form,
        no_validate=True,  # a typed date before the picker's min gets the service's error, in place
        max_width="520px",
        spacing="4",
        id="edit-dialog",
    )
