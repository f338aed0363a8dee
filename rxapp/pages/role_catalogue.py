"""The Roles part of the workspace's permission catalogue (issue 24), on the Members page: named
sets of the catalogue's permissions that keys may be given. Members who may write create a role,
rename it and choose its permissions in one dialog, and delete it (refused while keys have it).
A change reaches every key with the role on its next verification (services/roles.py).
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from rxapp.components.dialogs import DialogOpen, dialog_footer, form_dialog
from rxapp.components.forms import labelled_field
from rxapp.services import identities, roles
from rxapp.session_guard import Caller
from rxapp.state import AuthState, Refusal, requires_user

_CONTROL = {"min_height": rx.breakpoints(initial="44px", sm="32px")}


class RoleCatalogueState(DialogOpen, AuthState):
    rows: list[dict[str, str]] = []  # name, permissions (joined), keys (how many have it)
    error: str = ""  # a delete's refusal, shown above the table
    editing: str = ""  # the role the dialog changes ("" makes a new one)
    role_name: str = ""
    chosen: list[str] = []  # the permissions ticked in the dialog
    options: list[str] = []  # the catalogue's permissions (and the role's own)
    dialog_error: str = ""

    async def _reload(self, user: Caller) -> None:
        found = await self.in_session(roles.list_roles, user.access)
        self.rows = [
            {
                "name": role.name,
                "permissions": ", ".join(role.permissions) or "None",
                "keys": str(role.key_count),
            }
            for role in found
        ]

    @rx.event
    @requires_user
    async def load(self, user: Caller):
        self.error = ""
        await self._reload(user)

    async def _open(self, user: Caller, name: str, chosen: list[str]) -> None:
        names = await self.in_session(identities.list_permissions, user.access)
        self.options = sorted({permission.name for permission in names} | set(chosen))
        self.editing, self.role_name, self.chosen, self.dialog_error = name, name, sorted(chosen), ""
        self.open = True

    @rx.event
    @requires_user
    async def start_new(self, user: Caller):
        await self._open(user, "", [])

    @rx.event
    @requires_user
    async def start_edit(self, user: Caller, name: str):
        role = await self.in_session(roles.get_role, user.access, name)
        await self._open(user, role.name, list(role.permissions))

    @rx.event
    def set_role_name(self, value: str):
        self.role_name = value[:200]

    @rx.event
    def toggle(self, name: str, checked: bool):
        chosen = set(self.chosen)
        if checked:
            chosen.add(name)
        else:
            chosen.discard(name)
        self.chosen = sorted(chosen)

    @rx.event
    @requires_user
    async def save(self, user: Caller):
        name = self.role_name.strip()
        with Refusal(self, "dialog_error", "") as refused:
            if self.editing:
                await self.in_session(
                    roles.update_role,
                    user.access,
                    user.email,
                    self.editing,
                    new_name=name,
                    permissions=list(self.chosen),
                )
            else:
                await self.in_session(
                    roles.create_role, user.access, user.email, name, permissions=list(self.chosen)
                )
        if refused:
            return None
        self.open = False
        self.error = ""
        await self._reload(user)
        return rx.toast.success(f"Saved role {name}")

    @rx.event
    @requires_user
    async def delete(self, user: Caller, name: str):
        with Refusal(self, "error", "") as refused:
            await self.in_session(roles.delete_role, user.access, user.email, name)
        if refused:
            return None
        self.error = ""
        await self._reload(user)
        return rx.toast.success(f"Deleted role {name}")


def _row(row: Any) -> rx.Component:
    state = RoleCatalogueState
    name = row["name"].to(str)
    return rx.table.row(
        rx.table.cell(rx.code(name)),
        rx.table.cell(rx.text(row["permissions"], size="2")),
        rx.table.cell(row["keys"]),
        rx.table.cell(
            rx.cond(
                AuthState.can_write,
                rx.hstack(
                    rx.button(
                        "Edit",
                        variant="soft",
                        size="2",
                        on_click=state.start_edit(name),
                        aria_label="Edit role " + name,
                        **_CONTROL,
                    ),
                    rx.button(
                        "Delete",
                        variant="soft",
                        color_scheme="red",
                        size="2",
                        on_click=state.delete(name),
                        aria_label="Delete role " + name,
                        **_CONTROL,
                    ),
                    spacing="2",
                ),
            )
        ),
    )


def _permission_box(name: rx.Var) -> rx.Component:
    state = RoleCatalogueState
    return rx.el.label(
        rx.checkbox(
            checked=state.chosen.contains(name),
            aria_label=name,  # axe: the wrapping label does not name Radix's button role=checkbox
            on_change=lambda checked: state.toggle(name, checked),
        ),
        rx.text(name, size="2"),
        display="inline-flex",
        align_items="center",
        gap="6px",
        min_height="44px",
        padding_right="12px",
    )


def _role_dialog() -> rx.Component:
    state = RoleCatalogueState
    return form_dialog(
        rx.cond(state.editing != "", "Edit role", "New role"),
        "A role is a named set of the catalogue's permissions; keys given it verify with all of them.",
        labelled_field(
            "Name",
            rx.input(
                value=state.role_name,
                on_change=state.set_role_name,
                id="role-name",
                placeholder="e.g. editor",
                width="100%",
                aria_invalid=rx.cond(state.dialog_error != "", "true", "false"),
            ),
            html_for="role-name",
        ),
        rx.el.fieldset(
            rx.el.legend("Permissions", style={"font_size": "var(--font-size-2)", "font_weight": "500"}),
            rx.cond(
                state.options.length() > 0,
                rx.el.div(
                    rx.foreach(state.options, _permission_box),
                    display="flex",
                    flex_wrap="wrap",
                ),
                rx.text("No permissions in the catalogue yet: add some above.", size="2"),
            ),
            id="role-permissions",
            style={"border": "none", "padding": "0", "margin": "0"},
        ),
        rx.cond(
            state.dialog_error != "",
            rx.text(state.dialog_error, color=rx.color("red", 11), size="1", role="alert", id="role-error"),
        ),
        dialog_footer(
            "role-cancel",
            rx.button("Save role", type="submit", id="role-submit"),
            width="100%",
        ),
        open=state.open,
        on_open_change=state.set_open,
        on_submit=lambda _form: state.save(),
        id="role-dialog",
    )


def role_catalogue() -> rx.Component:
    state = RoleCatalogueState
    return rx.vstack(
        rx.heading("Roles", size="4", as_="h2"),
        rx.text(
            "Named sets of permissions; a key given a role verifies with its permissions too.",
            size="2",
        ),
        rx.cond(
            AuthState.can_write,
            rx.button("New role", on_click=state.start_new, id="role-new", **_CONTROL),
        ),
        rx.cond(
            state.error != "",
            rx.text(state.error, color=rx.color("red", 11), size="2", role="alert", id="roles-error"),
        ),
        rx.cond(
            state.rows.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        rx.table.column_header_cell("Name"),
                        rx.table.column_header_cell("Permissions"),
                        rx.table.column_header_cell("Keys"),
                        rx.table.column_header_cell(""),
                    )
                ),
                rx.table.body(rx.foreach(state.rows, _row)),
                id="roles-table",
                width="100%",
            ),
            rx.text("No roles yet.", size="2", id="no-roles"),
        ),
        _role_dialog(),
        width="100%",
        id="role-catalogue",
    )
