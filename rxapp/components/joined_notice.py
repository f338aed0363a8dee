"""The "You joined <name> as <role>" notice on the keys page after joining through an invitation.

Joining (the sign-up form post, or Join on the invitation page) ends on
`/w/<public id>/keys?joined=<public id>` (routes.joined_keys): the address opens the team's
workspace (SessionGuard grants it only to a member) and the query asks for the notice. The text
comes from the access the guard resolved, never from the URL; a `joined` id that is not the
workspace the tab is in says nothing.
"""

from __future__ import annotations

import reflex as rx

from rxapp import routes
from rxapp.session_guard import Caller
from rxapp.state import AuthState, requires_user


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
        access = user.access
        if access.workspace_public_id == joined[:32] and not self.workspace_missing:
            self.notice = f"You joined {access.workspace_name} as {access.role}."
        return None

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
