"""Delete bias profile: refused, with the service's message, while keys still use it."""

from __future__ import annotations

import reflex as rx

from rxapp.components.dialogs import DialogOpen, confirm_delete_dialog
from rxapp.pages.profiles.listing import reload_table
from rxapp.services import profiles as profile_service
from rxapp.session_guard import Caller
from rxapp.state import AuthState, Refusal, requires_user


class DeleteProfileState(DialogOpen, AuthState):
    name: str = ""
    error: str = ""
    _profile_id: int = 0

    @rx.event
    @requires_user
    async def start(self, user: Caller, profile_id: int):
        profile = await self.in_session(profile_service.get_profile, user.access, int(profile_id))
        self._profile_id, self.name, self.error, self.open = profile.id, profile.name, "", True

    @rx.event
    @requires_user
    async def confirm(self, user: Caller):
        with Refusal(self) as refused:
            await self.in_session(
                profile_service.delete_profile,
                user.access,
                user.email,
                self._profile_id,
                client_address=self.client_address(),
            )
        if refused:
            return None
        self.open = False
        await reload_table(self, user)
        return rx.toast.success(f"Deleted bias profile {self.name}")


def delete_profile_dialog() -> rx.Component:
    state = DeleteProfileState
    return confirm_delete_dialog(
        title="Delete bias profile?",
        description=rx.text("Delete the profile ", rx.text.strong(state.name), "? This cannot be undone."),
        error=state.error,
        error_id="profile-delete-error",
        on_confirm=state.confirm,
        open=state.open,
        on_open_change=state.set_open,
        confirm_id="profile-delete-confirm",
        cancel_id="profile-delete-cancel",
    )
