"""Delete API key: a warning (permanent, services stop at once), then the row is gone. Opened from
the key's own page (`start_from_key_page`), the deletion returns to the keys list."""

from __future__ import annotations

import reflex as rx

from rxapp import routes
from rxapp.components.dialogs import DialogOpen, confirm_delete_dialog
from rxapp.pages.keys.listing import reload_table
from rxapp.services import keys as key_service
from rxapp.session_guard import Caller
from rxapp.state import AuthState, requires_user


class DeleteKeyState(DialogOpen, AuthState):
    key_id: str = ""
    key_name: str = ""
    from_key_page: bool = False  # opened on the key's page: after deleting, back to the list

    @rx.event
    @requires_user
    async def start(self, user: Caller, key_id: str):
        await self._open(user, key_id, from_key_page=False)

    @rx.event
    @requires_user
    async def start_from_key_page(self, user: Caller, key_id: str):
        await self._open(user, key_id, from_key_page=True)

    async def _open(self, user: Caller, key_id: str, *, from_key_page: bool) -> None:
        key = await self.in_session(key_service.get_key, user.access, key_id)  # not found: a toast
        self.key_id, self.key_name, self.open = key.key_id, key.name, True
        self.from_key_page = from_key_page

    @rx.event
    @requires_user
    async def confirm(self, user: Caller):
        self.open = False
        await self.in_session(
            key_service.delete_key, user.access, user.email, self.key_id, client_address=self.client_address()
        )
        await reload_table(self, user)
        done = rx.toast.success(f"Deleted {self.key_name}")
        if self.from_key_page:
            self.from_key_page = False
            return [rx.redirect(routes.in_workspace(self.current_workspace, routes.KEYS)), done]
        return done


def _warning() -> rx.Component:
    return rx.callout.root(
        rx.callout.icon(rx.icon("triangle-alert")),
        rx.vstack(
            rx.text("Warning", weight="bold", size="2"),
            rx.el.ul(
                rx.el.li("Deletion is permanent and cannot be undone"),
                rx.el.li("All services using this key will stop working immediately"),
                rx.el.li("Make sure to update any applications using the deleted key"),
                class_name="bulleted",
            ),
            spacing="1",
            font_size="14px",
        ),
        color_scheme="red",
        margin_top="3",
        id="delete-warning",
    )


def delete_dialog() -> rx.Component:
    return confirm_delete_dialog(
        title="Delete API key?",
        description=rx.text(
            "You are about to delete ",
            rx.text.strong(DeleteKeyState.key_name),
            " (",
            rx.code(DeleteKeyState.key_id),
            ").",
        ),
        body=_warning(),
        on_confirm=DeleteKeyState.confirm,
        open=DeleteKeyState.open,
        on_open_change=DeleteKeyState.set_open,
        confirm_id="confirm-delete",
        cancel_id="delete-cancel",
        max_width="480px",
    )
