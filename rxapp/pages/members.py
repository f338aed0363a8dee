"""Members of the current workspace: roles, removal, and invitation links (owners only).

Every action goes to services/workspaces.py, which checks the role itself; this page only hides
what the role cannot do. A new link is shown once (the server keeps only its HMAC), and like a
key's secret it lives only in the browser (`revealed_invite_link`, a client-side value): the
state keeps no copy, so a reload, a reconnect or a new tab never brings it back.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import reflex as rx
from pydantic import BaseModel

from rxapp import routes
from rxapp.components.forms import invalid_if, labelled_field
from rxapp.components.layout import protected_page
from rxapp.components.page import data_table
from rxapp.components.reauth_dialog import REAUTH_REQUIRED, ask_to_reauthenticate, register_retry
from rxapp.components.row_actions import row_button
from rxapp.components.secret_reveal import one_time_value, secret_reveal
from rxapp.components.timefmt import exact_utc, iso, local_time
from rxapp.pages.permission_catalogue import permission_catalogue
from rxapp.pages.role_catalogue import role_catalogue
from rxapp.pages.workspace_settings import workspace_settings
from rxapp.services import reauth
from rxapp.services import workspaces as workspace_service
from rxapp.session_guard import Caller
from rxapp.state import AuthState, Refusal, requires_user

EXPIRY_CHOICES = {"1 day": 1.0, "7 days": 7.0, "30 days": 30.0}
revealed_invite_link = one_time_value("revealed_invite_link")


class MemberRow(BaseModel):
    user_id: int
    email: str
    role: str
    is_me: bool


class InvitationRow(BaseModel):
    id: int
    role: str
    note: str  # whom it is for ("" when the owner left "For" empty)
    created_by: str
    created: str  # ISO instants: the browser shows them in the reader's zone
    created_exact: str  # the same instants in UTC (hover titles)
    expires: str
    expires_exact: str


class MembersState(AuthState):
    members: list[MemberRow] = []
    invitations: list[InvitationRow] = []
    inviting: bool = False
    invite_role: str = "member"
    invite_expiry: str = "7 days"
    invite_note: str = ""  # "For": whom the invitation is for
    error_field: str = ""
    invite_shown: bool = False  # the link itself is client-side only: see revealed_invite_link
    error: str = ""
    leave_note: str = ""  # why "Leave" is not offered to the reader (personal workspace, only owner)

    async def _reload(self, user: Caller) -> None:
        members = await self.in_session(workspace_service.list_members, user.access)
        self.leave_note = workspace_service.leave_refusal(user.access, members)
        self.members = [
            MemberRow(user_id=m.user_id, email=m.email, role=m.role, is_me=m.user_id == user.id)
            for m in members
        ]
        if user.access.can_manage:
            pending = await self.in_session(workspace_service.list_invitations, user.access)
            self.invitations = [
                InvitationRow(
                    id=i.id,
                    role=i.role,
                    note=i.note,
                    created_by=i.created_by,
                    created=iso(i.created_at),
                    created_exact=exact_utc(i.created_at),
                    expires=iso(i.expires_at),
                    expires_exact=exact_utc(i.expires_at),
                )
                for i in pending
            ]
        else:
            self.invitations = []

    @rx.event
    @requires_user
    async def load(self, user: Caller):
        await self._reload(user)
        if self.invite_shown:  # a reload never reopens a reveal (the link itself died with the page)
            self.inviting, self.invite_shown = False, False
            return revealed_invite_link.push("")
        return None

    @rx.event
    @requires_user
    async def change_role(self, user: Caller, user_id: int, role: str):
        with Refusal(self, message_var="") as refused:
            await self.in_session(reauth.require_recent, user.session_digest)  # sudo mode
        if refused:
            await ask_to_reauthenticate(self, retry="members.change_role", args=(int(user_id), str(role)))
            await self._reload(user)  # the select shows the role it still has
            return None
        await self.in_session(
            workspace_service.change_role,
            user.access,
            int(user_id),
            role,
            client_address=self.client_address(),
        )
        await self._reload(user)
        return rx.toast.success("Role changed")

    @rx.event
    @requires_user
    async def remove(self, user: Caller, user_id: int):
        await self.in_session(
            workspace_service.remove_member, user.access, int(user_id), client_address=self.client_address()
        )
        if int(user_id) == user.id:  # left the workspace: back to the personal one
            self.workspace = ""
            return rx.redirect(routes.KEYS)
        await self._reload(user)
        return rx.toast.success("Member removed")

    @rx.event
    @requires_user
    async def revoke(self, user: Caller, invitation_id: int):
        await self.in_session(
            workspace_service.revoke_invitation,
            user.access,
            int(invitation_id),
            client_address=self.client_address(),
        )
        await self._reload(user)
        return rx.toast.success("Invitation revoked")

    @rx.event
    def set_inviting(self, is_open: bool):
        self.inviting, self.invite_shown, self.error, self.error_field = is_open, False, "", ""
        if is_open:
            self.invite_note = ""
        return revealed_invite_link.push("")

    @rx.event
    def set_invite_note(self, value: str):
        self.invite_note = value[: workspace_service.INVITATION_NOTE_MAX_LENGTH + 1]
        if self.error_field == "note":
            self.error = self.error_field = ""

    @rx.event
    def set_invite_role(self, value: str):
        self.invite_role = value if value in workspace_service.ROLES else "member"

    @rx.event
    def set_invite_expiry(self, value: str):
        self.invite_expiry = value if value in EXPIRY_CHOICES else "7 days"

    @rx.event
    @requires_user
    async def create_invitation(self, user: Caller):
        with Refusal(self) as refused:
            await self.in_session(reauth.require_recent, user.session_digest)  # sudo mode
            token, _ = await self.in_session(
                workspace_service.create_invitation,
                user.access,
                self.invite_role,
                days=EXPIRY_CHOICES[self.invite_expiry],
                note=self.invite_note,
                client_address=self.client_address(),
            )
        if refused.code == REAUTH_REQUIRED:
            self.error = ""
            await ask_to_reauthenticate(self, "invite-submit")
            return
        if refused:
            return
        url = urlsplit(str(self.router.url)) if self.router.url is not None else None
        origin = f"{url.scheme}://{url.netloc}" if url and url.scheme and url.netloc else ""
        self.invite_shown = True
        await self._reload(user)
        return revealed_invite_link.push(origin + routes.invitation_path(token))


register_retry("members.change_role", MembersState.change_role)


def _member_row(row: MemberRow) -> rx.Component:
    state = MembersState
    return rx.table.row(
        rx.table.cell(row.email, rx.cond(row.is_me, rx.text(" (you)", as_="span", color_scheme="gray"))),
        rx.table.cell(
            rx.cond(
                AuthState.can_manage,
                rx.select(
                    list(workspace_service.ROLES),
                    value=row.role,
                    on_change=lambda role: state.change_role(row.user_id, role),
                    id=f"member-role-{row.user_id}",
                    custom_attrs={"aria-label": "Role of " + row.email},  # the trigger's accessible name
                    size="1",
                ),
                rx.text(row.role, id=f"member-role-{row.user_id}"),
            )
        ),
        rx.table.cell(
            rx.cond(
                row.is_me & (state.leave_note != ""),
                rx.text(state.leave_note, size="1", color_scheme="gray", id="member-leave-note"),
                rx.cond(
                    AuthState.can_manage | row.is_me,
                    row_button(
                        rx.cond(row.is_me, "Leave", "Remove"),
                        state.remove(row.user_id),
                        f"member-remove-{row.user_id}",
                    ),
                ),
            )
        ),
    )


def _invitation_row(row: InvitationRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.cond(row.note != "", row.note, rx.text("(not said)", as_="span", color_scheme="gray")),
            id=f"invitation-for-{row.id}",
            overflow_wrap="anywhere",
        ),
        rx.table.cell(row.role),
        rx.table.cell(
            row.created_by,
            " · ",
            local_time(row.created, row.created_exact, element_id=f"invitation-created-{row.id}"),
        ),
        rx.table.cell(local_time(row.expires, row.expires_exact, element_id=f"invitation-expires-{row.id}")),
        rx.table.cell(row_button("Revoke", MembersState.revoke(row.id), f"invitation-revoke-{row.id}")),
    )


def _invite_dialog() -> rx.Component:
    state = MembersState
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Invite to this workspace"),
            rx.cond(
                ~state.invite_shown,
                rx.flex(
                    labelled_field(
                        "For (optional)",
                        rx.input(
                            value=state.invite_note,
                            on_change=state.set_invite_note,
                            placeholder="Their email, or a few words",
                            id="invite-note",
                            max_length=workspace_service.INVITATION_NOTE_MAX_LENGTH,
                            aria_invalid=invalid_if(state.error_field, "note"),
                            width="100%",
                        ),
                        html_for="invite-note",
                        error=state.error,
                        error_field=state.error_field,
                        field="note",
                    ),
                    rx.text(
                        "Shown in Pending invitations so you know who each link is for;"
                        " whoever opens the link joins.",
                        size="1",
                        color_scheme="gray",
                    ),
                    rx.text("Role", size="2", weight="medium"),
                    rx.select(
                        list(workspace_service.ROLES),
                        value=state.invite_role,
                        on_change=state.set_invite_role,
                        id="invite-role",
                        custom_attrs={"aria-label": "Role"},
                    ),
                    rx.text("Link expires after", size="2", weight="medium"),
                    rx.select(
                        list(EXPIRY_CHOICES),
                        value=state.invite_expiry,
                        on_change=state.set_invite_expiry,
                        id="invite-expiry",
                        custom_attrs={"aria-label": "Link expires after"},
                    ),
                    rx.cond(
                        (state.error != "") & (state.error_field != "note"),
                        rx.text(state.error, color_scheme="red", size="2"),
                    ),
                    rx.flex(
                        rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray")),
                        rx.button("Create link", on_click=state.create_invitation, id="invite-submit"),
                        gap="3",
                        justify="end",
                    ),
                    direction="column",
                    gap="2",
                ),
                secret_reveal(
                    revealed_invite_link,
                    warning="Send this link to the person you invite. It works once and is shown only now.",
                    label="Invitation link",
                    field_id="invite-link",
                    copy_id="copy-invite-link",
                    copy_label="Copy link",
                    copied_toast="Link copied",
                    done_id="invite-done",
                    on_done=state.set_inviting(False),
                ),
            ),
        ),
        open=state.inviting,
        on_open_change=state.set_inviting,
    )


def members_page() -> rx.Component:
    state = MembersState
    return protected_page(
        rx.flex(
            rx.flex(
                rx.heading("Members of ", AuthState.workspace_name, size="6"),
                rx.spacer(),
                rx.cond(
                    AuthState.can_manage,
                    rx.button(
                        rx.icon("user-plus", size=16),
                        "Invite",
                        on_click=state.set_inviting(True),
                        id="invite-open",
                    ),
                ),
                align="center",
            ),
            rx.text("Your role: ", rx.text.strong(AuthState.role, id="my-role"), size="2"),
            data_table(("Email", "Role", ""), state.members, _member_row, "members-table"),
            rx.cond(
                AuthState.can_manage,
                rx.flex(
                    rx.heading("Pending invitations", size="4"),
                    rx.cond(
                        state.invitations.length() > 0,
                        data_table(
                            ("For", "Role", "Created", "Expires (your time)", ""),
                            state.invitations,
                            _invitation_row,
                            "invitations-table",
                        ),
                        rx.text("None.", size="2", color_scheme="gray", id="no-invitations"),
                    ),
                    direction="column",
                    gap="2",
                ),
            ),
            workspace_settings(),
            permission_catalogue(),
            role_catalogue(),
            _invite_dialog(),
            direction="column",
            gap="4",
        )
    )
