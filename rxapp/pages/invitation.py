"""The invitation landing page (`/invite?token=…`): says which workspace and role, then signs the
person in or up and joins them. The token is checked (and spent) by services/workspaces.py."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

import reflex as rx

from rxapp import routes
from rxapp.components.layout import auth_card, inert_until_loaded
from rxapp.db import session_scope
from rxapp.services import workspaces as workspace_service
from rxapp.services.errors import NotFoundError
from rxapp.session_guard import Caller, signed_in_user
from rxapp.state import AuthState, Refusal, requires_user


def _preview(token: str) -> tuple[str, str] | None:
    with session_scope() as session:
        try:
            return workspace_service.invitation_preview(session, token)
        except NotFoundError:
            return None


class InvitationState(AuthState):
    token: str = ""
    valid: bool = False
    workspace_label: str = ""
    role_label: str = ""
    viewer_signed_in: bool = False

    @rx.var
    def sign_in_link(self) -> str:
        return f"{routes.SIGN_IN}?{urlencode({'next': routes.invitation_path(self.token)})}"

    @rx.var
    def sign_up_link(self) -> str:
        return f"{routes.SIGN_UP}?{urlencode({'invitation': self.token})}"

    @rx.event
    async def load(self):
        self.token = self.router.url.query_parameters.get("token", "")[:200]
        preview = await asyncio.to_thread(_preview, self.token) if self.token else None
        self.valid = preview is not None
        self.workspace_label, self.role_label = preview or ("", "")
        self.viewer_signed_in = signed_in_user() is not None

    @rx.event
    @requires_user
    async def join(self, user: Caller):
        """Signed out: the guard sends the tab to sign in, and back here afterwards."""

        def work():
            with session_scope() as session:
                return workspace_service.accept_invitation(
                    session, user.id, self.token, client_address=self.client_address()
                )

        with Refusal(self, message_var="") as refused:
            joined = await asyncio.to_thread(work)
        if refused:
            self.valid = False
            return rx.toast.error(refused.message)
        self.workspace = joined.public_id  # the keys page's notice says which, as what
        return rx.redirect(routes.joined_keys(joined.public_id))


def invitation_page() -> rx.Component:
    return auth_card(
        rx.heading("Invitation", size="5", as_="h1"),
        rx.box(invitation_body(), custom_attrs=inert_until_loaded(), width="100%"),
    )


def invitation_body() -> rx.Component:
    state = InvitationState
    return rx.cond(
        state.valid,
        rx.flex(
            rx.text(
                "You are invited to the workspace ",
                rx.text.strong(state.workspace_label, id="invitation-workspace"),
                " as ",
                rx.text.strong(state.role_label, id="invitation-role"),
                ".",
            ),
            rx.cond(
                state.viewer_signed_in,
                rx.button("Join workspace", on_click=state.join, size="3", id="invitation-join"),
                rx.flex(
                    rx.link(
                        rx.button("Sign in to join", size="3", width="100%"),
                        href=state.sign_in_link,
                        id="invitation-sign-in",
                    ),
                    rx.link(
                        rx.button("Create an account", size="3", variant="soft", width="100%"),
                        href=state.sign_up_link,
                        id="invitation-sign-up",
                    ),
                    direction="column",
                    gap="2",
                ),
            ),
            direction="column",
            gap="3",
        ),
        rx.callout(
            "This invitation link is not valid: it was used, revoked or has expired. Ask for a new one.",
            icon="triangle-alert",
            color_scheme="red",
            id="invitation-invalid",
        ),
    )
