"""The workspace's permission catalogue (issue 24), a section of the Members page: the names keys
may carry, how many keys carry each, and (for members who may write) add, rename and delete. A
rename follows onto every key carrying the name; a delete is refused while keys carry it. The
services (services/identities.py) check the role and the names; refusals show in the section.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from rxapp.components.dialogs import DialogOpen, dialog_footer, form_dialog
from rxapp.components.forms import invalid_if, labelled_field
from rxapp.services import identities
from rxapp.session_guard import Caller
from rxapp.state import AuthState, Refusal, requires_user

_CONTROL = {"min_height": rx.breakpoints(initial="44px", sm="32px")}


class PermissionCatalogueState(DialogOpen, AuthState):
    rows: list[dict[str, str]] = []  # name, keys (how many carry it)
    new_name: str = ""
    error: str = ""  # the add or delete refusal
    error_field: str = ""
    renaming: str = ""  # the name the rename dialog changes
    rename_to: str = ""
    rename_error: str = ""

    async def _reload(self, user: Caller) -> None:
        found = await self.in_session(identities.list_permissions, user.access)
        self.rows = [{"name": item.name, "keys": str(item.key_count)} for item in found]

    @rx.event
    @requires_user
    async def load(self, user: Caller):
        self.error = self.error_field = ""
        await self._reload(user)

    @rx.event
    def set_new_name(self, value: str):
        self.new_name = value[:200]

    @rx.event
    @requires_user
    async def add(self, user: Caller, form_data: dict):
        name = form_data.get("name")
        name = name.strip() if isinstance(name, str) else ""
        with Refusal(self) as refused:
            await self.in_session(identities.create_permission, user.access, user.email, name)
        if refused:
            return None
        self.error = self.error_field = ""
        await self._reload(user)
        return rx.toast.success(f"Added {name}")

    @rx.event
    @requires_user
    async def delete(self, user: Caller, name: str):
        with Refusal(self) as refused:
            await self.in_session(identities.delete_permission, user.access, user.email, name)
        if refused:
            self.error_field = "delete"
            return None
        self.error = self.error_field = ""
        await self._reload(user)
        return rx.toast.success(f"Deleted {name}")

    @rx.event
    def start_rename(self, name: str):
        self.renaming, self.rename_to, self.rename_error = name, name, ""
        self.open = True

    @rx.event
    def set_rename_to(self, value: str):
        self.rename_to = value[:200]

    @rx.event
    @requires_user
    async def rename(self, user: Caller):
        with Refusal(self, "rename_error", "") as refused:
            await self.in_session(
                identities.update_permission,
                user.access,
                user.email,
                self.renaming,
                new_name=self.rename_to.strip(),
            )
        if refused:
            return None
        self.open = False
        await self._reload(user)
        return rx.toast.success(f"Renamed to {self.rename_to.strip()}")


def _row(row: Any) -> rx.Component:
    state = PermissionCatalogueState
    name = row["name"].to(str)
    return rx.table.row(
        rx.table.cell(rx.code(name)),
        rx.table.cell(row["keys"]),
        rx.table.cell(
            rx.cond(
                AuthState.can_write,
                rx.hstack(
                    rx.button(
                        "Rename",
                        variant="soft",
                        size="2",
                        on_click=state.start_rename(name),
                        aria_label="Rename " + name,
                        **_CONTROL,
                    ),
                    rx.button(
                        "Delete",
                        variant="soft",
                        color_scheme="red",
                        size="2",
                        on_click=state.delete(name),
                        aria_label="Delete " + name,
                        **_CONTROL,
                    ),
                    spacing="2",
                ),
            )
        ),
    )


def _rename_dialog() -> rx.Component:
    state = PermissionCatalogueState
    return form_dialog(
        "Rename permission",
        rx.text("Every key carrying ", rx.code(state.renaming), " gets the new name."),
        labelled_field(
            "New name",
            rx.input(
                value=state.rename_to,
                on_change=state.set_rename_to,
                id="permission-rename-name",
                width="100%",
                aria_invalid=rx.cond(state.rename_error != "", "true", "false"),
            ),
            html_for="permission-rename-name",
        ),
        rx.cond(
            state.rename_error != "",
            rx.text(
                state.rename_error,
                color=rx.color("red", 11),
                size="1",
                role="alert",
                id="permission-rename-error",
            ),
        ),
        dialog_footer(
            "permission-rename-cancel",
            rx.button("Rename", type="submit", id="permission-rename-submit"),
            width="100%",
        ),
        open=state.open,
        on_open_change=state.set_open,
        on_submit=lambda _form: state.rename(),
        id="permission-rename-dialog",
    )


def permission_catalogue() -> rx.Component:
    state = PermissionCatalogueState
    add_form = rx.form(
        rx.hstack(
            rx.input(
                name="name",
                id="permission-new-name",
                placeholder="e.g. documents.read",
                aria_label="New permission name",
                aria_invalid=invalid_if(state.error_field, "permissions"),
                min_height=rx.breakpoints(initial="46px", sm="32px"),  # its <input>: 44 px on a phone,
            ),
            rx.button("Add permission", type="submit", id="permission-add", **_CONTROL),
            wrap="wrap",
        ),
        on_submit=state.add,
        reset_on_submit=True,
    )
    return rx.vstack(
        rx.heading("Permissions", size="4", as_="h2"),
        rx.text("The names keys may carry (set on a key in its Limits and permissions section).", size="2"),
        rx.cond(AuthState.can_write, add_form),
        rx.cond(
            state.error != "",
            rx.text(state.error, color=rx.color("red", 11), size="2", role="alert", id="permissions-error"),
        ),
        rx.cond(
            state.rows.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        rx.table.column_header_cell("Name"),
                        rx.table.column_header_cell("Keys"),
                        rx.table.column_header_cell(""),
                    )
                ),
                rx.table.body(rx.foreach(state.rows, _row)),
                id="permissions-table",
                width="100%",
            ),
            rx.text("No permissions yet.", size="2", id="no-permissions"),
        ),
        _rename_dialog(),
        width="100%",
        id="permission-catalogue",
    )
