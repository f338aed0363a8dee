"""Create management token, and the one-time reveal of the token (as for keys: the token reaches
the browser once, as a client-side value, and the server keeps no copy in state)."""

from __future__ import annotations

import datetime as dt

import reflex as rx

from rxapp.components.dialogs import dialog_footer
from rxapp.components.forms import LABEL_STYLE, form_error, labelled_field
from rxapp.components.reauth_dialog import REAUTH_REQUIRED, ask_to_reauthenticate
from rxapp.components.secret_reveal import CopyTracked, one_time_value, secret_reveal
from rxapp.components.timefmt import BROWSER_ZONE_SCRIPT, browser_zone, exact_utc, iso, local_time
from rxapp.models import utc_now
from rxapp.pages.tokens.listing import TokensTableState
from rxapp.services import moments, reauth
from rxapp.services import tokens as token_service
from rxapp.services.errors import ServiceError
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
    "webhooks:write": "Manage webhook endpoints (owners only)",
}


class CreateTokenState(CopyTracked, AuthState):
    open: bool = False
    name: str = ""
    scopes: list[str] = ["keys:read"]
    expires: str = ""
    error: str = ""
    error_field: str = ""
    revealed_id: str = ""
    # An expiry date means the end of that day in the reader's zone, as a key's end date does:
    # the dialog asks the browser for its zone (IANA name, UTC offset) and its today on opening.
    time_zone: str = ""
    zone_offset: int = 0
    today: str = ""
    expires_preview: str = ""  # the last second the token works (ISO), shown in local time
    expires_preview_exact: str = ""

    @rx.event
    def start(self):
        self.reset()
        self.open = True
        return rx.call_script(BROWSER_ZONE_SCRIPT, callback=CreateTokenState.set_browser_zone)

    @rx.event
    def set_browser_zone(self, values: list):
        self.time_zone, self.zone_offset, self.today = browser_zone(values)
        self._preview()

    def _end(self) -> dt.datetime | None:
        """The picked day as an instant: its end in the reader's zone (ValidationError if past)."""
        if not self.expires:
            return None
        zone = moments.reader_zone(self.time_zone, self.zone_offset)
        return moments.local_end_date(self.expires, zone, utc_now(), label="Expiry")

    def _preview(self) -> None:
        try:
            end = self._end()
        except ServiceError:
            end = None
        self.expires_preview, self.expires_preview_exact = iso(end), exact_utc(end)

    @rx.event
    def forget_reveal(self):
        self.reset()

    @rx.event
    def set_name(self, value: str):
        self.name = value[:200]

    @rx.event
    def set_expires(self, value: str):
        self.expires = value[:10]
        if self.error_field == "expires_at":
            self.error = self.error_field = ""
        self._preview()

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
                expires_at=self._end(),
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
            "Expires (optional): works through the end of that day, your time",
            rx.vstack(
                rx.input(
                    type="date",
                    value=state.expires,
                    on_change=state.set_expires,
                    id="token-expires",
                    min=state.today,
                    aria_describedby="token-expires-preview",
                    width="100%",
                ),
                rx.cond(
                    state.expires_preview != "",
                    rx.text(
                        "Works until ",
                        local_time(
                            state.expires_preview, state.expires_preview_exact, element_id="token-expires-end"
                        ),
                        " your time (the end of that day)",
                        size="1",
                        color=rx.color("gray", 11),
                        id="token-expires-preview",
                    ),
                ),
                spacing="1",
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
