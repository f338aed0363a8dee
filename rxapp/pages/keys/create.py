"""Create New API Key, and the one-time reveal of its secret.

The secret lives only in the browser (`revealed_secret`, a client-side value): the server pushes
it once, right after the key is committed, and never keeps it in a state var (state is persisted
and hydrated). Closing, a reload or a new tab loses it for good.
"""

from __future__ import annotations

import datetime as dt

import reflex as rx

from rxapp.components.dialogs import dialog_footer
from rxapp.components.forms import focus_element, form_error, invalid_if, labelled_field
from rxapp.components.secret_reveal import CopyTracked, discard_confirmation, one_time_value, secret_reveal
from rxapp.components.timefmt import local_time
from rxapp.models import utc_now
from rxapp.pages.keys.key_form import RATE_LIMIT_FIELD, KeyFormFields, end_date_input, rate_limit_field
from rxapp.pages.keys.limits_section import limits_section
from rxapp.pages.keys.listing import profile_select, reload_table
from rxapp.pages.keys.program_form import (
    PROGRAM_CONTROLS,
    PROGRAM_FIELDS,
    KeyProgramFields,
    catalogue,
)
from rxapp.services import key_policies
from rxapp.services import keys as key_service
from rxapp.services.keys.policy import KeyPolicy
from rxapp.session_guard import Caller
from rxapp.state import AuthState, Refusal, requires_user

revealed_secret = one_time_value("revealed_secret")
_FIELDS = ("name", "expires_at", "bias_profile_id", RATE_LIMIT_FIELD, *PROGRAM_FIELDS)
# the control that holds each field's value: where focus goes when that field is invalid
_FIELD_CONTROLS = {
    "name": "create-name",
    "bias_profile_id": "create-profile",
    "expires_at": "create-custom-date",
    RATE_LIMIT_FIELD: "create-rate-limit",
    **PROGRAM_CONTROLS,
}


