"""Roll key: a new secret for the same purpose, while the old one keeps working for a grace period.

The new secret is revealed once, by the create dialog's reveal (the same client-side value, the
same copy-before-closing rule); the dialog says until when the old key works.
"""

from __future__ import annotations

import reflex as rx

from rxapp.components.dialogs import DialogOpen, dialog_footer, form_dialog
from rxapp.components.forms import choice_select, form_error, labelled_field
from rxapp.components.timefmt import exact_utc, iso
from rxapp.pages.keys.create import CreateKeyState, revealed_secret
from rxapp.pages.keys.listing import reload_table
from rxapp.services import keys as key_service
from rxapp.services import rolling
from rxapp.session_guard import Caller
from rxapp.state import AuthState, Refusal, requires_user


class RollKeyState(DialogOpen, AuthState):
    key_id: str = ""
    key_name: str = ""
    grace: str = "24h"
    error: str = ""
    rolling: bool = False

    @rx.event
    @requires_user
    async def start(self, user: Caller, key_id: str):
        key = await self.in_session(key_service.get_key, user.access, key_id)  # not found: a toast
        refusal = rolling.roll_refusal(key.status)
        if refusal:
            return rx.toast.error(refusal)
        self.key_id, self.key_name, self.grace, self.error = key.key_id, key.name, "24h", ""
        self.open = True
        return None

    @rx.event
    def set_grace(self, value: str):
        self.grace = value if value in rolling.GRACE_CHOICES else "24h"

    @rx.event
    @requires_user
    async def submit(self, user: Caller):
        if self.rolling:
            return
        self.rolling = True
        try:
            with Refusal(self) as refused:
                rolled = await self.in_session(
                    rolling.roll_key,
                    user.access,
                    user.email,
                    self.key_id,
                    rolling.parse_grace(self.grace),
                    client_address=self.client_address(),
                )
        finally:
            self.rolling = False
        if refused:
            return
        self.open = False
        reveal = await self.get_state(CreateKeyState)
        reveal.reset()
        reveal.revealed_key_id = rolled.new.key.key_id
        reveal.reveal_note = f"Rolled from {rolled.old_key_id}, which keeps working until "
        # the end of the old key, shown in the reader's zone (UTC on hover)
        reveal.reveal_until, reveal.reveal_until_exact = (
            iso(rolled.old_expires_at),
            exact_utc(rolled.old_expires_at),
        )
        reveal.open = True
        # Committed above; the new secret reaches the browser once, as a client-side value.
        yield revealed_secret.push(rolled.new.secret)
        del rolled
        await reload_table(self, user)


def roll_dialog() -> rx.Component:
    state = RollKeyState
    return form_dialog(
        "Roll API key",
        rx.text(
            "A new secret replaces ",
            rx.text.strong(state.key_name),
            " (",
            rx.code(state.key_id),
            "), with the same name, Bias Profile, rate limit and expiry policy. "
            "Choose how long the old secret keeps working.",
        ),
        labelled_field(
            "Old key keeps working",
            choice_select(rolling.GRACE_LABELS, state.grace, state.set_grace, "roll-grace", width="100%"),
            html_for="roll-grace",
        ),
        form_error(state.error, "", ()),
        dialog_footer(
            "roll-cancel",
            rx.button("Roll key", on_click=state.submit, loading=state.rolling, id="roll-submit"),
            width="100%",
        ),
        open=state.open,
        on_open_change=state.set_open,
        id="roll-dialog",
    )
