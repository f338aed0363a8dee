"""What the key is and what happened to it: its facts as label/value pairs (a description list)
and its audit trail, worded as the Activity page words it (services/audit_text.py)."""

from __future__ import annotations

import reflex as rx

from rxapp import routes
from rxapp.components.badges import status_badge
from rxapp.components.page import data_table
from rxapp.components.timefmt import local_time, with_utc_title
from rxapp.pages.keys.detail.state import EventRow, KeyDetailState
from rxapp.state import AuthState

LABEL_COLOUR = rx.color("gray", 11)  # gray-10 fails WCAG AA contrast
TRAIL_HEADERS = ["Time", "Actor", "Action", "Detail"]


def _fact(label: str, value: rx.Component | rx.Var | str, fact_id: str) -> rx.Component:
    """One label/value pair: <dt> above <dd> (a <div> groups them, as HTML allows in a <dl>)."""
    return rx.el.div(
        rx.el.dt(label, font_size="var(--font-size-1)", color=LABEL_COLOUR, font_weight="500"),
        rx.el.dd(value, id=fact_id, margin="0", overflow_wrap="anywhere"),
        display="flex",
        flex_direction="column",
        gap="4px",
        min_width="0",
    )


def facts() -> rx.Component:
    state = KeyDetailState
    return rx.el.dl(
        _fact("Name", rx.text(state.name), "detail-key-name"),
        _fact("Key", rx.code(state.masked), "detail-masked"),
        _fact("Key ID", rx.code(state.key_id, variant="ghost"), "detail-key-id"),
        _fact("Status", status_badge(state.status), "detail-status"),
        _fact("Bias Profile", rx.text(state.profile), "detail-profile"),
        _fact("Rate limit", rx.text(state.rate_limit), "detail-rate-limit"),
        _fact("Created (start)", local_time(state.created, state.created_exact), "detail-created"),
        _fact("End date", local_time(state.expires, state.expires_exact), "detail-expires"),
        _fact("Last Used", with_utc_title(state.last_used, state.last_used_exact), "detail-last-used"),
        _fact("Last changed", local_time(state.updated, state.updated_exact), "detail-updated"),
        display="grid",
        grid_template_columns="repeat(auto-fill, minmax(11rem, 1fr))",
        gap="16px 24px",
        width="100%",
        margin="0",
        id="detail-facts",
    )


def _trail_row(event: EventRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(local_time(event.when, event.when_exact, white_space="nowrap")),
        rx.table.cell(event.actor, overflow_wrap="anywhere"),
        rx.table.cell(rx.code(event.action, variant="ghost")),
        rx.table.cell(
            rx.text(
                event.detail,
                rx.cond(
                    event.linked_key != "",
                    rx.link(
                        event.linked_key,
                        href=routes.key_detail(AuthState.current_workspace, event.linked_key),
                        underline="always",
                    ),
                ),
                event.detail_after,
                size="1",
                overflow_wrap="anywhere",
            ),
        ),
    )


def audit_trail() -> rx.Component:
    return rx.vstack(
        rx.heading("Activity", size="4", as_="h2"),
        data_table(TRAIL_HEADERS, KeyDetailState.events, _trail_row, "key-events"),
        width="100%",
    )
