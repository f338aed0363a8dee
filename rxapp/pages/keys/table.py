"""The keys table as seen: toolbar (search, filters, sort), rows, empty state, pagination."""

from __future__ import annotations

import reflex as rx

from rxapp import routes
from rxapp.components.badges import status_badge
from rxapp.components.clipped import clipped_text
from rxapp.components.forms import choice_items, choice_select
from rxapp.components.page import MUTED, data_table, empty_state, for_role, pagination, search_box
from rxapp.components.row_actions import MenuAction, actions_menu, edit_delete_buttons
from rxapp.components.timefmt import local_time, with_utc_title
from rxapp.pages.keys.create import CreateKeyState
from rxapp.pages.keys.delete import DeleteKeyState
from rxapp.pages.keys.edit import EditKeyState
from rxapp.pages.keys.listing import KeyRow, KeysTableState
from rxapp.pages.keys.roll import RollKeyState
from rxapp.services import keys as key_service
from rxapp.services import rolling
from rxapp.state import AuthState

HEADERS = [
    "API Key ID",
    "Name",
    "API Key",
    "Status",
    "Last Used",
    "Bias Profile",
    "Expires",
    "Calls, 7 days",
    "Actions",
]
REFRESH_MILLISECONDS = 3000


def toolbar() -> rx.Component:
    state = KeysTableState
    return rx.hstack(
        search_box(
            state.search,
            state.set_search,
            placeholder="Search by name, key ID, last four or whole key",
            input_id="search-keys",
            label="Search keys",
            width="280px",
            max_length=key_service.SEARCH_MAX_LENGTH,
        ),
        choice_select(
            key_service.STATUS_CHOICES,
            state.status_filter,
            state.set_status_filter,
            "status-filter",
            aria_label="Filter by status",
        ),
        rx.select.root(
            rx.select.trigger(id="profile-filter", aria_label="Filter by Bias Profile"),
            rx.select.content(
                *choice_items(
                    {
                        key_service.ProfileScope.ALL: "All profiles",
                        key_service.ProfileScope.NONE: "No profile",
                    }
                ),
                rx.foreach(
                    state.profile_options, lambda option: rx.select.item(option.label, value=option.value)
                ),
            ),
            value=state.profile_filter,
            on_change=state.set_profile_filter,
        ),
        search_box(
            state.identity_filter,
            state.set_identity_filter,
            placeholder="Identity",
            input_id="keys-filter-identity",
            label="Filter by identity (external id)",
            icon="user",
            width="160px",
            min_height=rx.breakpoints(
                initial="46px", sm="32px"
            ),  # thumb-sized on a phone (its <input>: 44 px)
            max_length=key_service.SEARCH_MAX_LENGTH,
        ),
        rx.spacer(),
        rx.text("Sort by", size="2", color=MUTED),
        choice_select(
            key_service.SORT_CHOICES, state.sort, state.set_sort, "sort-keys", aria_label="Sort by"
        ),
        rx.tooltip(
            rx.icon_button(
                rx.cond(
                    state.descending,
                    rx.icon("arrow-down-wide-narrow", size=16),
                    rx.icon("arrow-up-narrow-wide", size=16),
                ),
                variant="soft",
                color_scheme="gray",
                on_click=state.toggle_direction,
                id="sort-direction",
                aria_label=rx.cond(state.descending, "Sorted descending", "Sorted ascending"),
            ),
            content=rx.cond(state.descending, "Descending", "Ascending"),
        ),
        width="100%",
        spacing="3",
        align="center",
        wrap="wrap",
    )


