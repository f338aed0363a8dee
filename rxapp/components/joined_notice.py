"""The "You joined <name> as <role>" notice on the keys page after joining through an invitation.

Joining (the sign-up form post, or Join on the invitation page) ends on `/keys?joined=<public id>`.
The form post cannot choose the tab's workspace (it lives in the browser's localStorage), so this
page does: it asks for that workspace and loads again; SessionGuard grants it only to a member
(anything else falls back to the personal workspace). The text comes from the access the guard
resolved, never from the URL.
"""

from __future__ import annotations

from urllib.parse import urlencode

import reflex as rx

from rxapp import routes
from rxapp.session_guard import Caller
from rxapp.state import AuthState, requires_user

_SWITCHED = "switched"  # marks the page's own reload, so a refused id never loops


class JoinedNoticeState(AuthState):
    notice: str = ""

    @rx.event
    @requires_user
    async def arrive(self, user: Caller):
        """First of the keys page's on_load events: empty unless the tab has just joined."""
        self.notice = ""
        query = self.router.url.query_parameters if self.router.url is not None else {}
        joined = query.get(routes.JOINED_PARAM, "")
        if not isinstance(joined, str) or not joined:
            return None
        joined = joined[:32]
        access = user.access
        if access.workspace_public_id == joined:
            self.notice = f"You joined {access.workspace_name} as {access.role}."
            return None
        if query.get(_SWITCHED):  # asked already and not granted: stay where the guard put the tab
            return None
        self.workspace = joined  # checked by SessionGuard on the next event (the reload's)
        return rx.redirect(
            f"{routes.KEYS}?{urlencode({routes.JOINED_PARAM: joined, _SWITCHED: '1'})}", replace=True
        )

    @rx.event
    def dismiss(self):
        self.notice = ""


def joined_notice() -> rx.Component:
    state = JoinedNoticeState
    return rx.cond(
        state.notice != "",
        rx.callout.root(
            rx.callout.icon(rx.icon("circle-check")),
            rx.flex(
                rx.callout.text(state.notice, id="joined-notice-text"),
                rx.icon_button(
                    rx.icon("x", size=14),
                    variant="ghost",
                    color_scheme="green",
                    size="1",
                    on_click=state.dismiss,
                    id="joined-notice-dismiss",
                    aria_label="Dismiss",
                ),
                justify="between",
                align="center",
                gap="3",
                width="100%",
            ),
            color_scheme="green",
            high_contrast=True,  # green text on green falls short of WCAG AA (axe)
            role="status",
            id="joined-notice",
            width="100%",
        ),
    )
