"""Owner controls on the Members page: rename the workspace, and delete it (not a personal one).

The services check the role and refuse a personal workspace themselves; this only hides what the
caller cannot do. Delete names the workspace captured when the dialog opened and refuses if the
tab has since switched to another one (the choice is shared between tabs through localStorage).
"""

from __future__ import annotations

import reflex as rx

from rxapp import routes
from rxapp.components.dialogs import DialogOpen, confirm_delete_dialog
from rxapp.components.forms import invalid_if, labelled_field
from rxapp.components.page import PHONE_TARGET
from rxapp.components.reauth_dialog import REAUTH_REQUIRED, ask_to_reauthenticate, register_retry
from rxapp.components.workspace_switcher import WorkspaceSwitcherState
from rxapp.pages.workspace_key_policy import key_policy_settings
from rxapp.services import leaks, reauth, two_factor_policy
from rxapp.services import workspaces as workspace_service
from rxapp.session_guard import Caller
from rxapp.state import AuthState, Refusal, requires_user


class WorkspaceSettingsState(DialogOpen, AuthState):
    personal: bool = True  # hides Delete until `load` says otherwise
    new_name: str = ""
    rename_error: str = ""
    name: str = ""  # the workspace the delete dialog names
    typed_name: str = ""  # what the owner typed to confirm the delete
    error: str = ""
    error_field: str = ""
    require_two_factor: bool = False  # the workspace's two-factor policy (owners change it)
    policy_error: str = ""
    _public_id: str = ""
    leak_policy: str = leaks.DEFAULT_POLICY

    @rx.event
    @requires_user
    async def load(self, user: Caller):
        self.personal = user.access.personal
        self.new_name, self.rename_error = user.access.workspace_name, ""
        self.policy_error = ""
        self.require_two_factor = await self.in_session(two_factor_policy.is_required, user.access)
        self.leak_policy = await self.in_session(leaks.get_policy, user.access)

    @rx.event
    @requires_user
    async def set_require_two_factor(self, user: Caller, required: bool | int):
        """The policy switch: owners only (the service checks), in sudo mode, audited."""
        wanted = bool(required)
        with Refusal(self, "policy_error") as refused:
            await self.in_session(reauth.require_recent, user.session_digest)  # sudo mode
            await self.in_session(
                two_factor_policy.set_required, user.access, wanted, client_address=self.client_address()
            )
        if refused.code == REAUTH_REQUIRED:
            self.policy_error = ""
            await ask_to_reauthenticate(self, retry="workspace.require_two_factor", args=(int(wanted),))
            return None
        if refused:
            return None
        self.require_two_factor, self.policy_error = wanted, ""
        return rx.toast.success(
            "Members now need two-factor authentication." if wanted else "Two-factor is no longer required."
        )

    @rx.event
    @requires_user
    async def set_leak_policy(self, user: Caller, value: str):
        """Owners only (the service checks); a refusal reaches the guard's error toast."""
        self.leak_policy = await self.in_session(
            leaks.set_policy, user.access, user.access.email, value, client_address=self.client_address()
        )
        return rx.toast.success(f"Leak policy: {leaks.POLICY_LABELS[self.leak_policy]}")

    @rx.event
    def set_new_name(self, value: str):
        self.new_name = value[: workspace_service.NAME_MAX_LENGTH + 1]

    @rx.event
    @requires_user
    async def rename(self, user: Caller):
        with Refusal(self, "rename_error") as refused:
            await self.in_session(
                workspace_service.rename_workspace,
                user.access,
                self.new_name,
                client_address=self.client_address(),
            )
        if refused:
            return None
        self.rename_error = ""
        self.new_name = self.workspace_name = " ".join(self.new_name.split())
        return [WorkspaceSwitcherState.load, rx.toast.success("Workspace renamed")]

    @rx.event
    @requires_user
    async def start(self, user: Caller):
        self._public_id, self.name = user.access.workspace_public_id, user.access.workspace_name
        self.typed_name, self.error, self.error_field, self.open = "", "", "", True

    @rx.event
    def set_typed_name(self, value: str):
        self.typed_name = value[: workspace_service.NAME_MAX_LENGTH + 1]
        if self.error_field == "confirm_name":
            self.error = self.error_field = ""

    @rx.var
    def name_typed(self) -> bool:
        """Delete is enabled once the typed name is the workspace's."""
        return workspace_service.name_matches(self.typed_name, self.name)

    @rx.event
    @requires_user
    async def confirm(self, user: Caller):
        if user.access.workspace_public_id != self._public_id:
            self.error, self.error_field = "This tab switched to another workspace; nothing was deleted.", ""
            return None
        with Refusal(self) as refused:
            await self.in_session(reauth.require_recent, user.session_digest)  # sudo mode
            await self.in_session(
                workspace_service.delete_workspace,
                user.access,
                confirm_name=self.typed_name,
                client_address=self.client_address(),
            )
        if refused.code == REAUTH_REQUIRED:
            self.error = ""
            await ask_to_reauthenticate(self, "workspace-delete-confirm")
            return None
        if refused:
            return None
        self.open = False
        self.workspace = ""  # back to the personal workspace
        return [rx.redirect(routes.KEYS), rx.toast.success(f"Deleted workspace {self.name}")]


