"""Dialog pieces: the open/close state every dialog shares, the Cancel + primary footer, and the
one confirm-delete dialog."""

from __future__ import annotations

from typing import Any

import reflex as rx


class DialogOpen(rx.State, mixin=True):
    """`open` and `set_open` (the dialog's on_open_change) for a dialog's own substate:
    `class DeleteKeyState(DialogOpen, AuthState)`. A mixin, so each dialog keeps its own flag."""

    open: bool = False

    @rx.event
    def set_open(self, is_open: bool):
        self.open = is_open


def cancel_button(button_id: str) -> rx.Component:
    # type="button": inside a form, Enter submits the form and Cancel never does
    return rx.button("Cancel", variant="soft", color_scheme="gray", id=button_id, type="button")


def dialog_footer(
    cancel_id: str, primary: rx.Component, *, alert: bool = False, **props: Any
) -> rx.Component:
    """Cancel (closes the dialog without an event) on the left of the primary action."""
    close = rx.alert_dialog.cancel if alert else rx.dialog.close
    return rx.hstack(close(cancel_button(cancel_id)), primary, justify="end", spacing="3", **props)


def confirm_delete_dialog(
    *,
    title: str,
    description: rx.Component,
    on_confirm: Any,
    open: Any,
    on_open_change: Any,
    confirm_id: str,
    cancel_id: str,
    body: rx.Component | None = None,
    error: Any = None,
    error_id: str = "",
    confirm_label: str = "Delete",
    confirm_shown: Any = True,
    confirm_disabled: Any = False,
    **content_props: Any,
) -> rx.Component:
    """ "Delete X?" with an optional warning `body`, the refusal `error` (a state var, shown when not
    empty, as a red callout with `error_id`), Cancel and a red Delete (`confirm_label`). When
    `confirm_shown` (a state var) is false the red button is left out: the `body` says why, so
    there is no button that only fails once clicked. `confirm_disabled` (a state var) holds the
    button back until the `body` is filled in (e.g. the name typed to confirm)."""
    # high contrast: white on the solid red falls short of WCAG AA (axe)
    confirm = rx.button(
        confirm_label,
        color_scheme="red",
        high_contrast=True,
        on_click=on_confirm,
        id=confirm_id,
        disabled=confirm_disabled,
    )
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(title),
            rx.alert_dialog.description(description),
            body if body is not None else rx.fragment(),
            rx.cond(
                error != "",
                rx.callout(error, icon="triangle-alert", color_scheme="red", margin_top="3", id=error_id),
            )
            if error is not None
            else rx.fragment(),
            dialog_footer(
                cancel_id,
                confirm if confirm_shown is True else rx.cond(confirm_shown, confirm),
                alert=True,
                margin_top="4",
            ),
            **content_props,
        ),
        open=open,
        on_open_change=on_open_change,
    )


def form_dialog(
    title: Any,
    description: Any,
    *fields: rx.Component,
    open: Any,
    on_open_change: Any,
    max_width: str = "520px",
    spacing: str = "4",
    on_submit: Any = None,
    no_validate: bool = False,
    **content_props: Any,
) -> rx.Component:
    """A dialog holding a form: title, description, the fields (footer last) in one column.

    With `on_submit`, the fields are a real form: Enter in a field submits it (the primary
    button must then be `type="submit"`). `no_validate` leaves every check to the server, so its
    error shows next to the field instead of the browser's bubble (e.g. a date before `min`).
    """
    body = rx.vstack(*fields, spacing=spacing, margin_top="3")
    if on_submit is not None:
        body = rx.form(
            body, on_submit=on_submit, reset_on_submit=False, no_validate=no_validate, width="100%"
        )
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(title),
            rx.dialog.description(description),
            body,
            max_width=max_width,
            **content_props,
        ),
        open=open,
        on_open_change=on_open_change,
    )
