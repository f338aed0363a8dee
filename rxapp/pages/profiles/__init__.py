"""The Bias Profiles page: the table (`listing`), the create/edit form (`form`), delete (`delete`);
one dialog = its own substate + component, like the keys page."""

from __future__ import annotations

import reflex as rx

from rxapp.components.layout import protected_page
from rxapp.components.page import page_header, primary_action
from rxapp.pages.profiles.delete import DeleteProfileState, delete_profile_dialog
from rxapp.pages.profiles.form import ProfileFormState, profile_form_dialog
from rxapp.pages.profiles.listing import ProfilesTableState, profiles_table

ON_LOAD = ProfilesTableState.load


def profiles_content() -> rx.Component:
    return rx.vstack(
        page_header(
            "Bias Profiles",
            "Named settings the service applies to calls made with a key.",
            primary_action("Create Bias Profile", ProfileFormState.start_create, "create-profile-button"),
        ),
        profiles_table(ProfileFormState.start_edit, DeleteProfileState.start),
        profile_form_dialog(),
        delete_profile_dialog(),
        spacing="5",
        width="100%",
    )


def profiles_page() -> rx.Component:
    return protected_page(profiles_content())


__all__ = ["ON_LOAD", "profiles_page"]
