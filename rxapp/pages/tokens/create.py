"""Create management token, and the one-time reveal of the token (as for keys: the token reaches
the browser once, as a client-side value, and the server keeps no copy in state)."""

from __future__ import annotations

import datetime as dt

import reflex as rx

from rxapp.components.dialogs import dialog_footer
from rxapp.components.forms import LABEL_STYLE, form_error, labelled_field
from rxapp.components.reauth_dialog import REAUTH_REQUIRED, ask_to_reauthenticate
from rxapp.components.secret_reveal import CopyTracked, one_time_value, secret_reveal
from rxapp.pages.tokens.listing import TokensTableState
from rxapp.services import reauth
from rxapp.services import tokens as token_service
from rxapp.services.errors import ValidationError
from rxapp.session_guard import Caller
from rxapp.state import AuthState, Refusal, requires_user

revealed_token = one_time_value("revealed_token")
SCOPE_LABELS = {
    "keys:read": "Read keys",
    "keys:write": "Create, change, roll and delete keys",
    "profiles:read": "Read Bias Profiles",
    "profiles:write": "Create, change and delete Bias Profiles",
    "usage:read": "Read key usage",
    "audit:read": "Read the activity log",
}


def _expiry(value: str) -> dt.datetime | None:
    """A date from the date input: the token works until the end of that day (UTC)."""
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError("Enter a valid date.", field="expires_at") from None
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=dt.UTC)


class CreateTokenState(CopyTracked, AuthState):
    open: bool = False
    name: str = ""
    scopes: list[str] = ["keys:read"]
    expires: str = ""
    error: str = ""
    error_field: str = ""
    revealed_id: str = ""

    @rx.event
    def start(self):
        self.reset()
        self.open = True

    @rx.event
    def forget_reveal(self):
        self.reset()

    @rx.event
    def set_name(self, value: str):
        self.name = value[:200]

    @rx.event
    def set_expires(self, value: str):
        self.expires = value

    @rx.event
    def toggle_scope(self, scope: str, checked: bool):
        chosen = set(self.scopes) | {scope} if checked else set(self.scopes) - {scope}
        self.scopes = [s for s in token_service.SCOPES if s in chosen]

    @rx.event
    @requires_user
    async def submit(self, user: Caller):
        if self.revealed_id:
            return
        with Refusal(self) as refused:
            await self.in_session(reauth.require_recent, user.session_digest)  # sudo mode
            created = await self.in_session(
                token_service.create_token,
                user.access,
                user.email,
                self.name,
                list(self.scopes),
                expires_at=_expiry(self.expires),
                client_address=self.client_address(),
            )
        if refused.code == REAUTH_REQUIRED:
            self.error = ""
            await ask_to_reauthenticate(self, "token-submit")
            return
        if refused:
            return
        self.revealed_id, self.copied, self.error = created.token.token_id, False, ""
        yield revealed_token.push(created.secret)
        del created
        table = await self.get_state(TokensTableState)
        await table._reload(user)

    @rx.event
    def close(self):
        self.reset()
        return revealed_token.push("")

    @rx.event
    def open_changed(self, is_open: bool):
        if not is_open:
            return CreateTokenState.close


def _scope_box(scope: str) -> rx.Component:
    return rx.checkbox(
        rx.text(rx.code(scope), " ", SCOPE_LABELS[scope], size="2"),
        checked=CreateTokenState.scopes.contains(scope),
        on_change=lambda checked: CreateTokenState.toggle_scope(scope, checked),
        id="scope-" + scope.replace(":", "-"),
    )


def _form() -> rx.Component:
    state = CreateTokenState
    return rx.vstack(
        rx.dialog.description(
            "For CI pipelines and scripts. The token acts for you in this workspace, never beyond your role."
        ),
        labelled_field(
            "Name",
            rx.input(
                value=state.name, on_change=state.set_name, id="token-name", width="100%", auto_focus=True
            ),
            html_for="token-name",
            error=state.error,
            error_field=state.error_field,
            field="name",
        ),
        rx.el.fieldset(
            rx.el.legend("Scopes", **LABEL_STYLE),
            rx.vstack(*[_scope_box(scope) for scope in token_service.SCOPES], spacing="2"),
            border="none",
            padding="0",
            margin="0",
        ),
        labelled_field(
            "Expires (optional, end of day UTC)",
            rx.input(
                type="date",
                value=state.expires,
                on_change=state.set_expires,
                id="token-expires",
                width="100%",
            ),
            html_for="token-expires",
            error=state.error,
            error_field=state.error_field,
            field="expires_at",
        ),
        form_error(state.error, state.error_field, ("name", "expires_at")),
        dialog_footer(
            "token-cancel", rx.button("Create token", on_click=state.submit, id="token-submit"), width="100%"
        ),
        spacing="4",
        width="100%",
    )


def _reveal() -> rx.Component:
    state = CreateTokenState
    return secret_reveal(
        revealed_token,
        rx.text("Token ID: ", rx.code(state.revealed_id), size="2"),
        warning="Store it securely. This token will not be shown again.",
        label="Your new management token",
        field_id="new-token-secret",
        copy_id="copy-new-token",
        copy_label="Copy token",
        copied_toast="Token copied to the clipboard",
        copied=state.copied,
        on_copied=state.mark_copied,
        done_id="token-done",
        on_done=state.close,
    )


def create_token_dialog() -> rx.Component:
    revealing = CreateTokenState.revealed_id != ""
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.cond(revealing, "Management token created", "Create management token")),
            rx.cond(revealing, _reveal(), _form()),
            max_width="560px",
            id="token-dialog",
        ),
        open=CreateTokenState.open,
        on_open_change=CreateTokenState.open_changed,
    )
