"""The Account page's two-factor section: set up an authenticator app (QR code and the secret as
text, confirmed with one code), the ten recovery codes shown once, and turning it off (a code,
in sudo mode). The secret, its QR code and the recovery codes reach the browser as client-side
values only (components/secret_reveal.py): the server keeps no copy in the tab's state."""

from __future__ import annotations

import reflex as rx

from rxapp.components.forms import field_error, focus_element, labelled_field
from rxapp.components.reauth_dialog import REAUTH_REQUIRED, ask_to_reauthenticate
from rxapp.components.secret_reveal import one_time_value
from rxapp.services import reauth, two_factor
from rxapp.services import users as user_service
from rxapp.services.errors import ThrottledError
from rxapp.session_guard import Caller
from rxapp.state import AuthState, Refusal, requires_user

setup_secret = one_time_value("totp_setup_secret")
setup_qr = one_time_value("totp_setup_qr")
shown_recovery_codes = one_time_value("totp_recovery_codes")


class TwoFactorState(AuthState):
    enabled: bool = False
    recovery_left: int = 0
    setting_up: bool = False
    showing_codes: bool = False
    error: str = ""

    async def _refresh(self, user: Caller) -> None:
        status = await self.in_session(two_factor.status, user.id)
        self.enabled, self.recovery_left = status.enabled, status.recovery_codes_left

    @rx.event
    @requires_user
    async def load(self, user: Caller):
        self.setting_up, self.showing_codes, self.error = False, False, ""
        await self._refresh(user)
        return [setup_secret.push(""), setup_qr.push(""), shown_recovery_codes.push("")]

    @rx.event
    @requires_user
    async def begin(self, user: Caller):
        with Refusal(self) as refused:
            setup = await self.in_session(two_factor.begin_setup, user.id)
        if refused:
            return None
        self.setting_up, self.error = True, ""
        pushes = [setup_secret.push(setup.secret), setup_qr.push(setup.qr_data_uri)]
        del setup
        return [*pushes, focus_element("totp-code")]

    async def _count_failure(self, user: Caller, code: str) -> None:
        if code == ThrottledError.default_code:
            await self.in_session(user_service.record_throttled, user.email)
        elif code == two_factor.WRONG_CODE:
            await self.in_session(
                two_factor.record_code_failure,
                user.id,
                "user.two_factor_code_failed",
                client_address=self.client_address(),
            )

    @rx.event
    @requires_user
    async def confirm(self, user: Caller, form: dict[str, str]):
        with Refusal(self) as refused:
            codes = await self.in_session(
                two_factor.confirm_setup,
                user.id,
                form.get("code", "")[:20],
                client_address=self.client_address(),
            )
        if refused:
            await self._count_failure(user, refused.code)
            return focus_element("totp-code")
        self.setting_up, self.showing_codes, self.error = False, True, ""
        await self._refresh(user)
        return [setup_secret.push(""), setup_qr.push(""), shown_recovery_codes.push("\n".join(codes))]

    @rx.event
    def codes_saved(self):
        self.showing_codes = False
        return shown_recovery_codes.push("")

    @rx.event
    @requires_user
    async def turn_off(self, user: Caller, form: dict[str, str]):
        with Refusal(self) as refused:
            await self.in_session(reauth.require_recent, user.session_digest)  # sudo mode
            await self.in_session(
                two_factor.disable, user.id, form.get("code", "")[:40], client_address=self.client_address()
            )
        if refused.code == REAUTH_REQUIRED:
            self.error = ""
            await ask_to_reauthenticate(self, "totp-off")
            return None
        if refused:
            await self._count_failure(user, refused.code)
            return focus_element("totp-off-code")
        self.error = ""
        await self._refresh(user)
        return rx.toast.success("Two-factor sign-in is off.")


def _code_input(field_id: str) -> rx.Component:
    return rx.input(
        name="code",
        id=field_id,
        required=True,
        auto_complete="one-time-code",
        max_length=20,
        width="100%",
        aria_invalid=rx.cond(TwoFactorState.error != "", "true", "false"),
    )


def _error(error_id: str) -> rx.Component:
    return rx.box(field_error(TwoFactorState.error, TwoFactorState.error != ""), id=error_id)


def _setup() -> rx.Component:
    return rx.vstack(
        rx.text("Scan this QR code with your authenticator app, or enter the secret by hand.", size="2"),
        rx.image(
            src=setup_qr.value,
            alt="QR code of the two-factor secret",
            width="200px",
            height="200px",
            id="totp-qr",
        ),
        rx.text(
            "Secret: ",
            rx.code(setup_secret.value, id="totp-secret", style={"word_break": "break-all"}),
            size="2",
        ),
        rx.form(
            rx.vstack(
                labelled_field("Code from the app", _code_input("totp-code"), html_for="totp-code"),
                _error("totp-code-error"),
                rx.button("Turn on two-factor sign-in", type="submit", id="totp-confirm"),
                spacing="2",
                width="100%",
            ),
            on_submit=TwoFactorState.confirm,
            reset_on_submit=True,
        ),
        spacing="3",
        width="100%",
    )


def _recovery_codes() -> rx.Component:
    return rx.vstack(
        rx.callout(
            "Save these recovery codes somewhere safe. Each works once, in place of a code from the "
            "app, if you lose your phone. They will not be shown again.",
            icon="triangle-alert",
            color_scheme="amber",
        ),
        rx.el.pre(
            shown_recovery_codes.value,
            id="recovery-codes",
            style={"font_family": "monospace", "font_size": "15px", "line_height": "1.6"},
        ),
        rx.button("I have saved them", on_click=TwoFactorState.codes_saved, id="recovery-codes-done"),
        spacing="3",
        width="100%",
    )


def _turn_off() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.text(
                "On. Sign-in asks for a code from your authenticator app after the password. ",
                rx.text.span(TwoFactorState.recovery_left, id="totp-recovery-left"),
                " recovery codes left.",
                size="2",
            ),
            labelled_field(
                "Code from the app (or a recovery code) to turn it off",
                _code_input("totp-off-code"),
                html_for="totp-off-code",
            ),
            _error("totp-off-error"),
            rx.button("Turn off two-factor sign-in", type="submit", color_scheme="red", id="totp-off"),
            spacing="2",
            width="100%",
        ),
        on_submit=TwoFactorState.turn_off,
        reset_on_submit=False,
    )


def two_factor_section() -> rx.Component:
    state = TwoFactorState
    return rx.card(
        rx.vstack(
            rx.heading("Two-factor sign-in", size="4"),
            rx.cond(
                state.showing_codes,
                _recovery_codes(),
                rx.cond(
                    state.enabled,
                    _turn_off(),
                    rx.cond(
                        state.setting_up,
                        _setup(),
                        rx.vstack(
                            rx.text(
                                "Off. Add a code from an authenticator app to your sign-in.",
                                size="2",
                                id="totp-status",
                            ),
                            rx.button("Set up two-factor sign-in", on_click=state.begin, id="totp-setup"),
                            spacing="2",
                        ),
                    ),
                ),
            ),
            spacing="3",
            width="100%",
        ),
        max_width="480px",
        width="100%",
        id="two-factor",
    )
