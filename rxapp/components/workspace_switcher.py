"""The nav's workspace switcher and its "New workspace" dialog.

Choosing a workspace opens the same page in it (`/w/<public id>/...`, rxapp/routes.py) and keeps
the choice in `AuthState.workspace` (browser localStorage: it survives a reload); SessionGuard checks
the membership on every event, so choosing a workspace here grants nothing by itself.
"""

from __future__ import annotations

from typing import ClassVar

import reflex as rx
from pydantic import BaseModel

from rxapp import routes
from rxapp.components.dialogs import dialog_footer, form_dialog
from rxapp.services import workspaces as workspace_service
from rxapp.session_guard import Caller
from rxapp.state import AuthState, Refusal, requires_user


class WorkspaceOption(BaseModel):
    public_id: str
    label: str


class WorkspaceSwitcherState(AuthState):
    # Kept when only the tab's workspace changes (SessionGuard resets it when the user changes).
    per_user_not_per_workspace: ClassVar[bool] = True
    options: list[WorkspaceOption] = []
    creating: bool = False
    new_name: str = ""
    error: str = ""

    async def _fill(self, user: Caller) -> None:
        rows = await self.in_session(workspace_service.list_for_user, user.id)
        self.options = [
            WorkspaceOption(public_id=row.public_id, label=f"{row.name} ({row.role})") for row in rows
        ]

    @rx.event
    @requires_user
    async def load(self, user: Caller):
        await self._fill(user)

    @rx.event
    @requires_user
    async def refresh_on_open(self, user: Caller, is_open: bool):
        """Opening the list reads it again: workspaces joined or made elsewhere show up."""
        if is_open:
            await self._fill(user)

    @rx.event
    @requires_user
    async def switch(self, user: Caller, public_id: str):
        if public_id == user.access.workspace_public_id:
            return None
        self.workspace = public_id[:32]  # checked by SessionGuard on the next event
        # The same page in the chosen workspace (a key page: its keys); Account, Admin stay put.
        here = self.router.url.path if self.router.url is not None else ""
        return rx.redirect(routes.same_page_in(here, public_id[:32]))

    @rx.event
    def set_creating(self, is_open: bool):
        self.creating, self.new_name, self.error = is_open, "", ""

    @rx.event
    def set_new_name(self, value: str):
        self.new_name = value[:200]

    @rx.event
    @requires_user
    async def create(self, user: Caller, form_data: dict):
        """The Create button and Enter in the name field: the form's submit, with the name as typed."""
        if isinstance(form_data.get("name"), str):
            self.new_name = form_data["name"][:200]
        with Refusal(self) as refused:
            created = await self.in_session(
                workspace_service.create_workspace,
                user.id,
                user.email,
                self.new_name,
                client_address=self.client_address(),
            )
        if refused:
            return None
        self.creating = False
        # The list first: the select shows a blank trigger while its value is not among its
        # items, and on the same page it is not mounted (nor loaded) again after the redirect.
        await self._fill(user)
        self.workspace = created.public_id
        return [
            rx.redirect(routes.in_workspace(created.public_id, routes.KEYS)),
            rx.toast.success(f"Created workspace {created.name}"),
        ]


def workspace_switcher() -> rx.Component:
    state = WorkspaceSwitcherState
    return rx.flex(
        rx.select.root(
            rx.select.trigger(placeholder="Workspace", id="workspace-switcher", aria_label="Workspace"),
            rx.select.content(
                rx.foreach(
                    state.options,
                    lambda option: rx.select.item(option.label, value=option.public_id),
                ),
            ),
            value=AuthState.current_workspace,
            on_change=state.switch,
            on_open_change=state.refresh_on_open,
            size="2",
        ),
        rx.icon_button(
            rx.icon("plus", size=16),
            variant="ghost",
            id="new-workspace",
            aria_label="New workspace",
            title="New workspace",
            on_click=state.set_creating(True),
        ),
        form_dialog(
            "New workspace",
            "You become its owner; invite others from Members.",
            rx.input(
                value=state.new_name,
                on_change=state.set_new_name,
                name="name",
                placeholder="e.g. Checkout team",
                id="new-workspace-name",
                max_length=workspace_service.NAME_MAX_LENGTH,
                width="100%",
            ),
            rx.cond(
                state.error != "",
                rx.text(state.error, color_scheme="red", size="2", id="new-workspace-error"),
            ),
            dialog_footer(
                "new-workspace-cancel",
                rx.button("Create", type="submit", id="new-workspace-submit"),
                width="100%",
            ),
            open=state.creating,
            on_open_change=state.set_creating,
            on_submit=state.create,
            no_validate=True,
            spacing="3",
            max_width="440px",
        ),
        gap="2",
        align="center",
        on_mount=state.load,
        id="workspace-nav",
    )
