"""The instance admin's page: accounts (disable/enable), the sign-up policy in force, and every
workspace with its key count. services/admin.py re-checks the admin flag on every action."""

from __future__ import annotations

import reflex as rx
from pydantic import BaseModel

from rxapp.components.layout import protected_page
from rxapp.components.page import data_table
from rxapp.components.row_actions import row_button
from rxapp.components.timefmt import exact_utc, iso, local_time
from rxapp.services import admin
from rxapp.session_guard import Caller
from rxapp.state import AuthState, requires_user


class UserRow(BaseModel):
    id: int
    email: str
    created: str  # ISO instants: the browser shows them in the reader's zone
    created_exact: str  # the same instants in UTC (hover titles)
    last_sign_in: str
    last_sign_in_exact: str
    workspaces: str
    two_factor: str
    disabled: bool
    is_admin: bool
    is_me: bool  # no Disable on the admin's own row (the service refuses it: SELF_DISABLE)


class WorkspaceRow(BaseModel):
    public_id: str
    name: str
    members: int
    key_count: int


class AdminState(AuthState):
    users: list[UserRow] = []
    workspaces: list[WorkspaceRow] = []
    policy: str = ""

    async def _reload(self, user: Caller) -> None:
        def work(session):
            admin.require_admin(session, user.id)
            return admin.list_users(session), admin.list_workspaces(session)

        users, workspaces = await self.in_session(work)
        self.policy = admin.signup_policy()
        self.users = [
            UserRow(
                id=u.id,
                email=u.email,
                created=iso(u.created_at),
                created_exact=exact_utc(u.created_at),
                last_sign_in=iso(u.last_sign_in_at),
                last_sign_in_exact=exact_utc(u.last_sign_in_at) or "Never signed in",
                workspaces=", ".join(u.workspaces),
                two_factor=u.two_factor,
                disabled=u.disabled,
                is_admin=u.is_admin,
                is_me=u.id == user.id,
            )
            for u in users
        ]
        self.workspaces = [
            WorkspaceRow(
                public_id=w.public_id, name=admin.workspace_label(w), members=w.members, key_count=w.keys
            )
            for w in workspaces
        ]

    @rx.event
    @requires_user
    async def load(self, user: Caller):
        await self._reload(user)

    @rx.event
    @requires_user
    async def set_disabled(self, user: Caller, email: str, disabled: bool):
        def work(session):
            admin.require_admin(session, user.id)
            admin.set_disabled(
                session, user.email, email, bool(disabled), client_address=self.client_address()
            )

        await self.in_session(work)
        await self._reload(user)
        return rx.toast.success(f"{email} is now {'disabled' if disabled else 'enabled'}")


def _user_row(row: UserRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row.email, rx.cond(row.is_admin, rx.badge("admin", margin_left="6px"))),
        rx.table.cell(local_time(row.created, row.created_exact, white_space="nowrap")),
        rx.table.cell(
            local_time(row.last_sign_in, row.last_sign_in_exact, white_space="nowrap"),
            id=f"admin-last-sign-in-{row.id}",
        ),
        rx.table.cell(row.workspaces),
        rx.table.cell(row.two_factor, id=f"admin-two-factor-{row.id}"),
        rx.table.cell(
            rx.cond(
                row.is_me,
                rx.text("You", size="1", color_scheme="gray", id=f"admin-self-{row.id}"),
                rx.cond(
                    row.disabled,
                    row_button(
                        "Enable",
                        AdminState.set_disabled(row.email, False),
                        f"admin-enable-{row.id}",
                        danger=False,
                    ),
                    row_button(
                        "Disable", AdminState.set_disabled(row.email, True), f"admin-disable-{row.id}"
                    ),
                ),
            )
        ),
    )


def _workspace_row(row: WorkspaceRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row.name),
        rx.table.cell(row.public_id),
        rx.table.cell(row.members),
        rx.table.cell(row.key_count),
    )


def admin_page() -> rx.Component:
    state = AdminState
    return protected_page(
        rx.flex(
            rx.heading("Instance admin", size="6"),
            rx.text(
                "Sign-up policy in force: ",
                rx.text.strong(state.policy, id="admin-policy"),
                " (APIKEYS_SIGNUP)",
                size="2",
            ),
            rx.heading("Users", size="4"),
            data_table(
                ("Email", "Created", "Last sign-in", "Workspaces", "Two-factor", ""),
                state.users,
                _user_row,
                "admin-users",
            ),
            rx.heading("Workspaces", size="4"),
            data_table(
                ("Name", "ID", "Members", "Keys"), state.workspaces, _workspace_row, "admin-workspaces"
            ),
            direction="column",
            gap="4",
        )
    )
