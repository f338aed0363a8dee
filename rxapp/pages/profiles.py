"""The Bias Profiles page: list (with how many keys use each), create, edit, delete."""

from __future__ import annotations

import dataclasses

import reflex as rx
from reflex.experimental.client_state import ClientStateVar

from rxapp.components.clipped import clipped_text
from rxapp.components.layout import protected_page
from rxapp.components.row_actions import edit_delete_buttons
from rxapp.models import BIAS_CATEGORIES, BiasProfilePublic
from rxapp.services import profiles as profile_service
from rxapp.services.errors import ServiceError
from rxapp.state import AuthState

ACTION_LABELS = {"flag": "Flag", "block": "Block", "rewrite": "Rewrite"}


@dataclasses.dataclass
class ProfileRow:
    id: int = 0
    name: str = ""
    description: str = ""
    categories: str = ""
    sensitivity: str = ""
    action: str = ""
    key_count: int = 0


def _row(profile: BiasProfilePublic) -> ProfileRow:
    return ProfileRow(
        id=profile.id,
        name=profile.name,
        description=profile.description,
        categories=", ".join(BIAS_CATEGORIES[c] for c in profile.categories) or "None selected",
        sensitivity=f"{profile.sensitivity:.2f}",
        action=ACTION_LABELS.get(profile.action, profile.action),
        key_count=profile.key_count,
    )


# The slider's value lives in the browser while it moves, so no keystroke waits for (or is lost in)
# a server round trip; the server learns the value when the slider is released or a key commits.
slider_value = ClientStateVar.create("profile_sensitivity", [50])


class ProfilesState(AuthState):
    profiles: list[ProfileRow] = []
    form_open: bool = False
    form_editing: bool = False
    form_name: str = ""
    form_description: str = ""
    form_categories: list[str] = []
    form_sensitivity: int = 50  # percent, for the slider
    form_action: str = "flag"
    form_error: str = ""
    form_error_field: str = ""
    _form_profile_id: int = 0
    _form_version: int = 0
    delete_open: bool = False
    delete_name: str = ""
    delete_error: str = ""
    _delete_profile_id: int = 0

    async def _reload(self, user_id: int) -> None:
        profiles = await self.in_session(profile_service.list_profiles, user_id)
        self.profiles = [_row(profile) for profile in profiles]

    @rx.event
    async def load(self):
        user = await self.current_user()
        if user is None:
            return rx.redirect("/sign-in")
        await self._reload(user.id)

    @rx.event
    async def open_create(self):
        if await self.current_user() is None:
            return rx.redirect("/sign-in")
        self.form_editing = False
        self.form_name = ""
        self.form_description = ""
        self.form_categories = list(BIAS_CATEGORIES)
        self.form_sensitivity = 50
        self.form_action = "flag"
        self.form_error = ""
        self.form_error_field = ""
        self._form_profile_id = 0
        self.form_open = True
        return slider_value.push([self.form_sensitivity])

    @rx.event
    async def open_edit(self, profile_id: int):
        user = await self.current_user()
        if user is None:
            return rx.redirect("/sign-in")
        try:
            profile = await self.in_session(profile_service.get_profile, user.id, int(profile_id))
        except ServiceError as error:
            return rx.toast.error(error.message)
        self.form_editing = True
        self.form_name = profile.name
        self.form_description = profile.description
        self.form_categories = list(profile.categories)
        self.form_sensitivity = round(profile.sensitivity * 100)
        self.form_action = profile.action
        self.form_error = ""
        self.form_error_field = ""
        self._form_profile_id = profile.id
        self._form_version = profile.version
        self.form_open = True
        return slider_value.push([self.form_sensitivity])

    @rx.event
    def set_form_open(self, is_open: bool):
        self.form_open = is_open

    @rx.event
    def set_form_name(self, value: str):
        self.form_name = value[:200]

    @rx.event
    def set_form_description(self, value: str):
        self.form_description = value[:1000]

    @rx.event
    def toggle_category(self, category: str, checked: bool):
        if category not in BIAS_CATEGORIES:
            return
        chosen = set(self.form_categories)
        if checked:
            chosen.add(category)
        else:
            chosen.discard(category)
        self.form_categories = [c for c in BIAS_CATEGORIES if c in chosen]

    @rx.event
    def set_form_sensitivity(self, value: list[int | float]):
        if value:
            self.form_sensitivity = max(0, min(100, int(value[0])))

    @rx.event
    def set_form_action(self, value: str):
        self.form_action = value

    @rx.event
    async def submit_form(self):
        user = await self.current_user()
        if user is None:
            return rx.redirect("/sign-in")
        fields = dict(
            name=self.form_name,
            description=self.form_description,
            categories=self.form_categories,
            sensitivity=self.form_sensitivity / 100,
            action=self.form_action,
            client_address=self.client_address(),
        )
        try:
            if self.form_editing:
                saved = await self.in_session(
                    profile_service.update_profile,
                    user.id,
                    user.email,
                    self._form_profile_id,
                    expected_version=self._form_version,
                    **fields,
                )
            else:
                saved = await self.in_session(profile_service.create_profile, user.id, user.email, **fields)
        except ServiceError as error:
            self.form_error = error.message
            self.form_error_field = error.field
            return
        self.form_open = False
        await self._reload(user.id)
        return rx.toast.success(f"Saved bias profile {saved.name}")

    @rx.event
    async def open_delete(self, profile_id: int):
        user = await self.current_user()
        if user is None:
            return rx.redirect("/sign-in")
        try:
            profile = await self.in_session(profile_service.get_profile, user.id, int(profile_id))
        except ServiceError as error:
            return rx.toast.error(error.message)
        self._delete_profile_id = profile.id
        self.delete_name = profile.name
        self.delete_error = ""
        self.delete_open = True

    @rx.event
    def set_delete_open(self, is_open: bool):
        self.delete_open = is_open

    @rx.event
    async def confirm_delete(self):
        user = await self.current_user()
        if user is None:
            return rx.redirect("/sign-in")
        try:
            await self.in_session(
                profile_service.delete_profile,
                user.id,
                user.email,
                self._delete_profile_id,
                client_address=self.client_address(),
            )
        except ServiceError as error:
            self.delete_error = error.message
            return
        self.delete_open = False
        await self._reload(user.id)
        return rx.toast.success(f"Deleted bias profile {self.delete_name}")


