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


PAGE_SIZES = (25, 50, 100)  # the page-size choices every paginated table offers
PHONE_TARGET = rx.breakpoints(initial="44px", sm="32px")  # thumb-sized on a phone


def page_number(value: Any) -> int:
    """A page number typed or picked in the browser: a positive int, 1 for anything odd (the page's
    state then clamps it to the last page)."""
    try:
        return max(int(float(str(value).strip())), 1)
    except (TypeError, ValueError, OverflowError):
        return 1


def page_size_choice(value: Any, default: int = PAGE_SIZES[0]) -> int:
    """One of PAGE_SIZES (anything else falls back to `default`)."""
    try:
        size = int(str(value).strip())
    except (TypeError, ValueError):
        return default
    return size if size in PAGE_SIZES else default


def _page_jump(page: Any, page_count: Any, go_to_page: Callable[[Any], Any]) -> rx.Component:
    """ "Go to page [ ] Go": type a page number, Enter (or Go) jumps there in one step.

    The field is uncontrolled (the browser keeps what is typed, so a slow round trip loses no
    keystroke) and keyed by the page, so it empties once the server has settled on the new page.
    """
    return rx.form(
        rx.hstack(
            rx.el.label("Go to page", html_for="pagination-page-input", font_size="var(--font-size-2)"),
            rx.input(
                type="number",
                name="page",
                key=page.to_string(),
                min=1,
                max=page_count,
                placeholder=page.to_string(),
                id="pagination-page-input",  # 44 px tall on a phone: assets/responsive.css
                width="76px",
            ),
            rx.button(
                "Go",
                type="submit",
                variant="soft",
                color_scheme="gray",
                id="pagination-page-go",
                min_height=PHONE_TARGET,
            ),
            align="center",
            spacing="2",
        ),
        on_submit=lambda form: go_to_page(form.to(dict)["page"]),
        reset_on_submit=True,
        id="pagination-page-form",
    )


def _page_size_picker(page_size: Any, set_page_size: Callable[[Any], Any]) -> rx.Component:
    return rx.hstack(
        rx.text("Per page", size="2", as_="label", html_for="pagination-page-size", white_space="nowrap"),
        rx.select.root(
            rx.select.trigger(
                id="pagination-page-size",
                aria_label="Rows per page",
                min_height=PHONE_TARGET,
            ),
            rx.select.content(*[rx.select.item(str(size), value=str(size)) for size in PAGE_SIZES]),
            value=page_size.to_string(),
            on_change=set_page_size,
        ),
        align="center",
        spacing="2",
    )


def pagination(
    total: rx.Component,
    page: Any,
    page_count: Any,
    go_to_page: Callable[[Any], Any],
    *,
    prev_id: str,
    next_id: str,
    indicator_id: str | None = None,
    page_size: Any = None,
    set_page_size: Callable[[Any], Any] | None = None,
) -> rx.Component:
    """`total` text and the page-size choice on the left; Previous, "Page n of m", Next and a
    "Go to page" field (any page in one step) on the right. On a narrow screen the controls wrap
    below the total rather than overflow it."""
    size_picker = (
        _page_size_picker(page_size, set_page_size)
        if page_size is not None and set_page_size is not None
        else rx.fragment()
    )
    return rx.hstack(
        rx.hstack(rx.box(total, white_space="nowrap"), size_picker, align="center", spacing="4", wrap="wrap"),
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
                min_height=PHONE_TARGET,
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
                min_height=PHONE_TARGET,
            ),
            _page_jump(page, page_count, go_to_page),
            align="center",
            spacing="3",
            wrap="wrap",
        ),
        width="100%",
        align="center",
        spacing="3",
        flex_wrap="wrap",
        id="pagination",
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
