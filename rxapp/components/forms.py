"""Form pieces every page uses: a labelled field with its own error, the form-wide error, choices.

A dialog's state keeps one `error` and the `error_field` it belongs to (the service error's
`field`); each field shows the error when it is its own, and `form_error` shows the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import reflex as rx

LABEL_STYLE = {"font_size": "14px", "font_weight": "500"}


def field_error(message: Any, show: Any) -> rx.Component:
    return rx.cond(show, rx.text(message, color=rx.color("red", 11), size="1", role="alert"))


def labelled_field(
    label: str,
    control: rx.Component,
    *,
    html_for: str = "",
    error: Any = None,
    error_field: Any = None,
    field: str = "",
    required: bool = False,
) -> rx.Component:
    """Label, control, and the error of `field` (shown when `error_field == field`).

    A required field's label carries a red asterisk (the control itself says `aria-required`).
    """
    mark = (
        rx.el.span(" *", color=rx.color("red", 11), aria_hidden="true", class_name="required-mark")
        if required
        else rx.fragment()
    )
    children: list[rx.Component] = [
        rx.el.label(label, mark, html_for=html_for, **LABEL_STYLE)
        if html_for
        else rx.text(label, mark, size="2", weight="medium"),
        control,
    ]
    if error is not None and field:
        children.append(field_error(error, error_field == field))
    return rx.vstack(*children, spacing="1", width="100%")


def invalid_if(error_field: Any, field: str) -> Any:
    """The `aria-invalid` value of a control whose field is `field`."""
    return rx.cond(error_field == field, "true", "false")


def focus_element(element_id: str) -> Any:
    """Move focus to a control (the first invalid field, or a dialog's opener)."""
    return rx.call_script(f"document.getElementById({element_id!r})?.focus()")


def form_error(error: Any, error_field: Any, fields: Iterable[str]) -> rx.Component:
    """The error that belongs to none of the form's `fields` (a conflict, a missing row...)."""
    show = error != ""
    for name in fields:
        show = show & (error_field != name)
    return field_error(error, show)


def choice_items(choices: Mapping[str, str]) -> list[rx.Component]:
    return [rx.select.item(label, value=str(value)) for value, label in choices.items()]


def choice_select(
    choices: Mapping[str, str], value: Any, on_change: Any, select_id: str, **props: Any
) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(id=select_id, **props),
        rx.select.content(*choice_items(choices)),
        value=value,
        on_change=on_change,
    )
