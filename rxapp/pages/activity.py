"""The Activity page: the signed-in user's own audit events, newest first, filterable by key."""

from __future__ import annotations

import dataclasses

import reflex as rx

from rxapp.components.layout import protected_page
from rxapp.components.page import (
    MUTED,
    data_table,
    page_header,
    page_number,
    page_size_choice,
    pagination,
    search_box,
)
from rxapp.components.timefmt import exact_utc, iso, local_time
from rxapp.services import audit
from rxapp.services.access import Access
from rxapp.services.audit_text import event_summary  # one wording for every audit trail
from rxapp.session_guard import Caller
from rxapp.state import AuthState, requires_user

PAGE_SIZE = 50
HEADERS = ["Time", "Event", "Target", "Detail", "Actor", "Client"]


@dataclasses.dataclass
class EventRow:
    when: str = ""  # ISO instant, shown in the reader's zone
    when_exact: str = ""  # the same instant in UTC (hover title)
    actor: str = ""
    action: str = ""
    target: str = ""
    detail: str = ""
    client_address: str = ""


class ActivityState(AuthState):
    events: list[EventRow] = []
    target_filter: str = ""
    page: int = 1
    page_count: int = 1
    page_size: int = PAGE_SIZE
    total: int = 0

    async def _reload(self, access: Access) -> None:
        events, total = await self.in_session(
            audit.list_events,
            access,
            target_id=self.target_filter.strip(),
            page=self.page,
            page_size=self.page_size,
        )
        self.total = total
        self.page_count = max((total + self.page_size - 1) // self.page_size, 1)
        self.events = [
            EventRow(
                when=iso(event.created_at),
                when_exact=exact_utc(event.created_at),
                actor=event.actor,
                action=event.action,
                target=f"{event.target_type} {event.target_id}".strip(),
                detail=event_summary(event.detail, event.occurrences),
                client_address=event.client_address,
            )
            for event in events
        ]

    @rx.event
    @requires_user
    async def load(self, user: Caller):
        self.target_filter = self.router.url.query_parameters.get("key", "")[:100]
        self.page = 1
        await self._reload(user.access)

    @rx.event
    @requires_user
    async def set_target_filter(self, user: Caller, value: str):
        self.target_filter = value[:100]
        self.page = 1
        await self._reload(user.access)

    @rx.event
    @requires_user
    async def go_to_page(self, user: Caller, page: int | str):
        self.page = min(page_number(page), self.page_count)
        await self._reload(user.access)

    @rx.event
    @requires_user
    async def set_page_size(self, user: Caller, value: str):
        self.page_size = page_size_choice(value, PAGE_SIZE)
        self.page = 1
        await self._reload(user.access)


def event_row(row: EventRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            local_time(row.when, row.when_exact, white_space="nowrap", font_size="var(--font-size-2)")
        ),
        rx.table.cell(rx.code(row.action, variant="ghost")),
        rx.table.cell(row.target, overflow_wrap="anywhere"),
        rx.table.cell(rx.text(row.detail, size="1", overflow_wrap="anywhere"), max_width="420px"),
        rx.table.cell(row.actor, overflow_wrap="anywhere"),
        rx.table.cell(row.client_address, overflow_wrap="anywhere"),
    )


def activity_content() -> rx.Component:
    state = ActivityState
    return rx.vstack(
        page_header(
            "Activity", "Everything that happened to your account, keys and profiles. Kept permanently."
        ),
        search_box(
            state.target_filter,
            state.set_target_filter,
            placeholder="Filter by key ID (e.g. key_…)",
            input_id="activity-filter",
            label="Filter by key ID",
            icon="filter",
            width="320px",
        ),
        data_table(HEADERS, state.events, event_row, "activity-table"),
        pagination(
            rx.text(state.total, " events", size="2", color=MUTED),
            state.page,
            state.page_count,
            state.go_to_page,
            prev_id="activity-prev",
            next_id="activity-next",
            indicator_id="activity-page-indicator",
            page_size=state.page_size,
            set_page_size=state.set_page_size,
        ),
        spacing="4",
        width="100%",
    )


def activity_page() -> rx.Component:
    return protected_page(activity_content())