def key_row(row: KeyRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(row.key_id, variant="ghost", size="2")),
        rx.table.cell(
            rx.link(
                clipped_text(row.name, weight="medium"),
                href=routes.key_detail(AuthState.current_workspace, row.key_id),
                id="link-" + row.key_id,
            ),
            rx.cond(
                row.rolling_note != "",
                rx.text(
                    with_utc_title(row.rolling_note, row.rolling_exact),
                    size="1",
                    color=rx.color("gray", 10),
                    id="rolling-" + row.key_id,
                ),
            ),
            id="name-" + row.key_id,
        ),
        rx.table.cell(rx.code(row.masked, size="2"), id="masked-" + row.key_id),
        rx.table.cell(status_badge(row.status), id="status-" + row.key_id),
        rx.table.cell(
            with_utc_title(row.last_used, row.last_used_exact, font_size="var(--font-size-2)"),
            rx.cond(
                row.unused,
                rx.badge(
                    "Unused 90+ days", color_scheme="amber", variant="outline", size="1", margin_left="1"
                ),
            ),
            rx.cond(
                row.idle_on != "",
                rx.badge(
                    "Disabled on ",
                    local_time(row.idle_on, row.idle_on_exact, time_format="YYYY-MM-DD"),
                    " if still unused",
                    color_scheme="amber",
                    size="1",
                    margin_left="1",
                    id="idle-warning-" + row.key_id,
                ),
            ),
            id="last-used-" + row.key_id,
        ),
        rx.table.cell(clipped_text(row.profile, size="2"), id="profile-" + row.key_id),
        rx.table.cell(
            local_time(
                row.expires_at,
                row.expires_exact,
                fallback="Never",
                element_id="expires-at-" + row.key_id,
                font_size="var(--font-size-2)",
            ),
            rx.cond(
                row.expiring_soon, rx.badge("Expires soon", color_scheme="orange", size="1", margin_left="1")
            ),
            id="expires-" + row.key_id,
        ),
        rx.table.cell(row.calls_7d, id="calls-" + row.key_id),
        rx.table.cell(
            rx.hstack(
                edit_delete_buttons(
                    row.name,
                    "edit-" + row.key_id,
                    "delete-" + row.key_id,
                    EditKeyState.start(row.key_id),
                    DeleteKeyState.start(row.key_id),
                ),
                rx.cond(
                    AuthState.can_write,
                    rx.tooltip(
                        rx.icon_button(
                            rx.icon("rotate-cw", size=16),
                            variant="ghost",
                            size="2",
                            aria_label=rx.cond(
                                row.status == "EXPIRED",
                                "Roll " + row.name + ": " + rolling.EXPIRED_REFUSAL,
                                "Roll " + row.name,
                            ),
                            id="roll-" + row.key_id,
                            on_click=RollKeyState.start(row.key_id),
                            disabled=row.status == "EXPIRED",
                        ),
                        content=rx.cond(row.status == "EXPIRED", rolling.EXPIRED_REFUSAL, "Roll key"),
                    ),
                ),
                rx.cond(
                    AuthState.can_write,
                    actions_menu(
                        row.name,
                        "actions-" + row.key_id,
                        [
                            MenuAction(
                                "Edit", "pencil", EditKeyState.start(row.key_id), "menu-edit-" + row.key_id
                            ),
                            MenuAction(
                                "Roll key…",
                                "rotate-cw",
                                RollKeyState.start(row.key_id),
                                "menu-roll-" + row.key_id,
                                disabled=row.status == "EXPIRED",
                                reason=rx.cond(row.status == "EXPIRED", rolling.EXPIRED_REFUSAL, ""),
                            ),
                            MenuAction(
                                "Delete",
                                "trash-2",
                                DeleteKeyState.start(row.key_id),
                                "menu-delete-" + row.key_id,
                                danger=True,
                            ),
                        ],
                    ),
                ),
                spacing="3",
                class_name="row-actions",
            )
        ),
        id="row-" + row.key_id,
    )


def secret_search_note() -> rx.Component:
    """Says a pasted whole key was looked up (by its digest) and not kept."""
    state = KeysTableState
    return rx.cond(
        state.found_by_secret,
        rx.text(
            rx.cond(
                state.secret_key_id != "",
                "Found by its secret: " + state.secret_key_id + " (the secret was not stored)",
                "No key in this workspace has that secret (the secret was not stored)",
            ),
            size="2",
            color=MUTED,
            id="secret-search-note",
        ),
    )


def keys_table() -> rx.Component:
    state = KeysTableState
    return rx.vstack(
        toolbar(),
        secret_search_note(),
        data_table(HEADERS, state.rows, key_row, "keys-table"),
        rx.cond(
            state.total == 0,
            rx.text("No keys match your search or filters.", color=MUTED, id="no-matches"),
        ),
        pagination(
            rx.text(
                state.total,
                rx.cond(state.total == 1, " key", " keys"),
                size="2",
                color=MUTED,
                id="keys-total",
            ),
            state.page,
            state.page_count,
            state.go_to_page,
            prev_id="page-prev",
            next_id="page-next",
            indicator_id="page-indicator",
            page_size=state.page_size,
            set_page_size=state.set_page_size,
        ),
        spacing="3",
        width="100%",
    )


def refresh_timer() -> rx.Component:
    """A pooled client-side timer: each open tab asks for one small page query every few seconds."""
    return rx.moment(
        interval=REFRESH_MILLISECONDS, on_change=KeysTableState.refresh, display="none", id="keys-refresh"
    )


def no_keys_yet() -> rx.Component:
    return empty_state(
        "key-round",
        "No API keys yet",
        for_role(
            AuthState.can_write,
            "Create a key for each application that calls the service.",
            "You have the viewer role here: keys are created by the workspace's owners and members."
            " Ask one of them to create a key; it will show up here.",
        ),
        rx.cond(
            AuthState.can_write,
            rx.button(
                rx.icon("plus", size=16),
                "Create your first API key",
                on_click=CreateKeyState.start,
                id="create-first-key",
            ),
        ),
        box_id="keys-empty",
    )
