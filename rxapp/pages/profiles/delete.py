"""Delete bias profile. While keys use it the dialog says how many before any click and offers no
Delete (the service refuses it anyway, and its message still shows if a key is attached meanwhile)."""

from __future__ import annotations

import reflex as rx

from rxapp.components.dialogs import DialogOpen, confirm_delete_dialog
from rxapp.pages.profiles.listing import reload_table
from rxapp.services import profiles as profile_service
from rxapp.session_guard import Caller
from rxapp.state import AuthState, Refusal, requires_user


def in_use_text(key_count: int) -> str:
    if key_count <= 0:
        return ""
    uses, them, keys = (
        ("API key uses", "it", "the key's") if key_count == 1 else ("API keys use", "them", "each key's")
    )
    return f"{key_count} {uses} it; move {them} to another profile first (edit {keys} Bias Profile)."


class DeleteProfileState(DialogOpen, AuthState):
    name: str = ""
    error: str = ""
    in_use: str = ""  # "2 API keys use it; …" when keys use the profile: then no Delete button
    _profile_id: int = 0

    @rx.event
    @requires_user
    async def start(self, user: Caller, profile_id: int):
        profile = await self.in_session(profile_service.get_profile, user.access, int(profile_id))
        self._profile_id, self.name, self.error, self.open = profile.id, profile.name, "", True
        self.in_use = in_use_text(profile.key_count)

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
        description=rx.cond(
            state.in_use == "",
            rx.text("Delete the profile ", rx.text.strong(state.name), "? This cannot be undone."),
            rx.text("The profile ", rx.text.strong(state.name), " cannot be deleted while keys use it."),
        ),
        body=rx.cond(
            state.in_use != "",
            rx.callout(
                state.in_use,
                icon="info",
                color_scheme="amber",
                high_contrast=True,  # amber text on amber falls short of WCAG AA (axe)
                margin_top="3",
                id="profile-delete-in-use",
            ),
        ),
        confirm_shown=state.in_use == "",
        error=state.error,
        error_id="profile-delete-error",
        on_confirm=state.confirm,
        open=state.open,
        on_open_change=state.set_open,
        confirm_id="profile-delete-confirm",
        cancel_id="profile-delete-cancel",
    )
