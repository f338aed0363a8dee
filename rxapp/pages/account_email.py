"""The Account page's email notices switch: whether this person gets the notices (key reminders,
expiries, leak reports) by email too. Off keeps them in the console (the bell, Notices page).
Says so plainly when the console has no SMTP server, so nobody waits for emails that never come."""

from __future__ import annotations

import reflex as rx

from rxapp import routes
from rxapp.context import get_settings
from rxapp.services.notices import inbox
from rxapp.session_guard import Caller
from rxapp.state import AuthState, requires_user


class EmailNoticesState(AuthState):
    receive: bool = True
    smtp_configured: bool = False

    @rx.event
    @requires_user
    async def load(self, user: Caller):
        self.smtp_configured = bool(get_settings().smtp_url)
        self.receive = not await self.in_session(inbox.email_opted_out, user.id)

    @rx.event
    @requires_user
    async def set_receive(self, user: Caller, checked: bool):
        receive = bool(checked)
        await self.in_session(
            inbox.set_email_opt_out, user.id, not receive, client_address=self.client_address()
        )
        self.receive = receive
        return rx.toast.success("Email notices on." if receive else "Email notices off.")


def email_notices_section() -> rx.Component:
    state = EmailNoticesState
    return rx.card(
        rx.vstack(
            rx.heading("Email notices", size="4", id="email-notices-heading"),
            rx.text(
                "An email when a key in a workspace you own, or a key you created, is 7 days and "
                "1 day from its end date, expires, or is reported leaked.",
                size="2",
                color=rx.color("gray", 11),
            ),
            rx.el.label(
                rx.flex(
                    rx.switch(
                        checked=state.receive,
                        on_change=state.set_receive,
                        id="email-notices",
                        aria_describedby="email-notices-state",
                    ),
                    rx.text("Email me these notices", size="2", weight="medium"),
                    spacing="3",
                    align="center",
                    min_height="44px",
                ),
                html_for="email-notices",
            ),
            rx.text(
                rx.cond(
                    state.smtp_configured,
                    rx.cond(
                        state.receive,
                        "On: emails go to your account's address.",
                        "Off: no emails; the notices stay listed under Notices.",
                    ),
                    "This console has no email server set up, so notices are shown in the console only.",
                ),
                " ",
                rx.link(
                    "See your notices", href=routes.NOTICES, id="account-notices-link", underline="always"
                ),
                size="1",
                color=rx.color("gray", 10),
                id="email-notices-state",
            ),
            spacing="3",
            width="100%",
        ),
        max_width="480px",
        width="100%",
        id="email-notices-card",
    )
