"""Row actions: the keys and profiles tables' edit pencil and delete trash, the keys table's "…"
menu naming each action in words, and the small text buttons of the other tables."""

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


class MenuAction:
    """One entry of a row's "…" menu: its words, its icon, what it does, its element id."""

    def __init__(
        self,
        label: str,
        icon: str,
        on_select: Any,
        item_id: Any,
        *,
        danger: bool = False,
        disabled: Any = False,
        reason: Any = "",
    ) -> None:
        self.label, self.icon, self.on_select, self.item_id = label, icon, on_select, item_id
        # `reason`: why the action is unavailable, shown under its words (a disabled item says why)
        self.danger, self.disabled, self.reason = danger, disabled, reason


def actions_menu(name: Any, trigger_id: Any, actions: list[MenuAction]) -> rx.Component:
    """A "…" button labelled "Actions for <name>" opening a menu of the row's actions in words, with
    the icons the row shows beside them (a keyboard opens it with Enter, Space or the down arrow)."""
    return rx.menu.root(
        rx.menu.trigger(
            rx.icon_button(
                rx.icon("ellipsis", size=16),
                variant="ghost",
                color_scheme="gray",
                size="2",
                aria_label="Actions for " + name,
                id=trigger_id,
                class_name="row-menu-trigger",
            )
        ),
        rx.menu.content(
            *[
                rx.menu.item(
                    rx.hstack(
                        rx.icon(action.icon, size=16),
                        rx.vstack(
                            rx.text(action.label),
                            rx.cond(
                                action.reason != "",
                                rx.text(action.reason, size="1", color_scheme="gray", white_space="normal"),
                            ),
                            spacing="0",
                        ),
                        spacing="2",
                        align="center",
                    ),
                    on_select=action.on_select,
                    id=action.item_id,
                    disabled=action.disabled,
                    **({"color_scheme": "red"} if action.danger else {}),
                )
                for action in actions
            ],
        ),
        # not modal: a modal menu hides the rest of the page from assistive technology with
        # aria-hidden while its controls stay focusable (axe: aria-hidden-focus)
        modal=False,
    )


def row_button(
    label: Any, on_click: Any, button_id: Any, *, danger: bool = True, **props: Any
) -> rx.Component:
    """A table row's small text action (Revoke, Remove, Disable): red and soft when it takes
    something away, plain when it gives something back (Enable)."""
    style: dict[str, Any] = {"color_scheme": "red", "variant": "soft"} if danger else {}
    return rx.button(label, size="1", on_click=on_click, id=button_id, **style, **props)
