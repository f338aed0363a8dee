"""The one confirm-identity dialog ("sudo mode", services/reauth.py).

A page handler whose service call is refused with REAUTH_REQUIRED calls `ask_to_reauthenticate`
with the id of the button that started the action, or (for a control that is not a button, such
as a role select) the name of a retry registered with `register_retry` and its arguments. The
dialog asks for the password (or an authenticator code when two-factor is on); once the service
accepts it, the dialog closes and clicks that button again (so the action is retried with what the
person had typed), or sends the registered event with the same arguments.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import reflex as rx

from rxapp import routes
from rxapp.components.backend import backend_url
from rxapp.components.dialogs import DialogOpen, dialog_footer
from rxapp.components.forms import field_error, focus_element, labelled_field
from rxapp.context import get_settings
from rxapp.services import passkeys, reauth
from rxapp.services import users as user_service
from rxapp.services.errors import ThrottledError
from rxapp.session_guard import Caller
from rxapp.state import AuthState, Refusal, requires_user

REAUTH_REQUIRED = reauth.REAUTH_REQUIRED
# name -> the event handler to send again after the identity is confirmed (filled by the pages)
_RETRIES: dict[str, Callable[..., Any]] = {}


def register_retry(name: str, handler: Callable[..., Any]) -> None:
    _RETRIES[name] = handler


class ReauthState(DialogOpen, AuthState):
    error: str = ""
    has_passkeys: bool = False  # offer "Use a passkey instead"
    sso_name: str = ""  # single sign-on's name: offer "Sign in again with <name>"
    # set by the page handler only (backend vars: the browser cannot)
    _retry_id: str = ""
    _retry_name: str = ""
    _retry_args: list[str | int] = []  # noqa: RUF012  (Reflex copies state defaults)

    @rx.event
    @requires_user
    async def confirm(self, user: Caller, form: dict[str, str]):
        with Refusal(self, message_var="") as refused:
            await self.in_session(
                reauth.confirm,
                user.session_digest,
                user.id,
                form.get("secret", "")[: user_service.PASSWORD_MAX_LENGTH],
                client_address=self.client_address(),
            )
        if refused.code == ThrottledError.default_code:
            await self.in_session(
                user_service.record_throttled, user.email, client_address=self.client_address()
            )
        elif refused.code == reauth.REAUTH_FAILED:
            await self.in_session(reauth.record_failure, user.id, client_address=self.client_address())
        if refused:
            self.error = refused.message
            return focus_element("reauth-password")
        return self._done()

    @rx.event
    @requires_user
    async def use_passkey(self, user: Caller):
        """A challenge for the user's passkeys; the browser signs it (assets/passkeys.js)."""
        with Refusal(self) as refused:
            options = await self.in_session(reauth.passkey_options, user.id, page_origin(self))
        if refused:
            return None
        return rx.call_script(
            f"window.kcPasskeys.get({json.dumps(options)})", callback=ReauthState.passkey_signed
        )

    @rx.event
    @requires_user
    async def passkey_signed(self, user: Caller, result: str):
        answer = str(result or "")
        if not answer or answer.startswith("error:"):
            self.error = "The passkey request was cancelled or timed out. Try again, or enter your password."
            return None
        with Refusal(self) as refused:
            await self.in_session(
                reauth.confirm_with_passkey,
                user.session_digest,
                user.id,
                answer[:20_000],
                page_origin(self),
                client_address=self.client_address(),
            )
        if refused:
            return None
        return self._done()

    @rx.event
    def leave_for_sso(self):
        """To the provider and back (a full page load, this tab keeps its state): closed first, so
        the page comes back without it; the person then does the action again."""
        self.open, self.error, self._retry_id, self._retry_name, self._retry_args = False, "", "", "", []
        return rx.call_script(_sso_again_script())

    def _done(self):
        """Identity confirmed: close, and run the action that asked for it again."""
        retry, self.open, self.error, self._retry_id = self._retry_id, False, "", ""
        name, args, self._retry_name, self._retry_args = self._retry_name, self._retry_args, "", []
        if name in _RETRIES:
            return _RETRIES[name](*args)
        if retry:
            # after the dialog has closed (and given focus back), the action runs again
            return rx.call_script(
                f"setTimeout(function () {{ document.getElementById({json.dumps(retry)})?.click() }}, 150)"
            )
        return None