def _confirm_name_field() -> rx.Component:
    state = WorkspaceSettingsState
    return rx.box(
        labelled_field(
            "Type the workspace's name to confirm",
            rx.input(
                value=state.typed_name,
                on_change=state.set_typed_name,
                id="workspace-delete-confirm-name",
                auto_complete="off",
                aria_invalid=invalid_if(state.error_field, "confirm_name"),
                width="100%",
            ),
            html_for="workspace-delete-confirm-name",
            error=state.error,
            error_field=state.error_field,
            field="confirm_name",
        ),
        margin_top="3",
    )


def _leak_policy_picker() -> rx.Component:
    """What a leak report (README, "Leak reports") does to this workspace's keys."""
    return rx.flex(
        rx.text("When a key leaks", size="2", as_="label", html_for="leak-policy", white_space="nowrap"),
        rx.select.root(
            rx.select.trigger(id="leak-policy", aria_label="When a key leaks", min_height=PHONE_TARGET),
            rx.select.content(
                *[rx.select.item(label, value=value) for value, label in leaks.POLICY_LABELS.items()]
            ),
            value=WorkspaceSettingsState.leak_policy,
            on_change=WorkspaceSettingsState.set_leak_policy,
        ),
        align="center",
        gap="2",
        wrap="wrap",
    )


def workspace_settings() -> rx.Component:
    """Rename field and Delete button, shown to owners only."""
    state = WorkspaceSettingsState
    return rx.cond(
        AuthState.can_manage,
        rx.flex(
            rx.heading("Workspace", size="4"),
            rx.flex(
                rx.input(
                    value=state.new_name,
                    on_change=state.set_new_name,
                    id="workspace-rename-name",
                    aria_label="Workspace name",
                    max_length=workspace_service.NAME_MAX_LENGTH,
                    width="100%",
                    max_width="320px",
                ),
                rx.button("Rename", variant="soft", on_click=state.rename, id="workspace-rename-submit"),
                gap="2",
                wrap="wrap",
            ),
            rx.cond(
                state.rename_error != "",
                rx.text(state.rename_error, color_scheme="red", size="2", id="workspace-rename-error"),
            ),
            rx.checkbox(
                "Require two-factor authentication (a code or a passkey) for every member",
                checked=state.require_two_factor,
                on_change=state.set_require_two_factor,
                id="workspace-require-2fa",
                size="2",
            ),
            rx.cond(
                state.policy_error != "",
                rx.text(state.policy_error, color_scheme="red", size="2", id="workspace-require-2fa-error"),
            ),
            _leak_policy_picker(),
            key_policy_settings(),
            rx.cond(
                ~state.personal,
                rx.box(
                    rx.button(
                        rx.icon("trash-2", size=16),
                        "Delete workspace",
                        color_scheme="red",
                        variant="soft",
                        on_click=state.start,
                        id="workspace-delete-open",
                    )
                ),
            ),
            confirm_delete_dialog(
                title="Delete workspace?",
                description=rx.text(
                    "Delete the workspace ",
                    rx.text.strong(state.name, id="workspace-delete-name"),
                    " with all its API keys and Bias Profiles? Its keys stop verifying at once and"
                    " its members lose access. This cannot be undone.",
                ),
                body=_confirm_name_field(),
                error=rx.cond(state.error_field == "confirm_name", "", state.error),
                error_id="workspace-delete-error",
                confirm_disabled=~state.name_typed,
                on_confirm=state.confirm,
                open=state.open,
                on_open_change=state.set_open,
                confirm_id="workspace-delete-confirm",
                cancel_id="workspace-delete-cancel",
            ),
            direction="column",
            gap="2",
            id="workspace-settings",
        ),
    )


register_retry("workspace.require_two_factor", WorkspaceSettingsState.set_require_two_factor)