def profile_row(row: ProfileRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                clipped_text(row.name, weight="medium"),
                clipped_text(row.description, max_width="24rem", size="1", color=rx.color("gray", 10)),
                spacing="0",
            )
        ),
        rx.table.cell(rx.text(row.categories, size="2")),
        rx.table.cell(row.sensitivity),
        rx.table.cell(rx.badge(row.action, variant="soft")),
        rx.table.cell(row.key_count, id="profile-keys-" + row.id.to_string()),
        rx.table.cell(
            edit_delete_buttons(
                row.name,
                "edit-profile-" + row.id.to_string(),
                "delete-profile-" + row.id.to_string(),
                ProfilesState.open_edit(row.id),
                ProfilesState.open_delete(row.id),
            )
        ),
        id="profile-row-" + row.id.to_string(),
    )


def category_checkbox(category: str, label: str) -> rx.Component:
    return rx.checkbox(
        label,
        checked=ProfilesState.form_categories.contains(category),
        on_change=lambda checked: ProfilesState.toggle_category(category, checked),
        id=f"category-{category}",
    )


def profile_form_dialog() -> rx.Component:
    def error_for(field: str) -> rx.Component:
        return rx.cond(
            ProfilesState.form_error_field == field,
            rx.text(ProfilesState.form_error, color=rx.color("red", 11), size="1", role="alert"),
        )

    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.cond(ProfilesState.form_editing, "Edit Bias Profile", "Create Bias Profile")),
            rx.dialog.description(
                "Settings the service applies to calls made with keys that use this profile."
            ),
            rx.vstack(
                rx.el.label("Name", html_for="profile-name", font_size="14px", font_weight="500"),
                rx.input(
                    value=ProfilesState.form_name,
                    on_change=ProfilesState.set_form_name,
                    id="profile-name",
                    max_length=80,
                    width="100%",
                ),
                error_for("name"),
                rx.el.label(
                    "Description", html_for="profile-description", font_size="14px", font_weight="500"
                ),
                rx.text_area(
                    value=ProfilesState.form_description,
                    on_change=ProfilesState.set_form_description,
                    id="profile-description",
                    max_length=500,
                    width="100%",
                ),
                error_for("description"),
                rx.text("Bias categories to check", size="2", weight="medium"),
                rx.grid(
                    *[category_checkbox(key, label) for key, label in BIAS_CATEGORIES.items()],
                    columns="2",
                    spacing="2",
                    width="100%",
                    role="group",
                    aria_label="Bias categories",
                ),
                error_for("categories"),
                rx.hstack(
                    rx.text("Sensitivity", size="2", weight="medium"),
                    rx.spacer(),
                    rx.text(
                        slider_value.value.to(list)[0].to(int) / 100, size="2", id="profile-sensitivity-value"
                    ),
                    width="100%",
                ),
                rx.slider(
                    value=slider_value.value,
                    on_change=slider_value.set,
                    on_value_commit=ProfilesState.set_form_sensitivity,
                    min=0,
                    max=100,
                    step=1,
                    id="profile-sensitivity",
                    aria_label="Sensitivity",
                ),
                error_for("sensitivity"),
                rx.text("Action", size="2", weight="medium"),
                rx.radio_group(
                    list(ACTION_LABELS),
                    value=ProfilesState.form_action,
                    on_change=ProfilesState.set_form_action,
                    direction="row",
                    spacing="4",
                    id="profile-action",
                    aria_label="Action",
                ),
                error_for("action"),
                rx.cond(
                    (ProfilesState.form_error != "") & (ProfilesState.form_error_field == ""),
                    rx.text(ProfilesState.form_error, color=rx.color("red", 11), size="1", role="alert"),
                ),
                rx.hstack(
                    rx.dialog.close(
                        rx.button("Cancel", variant="soft", color_scheme="gray", id="profile-cancel")
                    ),
                    rx.button("Save profile", on_click=ProfilesState.submit_form, id="profile-save"),
                    justify="end",
                    width="100%",
                    spacing="3",
                ),
                spacing="2",
                margin_top="3",
            ),
            max_width="560px",
        ),
        open=ProfilesState.form_open,
        on_open_change=ProfilesState.set_form_open,
    )