class CreateKeyState(KeyFormFields, KeyProgramFields, CopyTracked, AuthState):
    open: bool = False
    expiry: str = key_service.ExpiryPreset.NEVER.value
    custom_date: str = ""
    creating: bool = False
    # the one-time reveal (the secret itself is client-side only: see `revealed_secret`)
    revealed_key_id: str = ""
    reveal_note: str = ""  # set when the reveal follows a roll: how long the old key keeps working
    reveal_until: str = ""  # ...until this instant (ISO; shown in the reader's zone)
    reveal_until_exact: str = ""
    confirm_discard_open: bool = False
    _sent_rate_limit: str = ""  # the rate limit as sent with the last create (backend only)
    # the workspace's key policy (services/keys/policy.py): the end date it fills in, its limits
    expiry_choices: list[list[str]] = [
        [preset.value, label] for preset, label in key_service.EXPIRY_PRESETS.items()
    ]
    policy_days: int = 0  # the lifetime a key without an end date gets (0: no lifetime rule)
    policy_is_default: bool = False  # ...the default lifetime (else the maximum)
    policy_max: int = 0
    policy_date: str = ""  # the end date the policy filled in (YYYY-MM-DD, the reader's day)
    policy_last_date: str = ""  # the last day the maximum allows (the picker's max)
    profile_required: bool = False

    @rx.event
    @requires_user
    async def start(self, user: Caller):
        self.reset()
        await reload_table(self, user, with_profiles=True)
        # a visible, editable default: the seed's three clicks create a key without typing a name
        self.name = await self.in_session(key_service.default_name, user.access)
        self._apply_policy(await self.in_session(key_policies.get_policy, user.access))
        self.fill_program(None)
        self.show_catalogue(await self.in_session(catalogue, user.access))
        self.open = True
        yield self.ask_browser_zone()

    def _apply_policy(self, policy: KeyPolicy) -> None:
        """What the policy changes in the dialog: no "Never" when keys get a lifetime, no preset past
        the maximum, and the end date filled in (shown as "Ends on ... by workspace policy")."""
        self.policy_days = policy.new_key_days or 0
        self.policy_is_default = bool(policy.default_lifetime_days)
        self.policy_max = policy.max_lifetime_days or 0
        self.profile_required = policy.require_bias_profile
        self.expiry_choices = [
            [preset.value, label]
            for preset, label in key_service.EXPIRY_PRESETS.items()
            if not (self.policy_days and preset == key_service.ExpiryPreset.NEVER)
            and not (self.policy_max and preset.value.isdecimal() and int(preset.value) > self.policy_max)
        ]
        if self.policy_days:
            self.expiry = key_service.ExpiryPreset.CUSTOM.value
            self._fill_policy_date()

    def _fill_policy_date(self) -> None:
        """The policy's end date as the reader's local day (again once the browser's zone is known)."""
        now, zone = utc_now(), self.zone()
        self.policy_date = key_service.date_field(now + dt.timedelta(days=self.policy_days), zone)
        self.policy_last_date = (
            key_service.date_field(now + dt.timedelta(days=self.policy_max), zone) if self.policy_max else ""
        )
        self.custom_date = self.policy_date
        self.preview_end(self.custom_date)

    def _zone_known(self) -> None:
        if self.policy_days and self.custom_date == self.policy_date:
            self._fill_policy_date()

    @rx.event
    def forget_reveal(self):
        """On every page load: a reload or a new tab never brings a reveal back. A form opened
        meanwhile (Create clicked while the page was still loading) stays open as it is."""
        if self.revealed_key_id or not self.open:
            self.reset()

    @rx.event
    def name_edited(self, value: str):
        """Typing after a refused name clears its error. Debounced in the browser and never needed
        to create: the name travels with the create event itself (`submit_form`), so a pending edit
        costs the click no round trip. An edit that still says the refused name changes nothing."""
        if self.error_field == "name" and value[:200] != self.name:
            self.error = self.error_field = ""

    @rx.event
    def rate_limit_edited(self, value: str):
        """Typing after a refused rate limit clears its error (the value travels with create, as
        the name does); a late edit event that still says the refused value changes nothing."""
        if self.error_field == RATE_LIMIT_FIELD and value[:20] != self._sent_rate_limit:
            self.error = self.error_field = ""

    @rx.event
    def set_expiry(self, value: str):
        self.expiry = key_service.parse_preset(value).value

    @rx.event
    def set_custom_date(self, value: str):
        self.custom_date = value[:10]
        self.preview_end(self.custom_date)
        if self.error_field == "expires_at":
            self.error = self.error_field = ""

    @rx.event
    @requires_user
    async def submit_form(self, user: Caller, form_data: dict):
        """The Create API Key button and Enter in a field: one event carrying the name as typed."""
        if isinstance(form_data.get("name"), str):
            self.name = form_data["name"][:200]
        if self.creating or self.revealed_key_id:
            return
        self.creating = True
        try:
            with Refusal(self) as refused:
                expires_at = key_service.end_date_for(
                    key_service.parse_preset(self.expiry), self.custom_date, utc_now(), self.zone()
                )
                typed_limit = form_data.get("rate_limit")
                self._sent_rate_limit = typed_limit[:20] if isinstance(typed_limit, str) else ""
                rate_limit = key_service.parse_rate_limit(self._sent_rate_limit)
                program = self.program_changes(form_data, creating=True)
                created = await self.in_session(
                    key_service.create_key,
                    user.access,
                    user.email,
                    self.name,
                    bias_profile_id=key_service.profile_choice(self.profile),
                    expires_at=expires_at,
                    rate_limit_per_minute=rate_limit,
                    program=program,
                    client_address=self.client_address(),
                )
        finally:
            self.creating = False
        if refused:
            self.error_field = field = self.place_error(refused.code, refused.field)
            control = _FIELD_CONTROLS.get(field)
            if control:
                yield focus_element(control)
            return
        # Committed above; only now does the secret reach the browser, once, as a client-side
        # value. `created` is dropped when this handler returns: the server keeps no copy.
        self.revealed_key_id = created.key.key_id
        self.copied = False
        self.error = ""
        yield revealed_secret.push(created.secret)  # show it now; refresh the table afterwards
        del created
        await reload_table(self, user)

    @rx.event
    def request_close(self):
        if self.revealed_key_id and not self.copied:
            self.confirm_discard_open = True
            return None
        return self._discard()

    @rx.event
    def open_changed(self, is_open: bool):
        if not is_open:
            return CreateKeyState.request_close

    @rx.event
    def discard_alert_changed(self, is_open: bool):
        if not is_open:
            self.confirm_discard_open = False

    @rx.event
    def keep_reveal_open(self):
        self.confirm_discard_open = False

    @rx.event
    def discard_reveal(self):
        return self._discard()

    def _discard(self):
        self.reset()
        return revealed_secret.push("")


def _policy_note() -> rx.Component:
    """What the workspace's key policy says about the end date: the date it filled in, its maximum."""
    state = CreateKeyState
    return rx.fragment(
        rx.cond(
            (state.policy_days > 0)
            & (state.expiry == key_service.ExpiryPreset.CUSTOM.value)
            & (state.custom_date == state.policy_date),
            rx.text(
                "Ends on ",
                state.policy_date,
                " by workspace policy (",
                rx.cond(state.policy_is_default, "default ", "maximum "),
                state.policy_days,
                " days)",
                size="1",
                id="create-policy-end",
            ),
        ),
        rx.cond(
            state.policy_max > 0,
            rx.text(
                "This workspace's keys live at most ",
                state.policy_max,
                " days.",
                size="1",
                color=rx.color("gray", 11),
                id="create-policy-max",
            ),
        ),
    )