def page_origin(state: AuthState) -> str:
    """The page's origin as its websocket presented it (checked on connect: ours or allowlisted)."""
    return str(getattr(state.router.headers, "origin", "") or "")


async def ask_to_reauthenticate(
    state: AuthState, retry_id: str = "", *, retry: str = "", args: tuple[str | int, ...] = ()
) -> None:
    """Open the dialog from a page handler whose service answered REAUTH_REQUIRED."""
    dialog = await state.get_state(ReauthState)
    dialog.open, dialog.error, dialog._retry_id = True, "", retry_id
    dialog.has_passkeys = bool(state._user_id) and await state.in_session(passkeys.count, state._user_id) > 0
    dialog._retry_name, dialog._retry_args = retry, list(args)
    settings = get_settings()
    dialog.sso_name = settings.oidc_name if settings.oidc_enabled else ""


def _sso_again_script() -> str:
    start = json.dumps(backend_url(routes.API_OIDC_START))
    return (
        f"window.location.assign({start} + '?reauth=1&origin=' + encodeURIComponent(window.location.origin)"
        " + '&next=' + encodeURIComponent(window.location.pathname + window.location.search))"
    )


def _sso_again() -> rx.Component:
    """Single sign-on asked to authenticate the person again (`prompt=login`); the new session's
    proof is the provider's `auth_time`. The page loads again afterwards: the action is done again."""
    return rx.button(
        rx.icon("log-in", size=16),
        "Sign in again with ",
        ReauthState.sso_name,
        type="button",
        variant="soft",
        min_height="44px",
        on_click=ReauthState.leave_for_sso,
        id="reauth-sso",
    )


def reauth_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Confirm it is you"),
            rx.dialog.description(
                "This is a sensitive action. Enter your password (or, with two-factor sign-in on, "
                "a code from your authenticator app, or a passkey) to continue.",
                id="reauth-help",
            ),
            rx.form(
                rx.vstack(
                    labelled_field(
                        "Password or code",
                        rx.input(
                            name="secret",
                            type="password",
                            id="reauth-password",
                            required=True,
                            auto_complete="current-password",
                            max_length=user_service.PASSWORD_MAX_LENGTH,
                            width="100%",
                            min_height="48px",  # the input inside: 46 px, a touch target
                            auto_focus=True,
                            aria_describedby="reauth-help",
                            aria_invalid=rx.cond(ReauthState.error != "", "true", "false"),
                        ),
                        html_for="reauth-password",
                    ),
                    rx.box(field_error(ReauthState.error, ReauthState.error != ""), id="reauth-error"),
                    dialog_footer(
                        "reauth-cancel",
                        rx.button("Confirm", type="submit", min_height="44px", id="reauth-submit"),
                        width="100%",
                    ),
                    rx.cond(
                        ReauthState.has_passkeys,
                        rx.button(
                            rx.icon("key-round", size=16),
                            "Use a passkey instead",
                            type="button",
                            variant="soft",
                            min_height="44px",
                            on_click=ReauthState.use_passkey,
                            id="reauth-passkey",
                        ),
                    ),
                    rx.cond(ReauthState.sso_name != "", _sso_again()),
                    spacing="3",
                    width="100%",
                    margin_top="3",
                ),
                on_submit=ReauthState.confirm,
                reset_on_submit=True,
            ),
            max_width="440px",
            id="reauth-dialog",
        ),
        open=ReauthState.open,
        on_open_change=ReauthState.set_open,
    )
