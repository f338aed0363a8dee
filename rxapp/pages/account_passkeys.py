"""The Account page's passkeys section: add a named passkey (the browser's
navigator.credentials.create through assets/passkeys.js), see each one's last use, and remove
one (a confirmation, in sudo mode). Adding also asks for sudo mode: a stolen session must not
be able to plant a passkey of its own."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import reflex as rx

from rxapp.components.dialogs import DialogOpen, confirm_delete_dialog, dialog_footer, form_dialog
from rxapp.components.forms import field_error, focus_element, labelled_field
from rxapp.components.reauth_dialog import REAUTH_REQUIRED, ask_to_reauthenticate, page_origin
from rxapp.services import passkeys, reauth
from rxapp.session_guard import Caller
from rxapp.state import AuthState, Refusal, requires_user

BROWSER_PROBLEMS = {
    "error:cancelled": "The browser's passkey request was cancelled or timed out. Try again.",
    "error:unsupported": "This browser cannot create passkeys.",
    "error:exists": "This authenticator already holds a passkey for your account.",
}


@dataclass
class PasskeyRow:
    id: int
    name: str
    created: str
    last_used: str


def _day(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else "Never"


class PasskeysState(DialogOpen, AuthState):
    rows: list[PasskeyRow] = []
    name: str = ""
    error: str = ""
    _name_to_add: str = ""

    async def _reload(self, user: Caller) -> None:
        found = await self.in_session(passkeys.list_for, user.id)
        self.rows = [PasskeyRow(p.id, p.name, _day(p.created_at), _day(p.last_used_at)) for p in found]

    @rx.event
    @requires_user
    async def load(self, user: Caller):
        self.open, self.error = False, ""
        await self._reload(user)

    @rx.event
    def start(self):
        self.name, self.error, self.open = f"Passkey {len(self.rows) + 1}", "", True
        return focus_element("passkey-name")

    @rx.event
    def set_name(self, value: str):
        self.name = value[: passkeys.NAME_MAX_LENGTH]

    @rx.event
    @requires_user
    async def create(self, user: Caller):
        """Sudo mode, then a challenge; the browser makes the passkey and `created` stores it."""
        with Refusal(self) as refused:
            await self.in_session(reauth.require_recent, user.session_digest)  # sudo mode
            options = await self.in_session(passkeys.registration_options, user.id, page_origin(self))
        if refused.code == REAUTH_REQUIRED:
            self.error = ""
            await ask_to_reauthenticate(self, "passkey-create")
            return None
        if refused:
            return None
        self._name_to_add, self.error = self.name, ""
        return rx.call_script(
            f"window.kcPasskeys.create({json.dumps(options)})", callback=PasskeysState.created
        )

    @rx.event
    @requires_user
    async def created(self, user: Caller, result: str):
        answer = str(result or "")
        if not answer or answer.startswith("error:"):
            self.error = BROWSER_PROBLEMS.get(answer, "The passkey could not be created. Try again.")
            return None
        with Refusal(self) as refused:
            added = await self.in_session(
                passkeys.finish_registration,
                user.id,
                self._name_to_add,
                answer[: passkeys.CREDENTIAL_MAX_LENGTH],
                page_origin(self),
                client_address=self.client_address(),
            )
        if refused:
            return focus_element("passkey-name")
        self.open, self._name_to_add = False, ""
        await self._reload(user)
        return rx.toast.success(f"Passkey added: {added.name}")


class RemovePasskeyState(DialogOpen, AuthState):
    passkey_id: int = 0
    name: str = ""
    error: str = ""

    @rx.event
    def start(self, passkey_id: int, name: str):
        self.passkey_id, self.name, self.error, self.open = int(passkey_id), str(name)[:60], "", True

    @rx.event
    @requires_user
    async def confirm(self, user: Caller):
        with Refusal(self) as refused:
            await self.in_session(reauth.require_recent, user.session_digest)  # sudo mode
            await self.in_session(
                passkeys.remove, user.id, self.passkey_id, client_address=self.client_address()
            )
        if refused.code == REAUTH_REQUIRED:
            self.error = ""
            await ask_to_reauthenticate(self, "passkey-remove-confirm")
            return None
        if refused:
            return None
        self.open = False
        return [PasskeysState.load, rx.toast.success(f"Passkey removed: {self.name}")]


def _row(row: PasskeyRow) -> rx.Component:
    pid = row.id.to_string()
    return rx.hstack(
        rx.vstack(
            rx.text(row.name, weight="medium", size="2", id="passkey-name-" + pid),
            rx.text(
                "Added ", row.created, " · Last used ", row.last_used, size="1", color=rx.color("gray", 11)
            ),
            spacing="0",
            flex="1",
            min_width="0",
        ),
        rx.button(
            rx.icon("trash-2", size=16),
            "Remove",
            variant="soft",
            color_scheme="red",
            min_height="44px",
            aria_label="Remove passkey " + row.name,
            id="passkey-remove-" + pid,
            on_click=RemovePasskeyState.start(row.id, row.name),
        ),
        align="center",
        width="100%",
        id="passkey-row-" + pid,
    )


def _add_dialog() -> rx.Component:
    state = PasskeysState
    return form_dialog(
        "Add a passkey",
        "Your browser or device (fingerprint, face, PIN or a security key) makes a passkey for this "
        "account. Give it a name you will recognise.",
        labelled_field(
            "Name",
            rx.input(
                value=state.name,
                on_change=state.set_name,
                id="passkey-name",
                max_length=passkeys.NAME_MAX_LENGTH,
                required=True,
                width="100%",
                aria_invalid=rx.cond(state.error != "", "true", "false"),
            ),
            html_for="passkey-name",
        ),
        rx.box(field_error(state.error, state.error != ""), id="passkey-error"),
        dialog_footer("passkey-cancel", rx.button("Create passkey", type="submit", id="passkey-create")),
        open=state.open,
        on_open_change=state.set_open,
        on_submit=state.create,
        max_width="460px",
        id="passkey-dialog",
    )


def passkeys_section() -> rx.Component:
    state = PasskeysState
    return rx.card(
        rx.vstack(
            rx.heading("Passkeys", size="4"),
            rx.text(
                'Sign in with a passkey alone ("Sign in with a passkey"), or use one after your '
                "password instead of a code. With a passkey, a password alone no longer signs you in.",
                size="2",
            ),
            rx.cond(
                state.rows.length() > 0,
                rx.vstack(rx.foreach(state.rows, _row), spacing="3", width="100%", id="passkey-list"),
                rx.text("No passkeys yet.", size="2", id="passkey-none"),
            ),
            rx.button(rx.icon("plus", size=16), "Add a passkey", on_click=state.start, id="passkey-add"),
            _add_dialog(),
            confirm_delete_dialog(
                title="Remove this passkey?",
                description=rx.text(
                    "The passkey ",
                    rx.text.span(RemovePasskeyState.name, weight="bold"),
                    " will no longer sign you in. Remove it from the device too.",
                ),
                on_confirm=RemovePasskeyState.confirm,
                open=RemovePasskeyState.open,
                on_open_change=RemovePasskeyState.set_open,
                confirm_id="passkey-remove-confirm",
                cancel_id="passkey-remove-cancel",
                error=RemovePasskeyState.error,
                error_id="passkey-remove-error",
                confirm_label="Remove",
            ),
            spacing="3",
            width="100%",
        ),
        max_width="480px",
        width="100%",
        id="passkeys",
    )
