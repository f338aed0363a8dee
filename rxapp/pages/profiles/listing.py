"""The Bias Profiles table: its state (the owner's profiles with how many keys use each) and rows."""

from __future__ import annotations

import dataclasses

import reflex as rx

from rxapp.components.clipped import clipped_text
from rxapp.components.page import data_table, empty_state, for_role
from rxapp.components.row_actions import edit_delete_buttons
from rxapp.models import BIAS_CATEGORIES, BiasProfilePublic
from rxapp.services import profiles as profile_service
from rxapp.services.access import Access
from rxapp.session_guard import Caller
from rxapp.state import AuthState, requires_user

ACTION_LABELS = {"flag": "Flag", "block": "Block", "rewrite": "Rewrite"}
HEADERS = ["Name", "Categories", "Sensitivity", "Action", "Keys", "Actions"]


@dataclasses.dataclass
class ProfileRow:
    id: int = 0
    name: str = ""
    description: str = ""
    categories: str = ""
    sensitivity: str = ""
    action: str = ""
    key_count: int = 0


def profile_row_of(profile: BiasProfilePublic) -> ProfileRow:
    return ProfileRow(
        id=profile.id,
        name=profile.name,
        description=profile.description,
        categories=", ".join(BIAS_CATEGORIES[c] for c in profile.categories) or "None selected",
        sensitivity=f"{profile.sensitivity:.2f}",
        action=ACTION_LABELS.get(profile.action, profile.action),
        key_count=profile.key_count,
    )


class ProfilesTableState(AuthState):
    profiles: list[ProfileRow] = []

    async def reload(self, access: Access) -> None:
        profiles = await self.in_session(profile_service.list_profiles, access)
        self.profiles = [profile_row_of(profile) for profile in profiles]

    @rx.event
    @requires_user
    async def load(self, user: Caller):
        await self.reload(user.access)


async def reload_table(state: AuthState, user: Caller) -> None:
    """For the dialogs: bring the table up to date after a change."""
    await (await state.get_state(ProfilesTableState)).reload(user.access)


def profiles_table(on_edit, on_delete) -> rx.Component:
    """`on_edit`/`on_delete` take a profile id (the dialogs' `start`)."""

    def row(item: ProfileRow) -> rx.Component:
        suffix = item.id.to_string()
        return rx.table.row(
            rx.table.cell(
                rx.vstack(
                    clipped_text(item.name, weight="medium"),
                    clipped_text(item.description, max_width="24rem", size="1", color=rx.color("gray", 10)),
                    spacing="0",
                )
            ),
            rx.table.cell(rx.text(item.categories, size="2")),
            rx.table.cell(item.sensitivity),
            rx.table.cell(rx.badge(item.action, variant="soft")),
            rx.table.cell(item.key_count, id="profile-keys-" + suffix),
            rx.table.cell(
                edit_delete_buttons(
                    item.name,
                    "edit-profile-" + suffix,
                    "delete-profile-" + suffix,
                    on_edit(item.id),
                    on_delete(item.id),
                )
            ),
            id="profile-row-" + suffix,
        )

    return rx.cond(
        ProfilesTableState.profiles.length() > 0,
        data_table(HEADERS, ProfilesTableState.profiles, row, "profiles-table"),
        empty_state(
            "sliders-horizontal",
            "No bias profiles yet",
            for_role(
                AuthState.can_write,
                "Create a profile, then attach it to keys.",
                "You have the viewer role here: Bias Profiles are created by the workspace's owners and"
                " members. Ask one of them if the keys need one.",
            ),
            box_id="profiles-empty",
        ),
    )
