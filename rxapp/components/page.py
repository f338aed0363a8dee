"""Page pieces: the header with its actions, the empty state, pagination, a data table."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import reflex as rx

from rxapp.state import AuthState

MUTED = rx.color("gray", 11)


def page_header(title: str, subtitle: str = "", *actions: rx.Component) -> rx.Component:
    heading = rx.vstack(
        rx.heading(title, size="7", as_="h1"),
        rx.text(subtitle, color=MUTED, size="2") if subtitle else rx.fragment(),
        spacing="1",
    )
    if not actions:
        return heading
    # side by side on a wide screen; stacked (title, then the actions) on a phone
    return rx.flex(
        heading,
        rx.spacer(display=rx.breakpoints(initial="none", sm="block")),
        rx.hstack(*actions, spacing="3", align="center", wrap="wrap"),
        width="100%",
        direction=rx.breakpoints(initial="column", sm="row"),
        align=rx.breakpoints(initial="start", sm="center"),
        gap="3",
        id="page-header",
    )


def primary_action(label: str, on_click: Any, button_id: str) -> rx.Component:
    """A create button: shown only to roles that may write (the service refuses viewers anyway)."""
    return rx.cond(
        AuthState.can_write,
        rx.button(rx.icon("plus", size=16), label, on_click=on_click, id=button_id, size="3"),
    )


def empty_state(icon: str, heading: str, text: Any, *actions: rx.Component, box_id: str) -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.icon(icon, size=40, color=rx.color("gray", 9)),
            rx.heading(heading, size="4"),
            rx.text(text, color=MUTED, id=box_id + "-text"),
            *actions,
            align="center",
            spacing="3",
        ),
        padding="48px 24px",
        border=f"1px dashed {rx.color('gray', 6)}",
        border_radius="12px",
        width="100%",
        id=box_id,
    )


def for_role(can_create: Any, creator_text: str, viewer_text: str) -> Any:
    """An empty state's sentence: an invitation to create for those who may, and for viewers what
    they can do instead (nothing here only fails once clicked)."""
    return rx.cond(can_create, creator_text, viewer_text)


def pagination(
    total: rx.Component,
    page: Any,
    page_count: Any,
    go_to_page: Callable[[Any], Any],
    *,
    prev_id: str,
    next_id: str,
    indicator_id: str | None = None,
) -> rx.Component:
    """`total` text on the left; Previous, "Page n of m", Next on the right. On a narrow screen the
    three controls move below the total together rather than overflow it."""
    return rx.hstack(
        rx.box(total, white_space="nowrap"),
        rx.spacer(),
        rx.hstack(
            rx.button(
                rx.icon("chevron-left", size=16),
                "Previous",
                variant="soft",
                color_scheme="gray",
                disabled=page <= 1,
                on_click=go_to_page(page - 1),
                id=prev_id,
            ),
            rx.text("Page ", page, " of ", page_count, size="2", id=indicator_id, white_space="nowrap"),
            rx.button(
                "Next",
                rx.icon("chevron-right", size=16),
                variant="soft",
                color_scheme="gray",
                disabled=page >= page_count,
                on_click=go_to_page(page + 1),
                id=next_id,
            ),
            align="center",
            spacing="3",
        ),
        width="100%",
        align="center",
        spacing="3",
        flex_wrap="wrap",
    )


PHONE_MEDIA = "(max-width: 767.98px)"


def _card_labels(table_id: str, headers: Sequence[str]) -> str:
    """On a phone each row is a card (assets/responsive.css); each cell is labelled by its header."""
    rules = " ".join(
        f"#{table_id} td:nth-child({index})::before {{ content: {json.dumps(label)}; }}"
        for index, label in enumerate(headers, start=1)
    )
    return f"@media {PHONE_MEDIA} {{ {rules} }}"


def data_table(
    headers: Sequence[str], rows: Any, render_row: Callable[[Any], rx.Component], table_id: str
) -> rx.Component:
    """A table that is a list of labelled cards below 768 px, so no column is ever cut off."""
    return rx.fragment(
        rx.el.style(_card_labels(table_id, headers)),
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(label) for label in headers])),
            rx.table.body(rx.foreach(rows, render_row)),
            variant="surface",
            width="100%",
            id=table_id,
            class_name="card-table",
        ),
    )


def search_box(
    value: Any,
    on_change: Any,
    *,
    placeholder: str,
    input_id: str,
    label: str,
    icon: str = "search",
    **props: Any,
) -> rx.Component:
    """A debounced text filter: the server is asked once typing pauses, not on every keystroke."""
    return rx.input(
        rx.input.slot(rx.icon(icon, size=16)),
        placeholder=placeholder,
        value=value,
        on_change=on_change.debounce(300),
        id=input_id,
        aria_label=label,
        **props,
    )
