"""The Account page: change the password, which signs out every browser of this account (an
account single sign-on made sets its first one instead, in sudo mode), two-factor sign-in
(pages/account_two_factor.py) and email notices (pages/account_email.py)."""

from __future__ import annotations

import json

import reflex as rx

from rxapp import routes
from rxapp.components.forms import labelled_field
from rxapp.components.layout import protected_page
from rxapp.components.page import page_header
from rxapp.components.reauth_dialog import REAUTH_REQUIRED, ask_to_reauthenticate
from rxapp.pages.account_email import EmailNoticesState, email_notices_section
from rxapp.pages.account_passkeys import PasskeysState, passkeys_section
from rxapp.pages.account_two_factor import TwoFactorState, two_factor_section
from rxapp.services import sso
from rxapp.services import users as user_service
from rxapp.services.errors import ThrottledError
from rxapp.session_guard import Caller
from rxapp.state import AuthState, Refusal, requires_user


class AccountState(AuthState):
    error: str = ""
    has_password: bool = True  # False for an account single sign-on made: "Set a password"

    @rx.event
    @requires_user
    async def load(self, user: Caller):
        self.error = ""
        self.has_password = await self.in_session(sso.has_password, user.id)

    @rx.event
    @requires_user
    async def change_password(self, user: Caller, form: dict[str, str]):
        if form.get("new_password", "") != form.get("confirm_password", ""):
            self.error = "The two new passwords do not match."
            return
        if not self.has_password:
            return await self._set_first_password(user, form.get("new_password", ""))

        with Refusal(self, message_var="") as refused:
            await self.in_session(
                user_service.change_password,
                user.id,
                form.get("current_password", ""),
                form.get("new_password", ""),
                client_address=self.client_address(),
            )
        if refused.code == ThrottledError.default_code:
            await self.in_session(
                user_service.record_throttled, user.email, client_address=self.client_address()
            )
        elif refused.code == user_service.WRONG_PASSWORD_CODE:
            await self.in_session(
                user_service.record_password_check_failure, user.id, client_address=self.client_address()
            )
        if refused:
            self.error = refused.message
            return
        self.signed_in = False
        # The sign-in page fills in the account's email (assets/keep_email.js); JSON-quoted.
        remember = f"try {{ sessionStorage.setItem('kc.email', {json.dumps(user.email)}) }} catch (e) {{}}"
        return [rx.call_script(remember), rx.redirect(routes.SIGN_IN + "?error=password_changed")]

    async def _set_first_password(self, user: Caller, new_password: str):
        with Refusal(self, message_var="") as refused:
            await self.in_session(
                sso.set_first_password,
                user.id,
                user.session_digest,
                new_password,
                client_address=self.client_address(),
            )
        if refused.code == REAUTH_REQUIRED:  # sudo mode: the dialog submits the form again
            self.error = ""
            await ask_to_reauthenticate(self, "account-submit")
            return None
        if refused:
            self.error = refused.message
            return None
        self.has_password, self.error = True, ""
        return rx.toast.success("Password set. You can now sign in with it or with single sign-on.")


def account_content() -> rx.Component:
    def field(label: str, name: str, autocomplete: str) -> rx.Component:
        return labelled_field(
            label,
            rx.input(
                name=name,
                type="password",
                id=f"account-{name}",
                required=True,
                auto_complete=autocomplete,
                max_length=user_service.PASSWORD_MAX_LENGTH,
                width="100%",
            ),
            html_for=f"account-{name}",
        )

    return rx.vstack(
        page_header("Account"),
        rx.text("Signed in as ", rx.text.strong(AuthState.user_email), size="2"),
        rx.card(
            rx.form(
                rx.vstack(
                    rx.heading(
                        rx.cond(AccountState.has_password, "Change password", "Set a password"), size="4"
                    ),
                    rx.text(
                        rx.cond(
                            AccountState.has_password,
                            "Changing the password signs you out everywhere, including this browser.",
                            "You sign in with single sign-on. A password lets you sign in without it too.",
                        ),
                        size="2",
                        color=rx.color("gray", 11),
                    ),
                    rx.cond(
                        AccountState.has_password,
                        field("Current password", "current_password", "current-password"),
                    ),
                    field("New password", "new_password", "new-password"),
                    rx.text(
                        f"At least {user_service.PASSWORD_MIN_LENGTH} and at most "
                        f"{user_service.PASSWORD_MAX_LENGTH} characters; common passwords are refused.",
                        size="1",
                        color=rx.color("gray", 10),
                        id="account-password-rules",
                    ),
                    field("Repeat new password", "confirm_password", "new-password"),
                    rx.cond(
                        AccountState.error != "",
                        rx.callout(
                            AccountState.error, icon="triangle-alert", color_scheme="red", id="account-error"
                        ),
                    ),
                    rx.button(
                        rx.cond(AccountState.has_password, "Change password", "Set password"),
                        type="submit",
                        id="account-submit",
                    ),
                    spacing="3",
                    width="100%",
                ),
                on_submit=AccountState.change_password,
                reset_on_submit=False,  # an error keeps what was typed; success signs out
            ),
            max_width="480px",
            width="100%",
        ),
        two_factor_section(),
        passkeys_section(),
        email_notices_section(),
        spacing="4",
        width="100%",
    )


ON_LOAD = [AccountState.load, TwoFactorState.load, PasskeysState.load, EmailNoticesState.load]


def account_page() -> rx.Component:
    return protected_page(account_content())
