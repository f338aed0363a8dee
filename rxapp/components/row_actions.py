"""Row actions: the keys and profiles tables' edit pencil and delete trash, and the small text
buttons of the other tables."""

from __future__ import annotations

from typing import Any

import reflex as rx

from rxapp.state import AuthState


def edit_delete_buttons(
    name: Any, edit_id: Any, delete_id: Any, on_edit: Any, on_delete: Any
) -> rx.Component:
    """Icon buttons with a tooltip and an accessible label naming the row; hidden from viewers."""
    return rx.cond(AuthState.can_write, _buttons(name, edit_id, delete_id, on_edit, on_delete))


def _buttons(name: Any, edit_id: Any, delete_id: Any, on_edit: Any, on_delete: Any) -> rx.Component:
    return rx.hstack(
        rx.tooltip(
            rx.icon_button(
                rx.icon("pencil", size=16),
                variant="ghost",
                size="2",
                aria_label="Edit " + name,
                id=edit_id,
                on_click=on_edit,
            ),
            content="Edit",
        ),
        rx.tooltip(
            rx.icon_button(
                rx.icon("trash-2", size=16),
                variant="ghost",
                color_scheme="red",
                size="2",
                aria_label="Delete " + name,
                id=delete_id,
                on_click=on_delete,
            ),
            content="Delete",
        ),
        spacing="3",
    )


def row_button(
    label: Any, on_click: Any, button_id: Any, *, danger: bool = True, **props: Any
) -> rx.Component:
    """A table row's small text action (Revoke, Remove, Disable): red and soft when it takes
    something away, plain when it gives something back (Enable)."""
    style: dict[str, Any] = {"color_scheme": "red", "variant": "soft"} if danger else {}
    return rx.button(label, size="1", on_click=on_click, id=button_id, **style, **props)
