"""Create / Edit Bias Profile: name, description, categories, sensitivity slider, action.

The slider's value lives in the browser while it moves (`slider_value`), so no keystroke waits
for (or is lost in) a server round trip; the server learns it when the slider is released.
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.experimental.client_state import ClientStateVar

from rxapp.components.dialogs import DialogOpen, dialog_footer, form_dialog
from rxapp.components.forms import field_error, labelled_field
from rxapp.models import BIAS_CATEGORIES
from rxapp.pages.profiles.listing import ACTION_LABELS, reload_table
from rxapp.services import profiles as profile_service
from rxapp.session_guard import Caller
from rxapp.state import AuthState, Refusal, requires_user

slider_value = ClientStateVar.create("profile_sensitivity", [50])
DEFAULT_SENSITIVITY = 50  # percent


class ProfileFormState(DialogOpen, AuthState):
    editing: bool = False
    name: str = ""
    description: str = ""
    categories: list[str] = []
    sensitivity: int = DEFAULT_SENSITIVITY  # percent, for the slider
    action: str = "flag"
    error: str = ""
    error_field: str = ""
    _profile_id: int = 0
    _version: int = 0

    @rx.event
    @requires_user
    async def start_create(self, user: Caller):
        self.reset()
        self.categories = list(BIAS_CATEGORIES)
        self.open = True
        return slider_value.push([self.sensitivity])

    @rx.event
    @requires_user
    async def start_edit(self, user: Caller, profile_id: int):
        profile = await self.in_session(profile_service.get_profile, user.access, int(profile_id))
        self.reset()
        self.editing = True
        self.name = profile.name
        self.description = profile.description
        self.categories = list(profile.categories)
        self.sensitivity = round(profile.sensitivity * 100)
        self.action = profile.action
        self._profile_id = profile.id
        self._version = profile.version
        self.open = True
        return slider_value.push([self.sensitivity])

    @rx.event
    def set_name(self, value: str):
        self.name = value[:200]

    @rx.event
    def set_description(self, value: str):
        self.description = value[:1000]

    @rx.event
    def toggle_category(self, category: str, checked: bool):
        if category not in BIAS_CATEGORIES:
            return
        chosen = set(self.categories)
        if checked:
            chosen.add(category)
        else:
            chosen.discard(category)
        self.categories = [c for c in BIAS_CATEGORIES if c in chosen]

    @rx.event
    def set_sensitivity(self, value: list[int | float]):
        if value:
            self.sensitivity = max(0, min(100, int(value[0])))

    @rx.event
    def set_action(self, value: str):
        self.action = value

    @rx.event
    @requires_user
    async def submit(self, user: Caller):
        fields: dict[str, Any] = dict(
            name=self.name,
            description=self.description,
            categories=self.categories,
            sensitivity=self.sensitivity / 100,
            action=self.action,
            client_address=self.client_address(),
        )
        with Refusal(self) as refused:
            if self.editing:
                saved = await self.in_session(
                    profile_service.update_profile,
                    user.access,
                    user.email,
                    self._profile_id,
                    expected_version=self._version,
                    **fields,
                )
            else:
                saved = await self.in_session(
                    profile_service.create_profile, user.access, user.email, **fields
                )
        if refused:
            return None
        self.open = False
        await reload_table(self, user)
        return rx.toast.success(f"Saved bias profile {saved.name}")


def _field(label: str, control: rx.Component, field: str, html_for: str = "") -> rx.Component:
    state = ProfileFormState
    return labelled_field(
        label, control, html_for=html_for, error=state.error, error_field=state.error_field, field=field
    )


def _category_checkbox(category: str, label: str) -> rx.Component:
    return rx.checkbox(
        label,
        checked=ProfileFormState.categories.contains(category),
        on_change=lambda checked: ProfileFormState.toggle_category(category, checked),
        id=f"category-{category}",
    )


def _sensitivity() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text("Sensitivity", size="2", weight="medium"),
            rx.spacer(),
            rx.text(slider_value.value.to(list)[0].to(int) / 100, size="2", id="profile-sensitivity-value"),
            width="100%",
        ),
        rx.slider(
            value=slider_value.value,
            on_change=slider_value.set,
            on_value_commit=ProfileFormState.set_sensitivity,
            min=0,
            max=100,
            step=1,
            id="profile-sensitivity",
            aria_label="Sensitivity",
        ),
        field_error(ProfileFormState.error, ProfileFormState.error_field == "sensitivity"),
        spacing="1",
        width="100%",
    )


def profile_form_dialog() -> rx.Component:
    state = ProfileFormState
    return form_dialog(
        rx.cond(state.editing, "Edit Bias Profile", "Create Bias Profile"),
        "Settings the service applies to calls made with keys that use this profile.",
        _field(
            "Name",
            rx.input(
                value=state.name,
                on_change=state.set_name,
                id="profile-name",
                max_length=80,
                width="100%",
            ),
            "name",
            "profile-name",
        ),
        _field(
            "Description",
            rx.text_area(
                value=state.description,
                on_change=state.set_description,
                id="profile-description",
                max_length=500,
                width="100%",
            ),
            "description",
            "profile-description",
        ),
        _field(
            "Bias categories to check",
            rx.grid(
                *[_category_checkbox(key, label) for key, label in BIAS_CATEGORIES.items()],
                columns="2",
                spacing="2",
                width="100%",
                role="group",
                aria_label="Bias categories",
            ),
            "categories",
        ),
        _sensitivity(),
        _field(
            "Action",
            rx.radio_group(
                list(ACTION_LABELS),
                value=state.action,
                on_change=state.set_action,
                direction="row",
                spacing="4",
                id="profile-action",
                aria_label="Action",
            ),
            "action",
        ),
        field_error(state.error, (state.error != "") & (state.error_field == "")),
        dialog_footer(
            "profile-cancel",
            rx.button("Save profile", on_click=state.submit, id="profile-save"),
            width="100%",
        ),
        open=state.open,
        on_open_change=state.set_open,
        max_width="560px",
        spacing="2",
    )