def delete_profile_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete bias profile?"),
            rx.alert_dialog.description(
                rx.text(
                    "Delete the profile ",
                    rx.text.strong(ProfilesState.delete_name),
                    "? This cannot be undone.",
                )
            ),
            rx.cond(
                ProfilesState.delete_error != "",
                rx.callout(
                    ProfilesState.delete_error,
                    icon="triangle-alert",
                    color_scheme="red",
                    margin_top="3",
                    id="profile-delete-error",
                ),
            ),
            rx.hstack(
                rx.alert_dialog.cancel(
                    rx.button("Cancel", variant="soft", color_scheme="gray", id="profile-delete-cancel")
                ),
                rx.button(
                    "Delete",
                    color_scheme="red",
                    on_click=ProfilesState.confirm_delete,
                    id="profile-delete-confirm",
                ),
                justify="end",
                spacing="3",
                margin_top="4",
            ),
        ),
        open=ProfilesState.delete_open,
        on_open_change=ProfilesState.set_delete_open,
    )


def profiles_content() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.vstack(
                rx.heading("Bias Profiles", size="7", as_="h1"),
                rx.text(
                    "Named settings the service applies to calls made with a key.",
                    color=rx.color("gray", 11),
                    size="2",
                ),
                spacing="1",
            ),
            rx.spacer(),
            rx.button(
                rx.icon("plus", size=16),
                "Create Bias Profile",
                on_click=ProfilesState.open_create,
                id="create-profile-button",
                size="3",
            ),
            width="100%",
            align="center",
        ),
        rx.cond(
            ProfilesState.profiles.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[
                            rx.table.column_header_cell(label)
                            for label in ["Name", "Categories", "Sensitivity", "Action", "Keys", "Actions"]
                        ]
                    )
                ),
                rx.table.body(rx.foreach(ProfilesState.profiles, profile_row)),
                variant="surface",
                width="100%",
                id="profiles-table",
            ),
            rx.center(
                rx.vstack(
                    rx.icon("sliders-horizontal", size=36, color=rx.color("gray", 9)),
                    rx.heading("No bias profiles yet", size="4"),
                    rx.text("Create a profile, then attach it to keys.", color=rx.color("gray", 11)),
                    align="center",
                    spacing="2",
                ),
                padding="9",
                border=f"1px dashed {rx.color('gray', 6)}",
                border_radius="12px",
                width="100%",
                id="profiles-empty",
            ),
        ),
        profile_form_dialog(),
        delete_profile_dialog(),
        spacing="5",
        width="100%",
    )


def profiles_page() -> rx.Component:
    return protected_page(profiles_content())
