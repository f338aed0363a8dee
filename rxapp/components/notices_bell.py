"""The bell in the navigation bar: a link to the Notices page with the number of notices waiting
(key reminders, expiries, leaks). Read when the bar appears (each page), and set by the Notices
page as notices are dismissed. Stays in the bar on a phone, beside the menu button."""

from __future__ import annotations

from typing import ClassVar

import reflex as rx

from rxapp import routes
from rxapp.services.notices import inbox
from rxapp.session_guard import Caller
from rxapp.state import AuthState, requires_user


class NoticesBellState(AuthState):
    unread: int = 0
    # the person's notices, whatever workspace the tab shows
    per_user_not_per_workspace: ClassVar[bool] = True

    @rx.event
    @requires_user
    async def load_count(self, user: Caller):
        self.unread = await self.in_session(inbox.count_for, user.id)

    @rx.var
    def label(self) -> str:
        if self.unread <= 0:
            return "Notices"
        more = "+" if self.unread >= inbox.LIST_LIMIT else ""
        return f"Notices: {self.unread}{more} waiting"

    @rx.var
    def badge(self) -> str:
        return "99+" if self.unread > 99 else str(self.unread)


def notices_bell() -> rx.Component:
    return rx.link(
        rx.icon("bell", size=18),
        rx.cond(
            NoticesBellState.unread > 0,
            rx.badge(
                NoticesBellState.badge,
                color_scheme="red",
                variant="solid",
                radius="full",
                size="1",
                id="nav-notices-count",
                aria_hidden="true",  # the link's label says it
            ),
        ),
        href=routes.NOTICES,
        id="nav-notices",
        aria_label=NoticesBellState.label,
        title=NoticesBellState.label,
        class_name="nav-bell",
        color=rx.cond(
            AuthState.router.page.path == routes.NOTICES, rx.color("accent", 11), rx.color("gray", 11)
        ),
        underline="none",
        on_mount=NoticesBellState.load_count,
    )