def _form() -> rx.Component:
    state = CreateKeyState
    return rx.form(
        rx.dialog.description(
            "Give the key a name that says which application will use it, or keep the suggested one."
        ),
        labelled_field(
            "Name (optional)",
            rx.input(  # uncontrolled: its value is sent with the create event, not per keystroke
                default_value=state.name,
                on_change=state.name_edited.debounce(300),
                id="create-name",
                name="name",
                placeholder="e.g. checkout-service production",
                max_length=key_service.NAME_MAX_LENGTH,
                width="100%",
                auto_focus=True,
                aria_invalid=invalid_if(state.error_field, "name"),
            ),
            html_for="create-name",
            error=state.error,
            error_field=state.error_field,
            field="name",
        ),
        labelled_field(
            "Bias Profile",
            rx.vstack(
                profile_select(state.profile, state.set_profile, "create-profile"),
                rx.text(
                    rx.cond(state.profile_required, "Required by this workspace's key policy.", "Optional."),
                    size="1",
                    color=rx.color("gray", 11),
                    id="create-profile-rule",
                ),
                spacing="1",
                width="100%",
            ),
            html_for="create-profile",
            error=state.error,
            error_field=state.error_field,
            field="bias_profile_id",
        ),
        labelled_field(
            "Expires",
            rx.fragment(
                rx.select.root(
                    rx.select.trigger(id="create-expiry", width="100%"),
                    rx.select.content(
                        rx.foreach(state.expiry_choices, lambda c: rx.select.item(c[1], value=c[0]))
                    ),
                    value=state.expiry,
                    on_change=state.set_expiry,
                ),
                rx.cond(
                    state.expiry == key_service.ExpiryPreset.CUSTOM.value,
                    end_date_input(
                        state,
                        state.custom_date,
                        state.set_custom_date,
                        "create-custom-date",
                        aria_label="Custom end date (ends at the end of that day, your time)",
                        aria_required="true",
                        max=state.policy_last_date,
                    ),
                ),
                _policy_note(),
            ),
            html_for="create-expiry",
            error=state.error,
            error_field=state.error_field,
            field="expires_at",
        ),
        rate_limit_field(state, "create-rate-limit", on_change=state.rate_limit_edited.debounce(300)),
        limits_section(state),
        form_error(state.error, state.error_field, _FIELDS),
        dialog_footer(
            "create-cancel",
            rx.button("Create API Key", type="submit", loading=state.creating, id="create-submit"),
            width="100%",
        ),
        on_submit=state.submit_form,
        reset_on_submit=False,
        no_validate=True,  # a typed date before the picker's min gets the service's error, in place
        display="flex",
        flex_direction="column",
        gap="16px",
        id="create-form",
    )


def _reveal() -> rx.Component:
    state = CreateKeyState
    return rx.fragment(
        secret_reveal(
            revealed_secret,
            rx.text("Key ID: ", rx.code(state.revealed_key_id), size="2"),
            rx.cond(
                state.reveal_note != "",
                rx.text(
                    state.reveal_note,
                    local_time(state.reveal_until, state.reveal_until_exact, fallback="now"),
                    ": switch your services to the new key before then.",
                    size="2",
                    id="reveal-note",
                ),
            ),
            warning="Store it securely. This key will not be shown again.",
            advice="Copy the API key value by clicking on the Copy Icon, then put it in a secure "
            "environment variable or secret store. If you lose it, create a new key.",
            warning_id="reveal-warning",
            label="Your new API key",
            field_id="new-key-secret",
            copy_id="copy-new-key",
            copy_label="Copy API key",
            copied_toast="API key copied to the clipboard",
            copied=state.copied,
            on_copied=state.mark_copied,
            done_id="create-done",
            on_done=state.request_close,
        ),
        discard_confirmation(
            "API key",
            open=state.confirm_discard_open,
            on_open_change=state.discard_alert_changed,
            on_discard=state.discard_reveal,
        ),
    )


def create_dialog() -> rx.Component:
    revealing = CreateKeyState.revealed_key_id != ""
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(
                rx.cond(
                    revealing,
                    rx.cond(CreateKeyState.reveal_note != "", "API key rolled", "API key created"),
                    "Create New API Key",
                )
            ),
            rx.cond(revealing, _reveal(), _form()),
            max_width="520px",
            id="create-dialog",
        ),
        open=CreateKeyState.open,
        on_open_change=CreateKeyState.open_changed,
    )
