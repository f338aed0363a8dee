"""Sign in and sign up. The forms post straight to the backend, which sets the HttpOnly cookie;
passwords never travel through Reflex state."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import reflex as rx

from rxapp import routes
from rxapp.components.backend import backend_url
from rxapp.components.forms import field_error, focus_element, labelled_field
from rxapp.components.layout import auth_card, native_form
from rxapp.context import get_settings
from rxapp.db import session_scope
from rxapp.services import users as user_service
from rxapp.services.users import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH
from rxapp.state import AuthState

SIGN_IN_MESSAGES = {
    "invalid": "Incorrect email or password.",
    "throttled": (
        "Too many failed sign-in attempts for this account from new browsers. Wait a few minutes "
        "and try again, or sign in from a browser you have used with this account before."
    ),
    "password_changed": "Your password was changed. Sign in again with the new password.",
    "session_ended": "Your session has ended. Sign in again.",
    "code_expired": "The sign-in took too long. Enter your email and password again.",
    "passkey_refused": "That passkey was not accepted. Try again, or sign in with your password.",
}
# Single sign-on's answers (api/sso_forms.py); {name} is APIKEYS_OIDC_NAME.
SSO_MESSAGES = {
    "sso_state": (
        "Single sign-on could not be finished in this browser: it took too long, or was started "
        "again meanwhile. Try again."
    ),
    "sso_failed": "{name} could not confirm who you are. Try again, or sign in another way.",
    "sso_cancelled": "Single sign-on with {name} was cancelled.",
    "sso_unverified": (
        "{name} has not verified your email address, so it cannot sign you in here. Verify the "
        "address with {name} first."
    ),
    "sso_refused": "This account cannot sign in. Ask the operator of this console.",
    "sso_other_person": (
        "The account with your {name} email address here belongs to another person at {name}. If "
        "your {name} account was made anew, ask the operator of this console to unbind it."
    ),
    "sso_signup_closed": (
        "No account here uses your {name} email address, and sign-up is closed on this console. "
        "Ask its operator for an account."
    ),
    "sso_signup_invite_only": (
        "No account here uses your {name} email address. New accounts need an invitation: open "
        "the invitation link a workspace owner gave you, then sign in with {name}."
    ),
    "sso_unavailable": (
        "Single sign-on is not available right now. Try again later, or sign in another way."
    ),
}
CODE_MESSAGES = {
    "code_invalid": "That code is not valid. Enter the current code from your authenticator app.",
    "passkey_refused": "That passkey was not accepted. Try again, or enter a code.",
    "throttled": "Too many wrong codes for this account. Wait a few minutes, then enter the current code.",
}
# What assets/passkeys.js reports when no answer was posted (the browser's side of a passkey).
PASSKEY_PROBLEMS = {
    "error:cancelled": "The passkey request was cancelled or timed out. Try again.",
    "error:unsupported": "This browser cannot use passkeys.",
    "error:expired": "The sign-in took too long. Enter your email and password again.",
}
PASSKEY_FAILED = "Could not use a passkey. Try again."
SIGN_UP_MESSAGES = {
    "mismatch": "The two passwords do not match.",
    "email_invalid": "Enter a valid email address.",
    "not_created": (
        "We could not create an account with these details. If you already have an account, sign in instead."
    ),
    "throttled": "Too many failed attempts. Wait a few minutes and try again.",
    "password_short": f"Password must be at least {PASSWORD_MIN_LENGTH} characters.",
    "password_long": f"Password must be at most {PASSWORD_MAX_LENGTH} characters.",
    "password_common": "This password is too common. Choose one that is harder to guess.",
    "invitation_invalid": "This invitation link was used, revoked or has expired. Ask for a new one.",
    "signup_invite_only": "This console only accepts new accounts through an invitation link.",
    "signup_closed": "Sign-up is closed on this console.",
}
# What the sign-up page says instead of a form that would fail (see README, "Sign-up policy").
POLICY_EXPLANATIONS = {
    user_service.SIGNUP_INVITE_ONLY_CODE: (
        "New accounts on this console need an invitation. Ask an owner of a workspace for an "
        "invitation link, and open it to create your account."
    ),
    user_service.SIGNUP_CLOSED_CODE: (
        "Sign-up is closed on this console: its operator creates accounts. Ask them for one."
    ),
}


def _signup_refusal(invitation: str) -> str:
    with session_scope() as session:
        return user_service.signup_allowed(session, invitation)


class AuthPageState(AuthState):
    error_message: str = ""
    notice: str = ""
    signup_closed_reason: str = ""  # the policy's explanation; "" when the form can succeed
    # `invitation`, `next_path` and `step` are read from the address (computed vars below), never
    # kept: a tab's state is shown again when it hydrates, before the page's on_load has run, and a
    # kept value would be the last visit's (the code form over a password just typed, a sign-in
    # that forgets where to return).
    code_error: str = ""  # shown next to the code field
    passkey_error: str = ""  # the browser could not produce a passkey answer (cancelled, ...)
    sso_name: str = ""  # APIKEYS_OIDC_NAME when single sign-on is configured, else ""
    sso_href: str = ""  # the "Sign in with <name>" link (api/sso_forms.py's start)

    def _query(self) -> Mapping[str, Any]:
        url = self.router.url
        return url.query_parameters if url is not None else {}

    @rx.var(cache=False)
    def invitation(self) -> str:
        """The invitation token a sign-up joins with (the page's hidden field)."""
        return str(self._query().get("invitation", ""))[:200]

    @rx.var(cache=False)
    def next_path(self) -> str:
        """Where to go after signing in: only a checked relative path (routes.safe_next)."""
        return routes.safe_next(str(self._query().get("next", "")))

    @rx.var(cache=False)
    def step(self) -> str:
        """ "code": the password was right, the second step asks for a code."""
        return "code" if self._query().get("step") == "code" else ""

    @rx.event
    async def load_sign_in(self):
        params = self.router.url.query_parameters
        if await self.current_user() is not None:
            return rx.redirect(self.next_path or routes.KEYS)
        code = params.get("error", "")
        self._offer_sso(self.next_path)
        self.error_message = SIGN_IN_MESSAGES.get(code, "") or SSO_MESSAGES.get(code, "").format(
            name=self.sso_name or "The provider"
        )
        self.code_error = CODE_MESSAGES.get(code, "") if self.step else ""
        if self.code_error:  # said next to the code field, not again above the form
            self.error_message = ""
        self.notice = "You have been signed out." if params.get("signed_out") else ""
        self.passkey_error = ""
        if self.step:
            return focus_element("sign-in-code")
        return _restore_email("sign-in-email", code in SIGN_IN_MESSAGES and code != "session_ended")

    def _offer_sso(self, next_path: str) -> None:
        """The single sign-on link: where to come back to, and this page's origin (the backend is
        on another port in development, where no Referer crosses over)."""
        settings = get_settings()
        self.sso_name = settings.oidc_name if settings.oidc_enabled else ""
        query = {"next": next_path} if next_path else {}
        origin = str(getattr(self.router.headers, "origin", "") or "")
        if origin:
            query["origin"] = origin
        start = backend_url(routes.API_OIDC_START)
        self.sso_href = f"{start}?{urlencode(query)}" if query else start

    @rx.event
    def passkey_done(self, result: str):
        """assets/passkeys.js's answer: "" when the form was posted, else what went wrong."""
        outcome = str(result or "")
        self.passkey_error = PASSKEY_PROBLEMS.get(outcome, PASSKEY_FAILED) if outcome else ""

    @rx.event
    async def load_sign_up(self):
        if await self.current_user() is not None:
            return rx.redirect(routes.KEYS)
        params = self.router.url.query_parameters
        code = params.get("error", "")
        refusal = await asyncio.to_thread(_signup_refusal, self.invitation)
        self.signup_closed_reason = POLICY_EXPLANATIONS.get(refusal, "")
        self.error_message = SIGN_UP_MESSAGES.get(code, "")
        self.notice = (
            "You are joining a workspace through an invitation." if self.invitation and not refusal else ""
        )
        self._offer_sso(routes.invitation_path(self.invitation) if self.invitation else "")
        return _restore_email("sign-up-email", code in SIGN_UP_MESSAGES)


def _restore_email(field_id: str, failed: bool):
    """Put the typed email back after a failed post (assets/keep_email.js; fixed arguments only)."""
    flag = "true" if failed else "false"
    call = f"window.kcRestoreEmail('{field_id}', {flag})"
    # the head script may still be loading: wait for it (up to 5 s) rather than miss the restore
    return rx.call_script(
        "(function () { var n = 0; var go = function () { if (window.kcRestoreEmail) { "
        + call
        + " } else if (++n < 50) { setTimeout(go, 100); } }; go(); })()"
    )


def _field(label: str, name: str, field_type: str, field_id: str, autocomplete: str, **props) -> rx.Component:
    control = rx.input(
        name=name,
        type=field_type,
        id=field_id,
        required=True,
        auto_complete=autocomplete,
        width="100%",
        size="3",
        **props,
    )
    return labelled_field(label, control, html_for=field_id)


def _messages() -> rx.Component:
    return rx.fragment(
        rx.cond(
            AuthPageState.error_message != "",
            rx.callout(
                AuthPageState.error_message,
                icon="triangle-alert",
                color_scheme="red",
                role="alert",
                id="auth-error",
                width="100%",
            ),
        ),
        rx.cond(
            AuthPageState.notice != "",
            rx.callout(AuthPageState.notice, icon="info", id="auth-notice", width="100%"),
        ),
    )


def _passkey_form(step: str, button_id: str, label: str) -> rx.Component:
    """A button that signs in with a passkey (assets/passkeys.js): it fetches a challenge from
    `data-options`, lets the browser sign it, and posts the answer with this plain form."""
    form_id = f"{button_id}-form"
    return native_form(
        rx.vstack(
            rx.el.input(type="hidden", name="credential", value="", id=f"{button_id}-credential"),
            rx.el.input(type="hidden", name="step", value=step),
            rx.el.input(type="hidden", name="next", value=AuthPageState.next_path),
            rx.button(
                rx.icon("key-round", size=16),
                label,
                type="button",
                size="3",
                width="100%",
                min_height="44px",
                variant="outline",
                id=button_id,
                on_click=rx.call_script(
                    f"window.kcPasskeys.signIn('{form_id}')", callback=AuthPageState.passkey_done
                ),
            ),
            rx.box(
                field_error(AuthPageState.passkey_error, AuthPageState.passkey_error != ""),
                id=f"{button_id}-error",
            ),
            spacing="2",
            width="100%",
        ),
        action=backend_url(routes.API_PASSKEY_SIGN_IN),
        method="post",
        id=form_id,
        custom_attrs={"data-options": backend_url(routes.API_PASSKEY_OPTIONS), "data-purpose": step},
        width="100%",
    )


def _code_step() -> rx.Component:
    """The second step of a sign-in with two-factor on: a code from the app, or a recovery code."""
    return native_form(
        rx.vstack(
            rx.text(
                "Enter the 6-digit code from your authenticator app or one of your recovery codes, "
                "or use a passkey below.",
                size="2",
                id="sign-in-code-help",
            ),
            labelled_field(
                "Authentication code",
                rx.input(
                    name="code",
                    type="text",
                    id="sign-in-code",
                    required=True,
                    auto_complete="one-time-code",
                    auto_focus=True,
                    max_length=20,
                    width="100%",
                    size="3",
                    min_height="48px",  # a touch target on a phone (the input inside: 46 px)
                    aria_describedby="sign-in-code-help",
                    aria_invalid=rx.cond(AuthPageState.code_error != "", "true", "false"),
                ),
                html_for="sign-in-code",
            ),
            rx.box(
                field_error(AuthPageState.code_error, AuthPageState.code_error != ""), id="sign-in-code-error"
            ),
            rx.el.input(type="hidden", name="next", value=AuthPageState.next_path, id="sign-in-code-next"),
            rx.button(
                "Verify", type="submit", size="3", width="100%", min_height="44px", id="sign-in-code-submit"
            ),
            # a full load (not a client-side route change), so the page starts at the password again
            rx.el.a(
                "Start again",
                href=routes.SIGN_IN,
                id="sign-in-restart",
                style={"text_decoration": "underline"},
            ),
            spacing="3",
            width="100%",
        ),
        action=backend_url(routes.API_SIGN_IN_CODE),
        method="post",
        width="100%",
    )


def sign_in_page() -> rx.Component:
    return auth_card(
        rx.heading(
            rx.cond(AuthPageState.step == "code", "Two-factor sign-in", "Sign in"), size="5", as_="h1"
        ),
        _messages(),
        rx.cond(
            AuthPageState.step == "code",
            rx.fragment(
                _code_step(),
                rx.text("Or use a passkey of this account.", size="2"),
                _passkey_form("second_factor", "passkey-second-factor", "Use a passkey"),
            ),
            rx.fragment(
                _password_step_form(),
                _passkey_form("sign_in", "passkey-sign-in", "Sign in with a passkey"),
                _sso_link("sso-sign-in"),
                _to_sign_up(),
            ),
        ),
    )


def _password_step_form() -> rx.Component:
    return native_form(
        rx.vstack(
            _field("Email", "email", "email", "sign-in-email", "username", max_length=254),
            _field(
                "Password",
                "password",
                "password",
                "sign-in-password",
                "current-password",
                max_length=PASSWORD_MAX_LENGTH,
            ),
            rx.el.input(type="hidden", name="next", value=AuthPageState.next_path, id="sign-in-next"),
            rx.button("Sign in", type="submit", size="3", width="100%", id="sign-in-submit"),
            spacing="3",
            width="100%",
        ),
        action=backend_url(routes.API_SIGN_IN),
        method="post",
        width="100%",
    )


def _sso_link(link_id: str) -> rx.Component:
    """ "Sign in with <name>": a plain link (a form redirected to the provider would break the
    CSP's form-action 'self'); shown only when single sign-on is configured."""
    return rx.cond(
        AuthPageState.sso_name != "",
        rx.button(
            rx.el.a(
                rx.icon("log-in", size=16),
                rx.text("Sign in with ", AuthPageState.sso_name, as_="span"),
                href=AuthPageState.sso_href,
                reload_document=True,  # rx.el.a is a router link: leave the app, not a route
                id=link_id,
            ),
            as_child=True,
            size="3",
            width="100%",
            min_height="44px",
            variant="outline",
        ),
    )


def _to_sign_up() -> rx.Component:
    return rx.text(
        "No account yet? ",
        rx.link("Create one", href=routes.SIGN_UP, id="to-sign-up", underline="always"),
        size="2",
    )


def sign_up_page() -> rx.Component:
    return auth_card(
        rx.heading("Create your account", size="5", as_="h1"),
        _messages(),
        rx.cond(
            AuthPageState.signup_closed_reason != "",
            rx.callout(AuthPageState.signup_closed_reason, icon="lock", id="signup-policy", width="100%"),
            _sign_up_form(),
        ),
        _sso_link("sso-sign-up"),
        rx.text(
            "Already have an account? ",
            rx.link("Sign in", href=routes.SIGN_IN, id="to-sign-in", underline="always"),
            size="2",
        ),
    )


def _sign_up_form() -> rx.Component:
    return native_form(
        rx.vstack(
            _field("Email", "email", "email", "sign-up-email", "username", max_length=254),
            _field(
                "Password",
                "password",
                "password",
                "sign-up-password",
                "new-password",
                min_length=PASSWORD_MIN_LENGTH,
                max_length=PASSWORD_MAX_LENGTH,
            ),
            rx.text(
                f"At least {PASSWORD_MIN_LENGTH} characters; common passwords are refused.",
                size="1",
                color=rx.color("gray", 10),
            ),
            _field(
                "Repeat password",
                "confirm_password",
                "password",
                "sign-up-confirm",
                "new-password",
                min_length=PASSWORD_MIN_LENGTH,
                max_length=PASSWORD_MAX_LENGTH,
            ),
            rx.el.input(
                type="hidden", name="invitation", value=AuthPageState.invitation, id="sign-up-invitation"
            ),
            rx.button("Create account", type="submit", size="3", width="100%", id="sign-up-submit"),
            spacing="3",
            width="100%",
        ),
        action=backend_url(routes.API_SIGN_UP),
        method="post",
        width="100%",
    )
