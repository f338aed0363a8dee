"""An endpoint's delivery log (newest first: event, status, HTTP status, latency, response
excerpt) with Redeliver on each delivery, in its own dialog."""

from __future__ import annotations

import dataclasses

import reflex as rx

from rxapp.components.page import PHONE_TARGET, data_table
from rxapp.components.timefmt import exact_utc
from rxapp.services.webhooks import endpoints as endpoint_service
from rxapp.session_guard import Caller
from rxapp.state import AuthState, Refusal, requires_user

HEADERS = ["Event", "Status", "HTTP", "Latency", "Attempted", "Response", ""]


@dataclasses.dataclass
class DeliveryRow:
    delivery_id: str = ""
    event_type: str = ""
    status: str = ""
    http: str = ""
    latency: str = ""
    attempted: str = ""
    response: str = ""


class DeliveriesState(AuthState):
    open: bool = False
    endpoint_id: str = ""
    url: str = ""
    rows: list[DeliveryRow] = []
    error: str = ""

    async def _reload(self, user: Caller) -> None:
        with Refusal(self) as refused:
            deliveries = await self.in_session(
                endpoint_service.list_deliveries, user.access, self.endpoint_id
            )
        if refused:
            self.rows = []
            return
        self.error = ""
        self.rows = [
            DeliveryRow(
                delivery_id=d.delivery_id,
                event_type=d.event_type,
                status=d.status.capitalize() + (f" ({d.attempts} attempts)" if d.attempts > 1 else ""),
                http="" if d.status_code is None else str(d.status_code),
                latency="" if d.latency_ms is None else f"{d.latency_ms} ms",
                attempted=exact_utc(d.last_attempt_at) if d.last_attempt_at else "Not yet",
                response=(d.response_excerpt or d.error)[:200],
            )
            for d in deliveries
        ]

    @rx.event
    @requires_user
    async def start(self, user: Caller, endpoint_id: str, url: str):
        self.endpoint_id, self.url, self.rows, self.open = endpoint_id, url, [], True
        await self._reload(user)

    @rx.event
    @requires_user
    async def refresh(self, user: Caller):
        await self._reload(user)

    @rx.event
    def set_open(self, is_open: bool):
        self.open = is_open

    @rx.event
    @requires_user
    async def redeliver(self, user: Caller, delivery_id: str):
        with Refusal(self) as refused:
            await self.in_session(
                endpoint_service.redeliver,
                user.access,
                user.email,
                self.endpoint_id,
                delivery_id,
                client_address=self.client_address(),
            )
        if refused:
            return
        await self._reload(user)
        yield rx.toast.success("Queued to be sent again")


def _row(row: DeliveryRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(row.event_type, variant="ghost")),
        rx.table.cell(rx.text(row.status, size="2"), id="webhook-delivery-status-" + row.delivery_id),
        rx.table.cell(rx.text(row.http, size="2")),
        rx.table.cell(rx.text(row.latency, size="2", white_space="nowrap")),
        rx.table.cell(rx.text(row.attempted, size="2", white_space="nowrap")),
        rx.table.cell(rx.text(row.response, size="1", overflow_wrap="anywhere"), max_width="220px"),
        rx.table.cell(
            rx.button(
                "Redeliver",
                size="1",
                variant="soft",
                on_click=DeliveriesState.redeliver(row.delivery_id),
                id="webhook-redeliver-" + row.delivery_id,
                aria_label="Redeliver " + row.event_type,
                min_height=PHONE_TARGET,
            )
        ),
        id="webhook-delivery-" + row.delivery_id,
    )


def deliveries_dialog() -> rx.Component:
    state = DeliveriesState
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Deliveries"),
            rx.dialog.description(
                "The newest deliveries to ", rx.code(state.url), ", with their latest attempt."
            ),
            rx.cond(state.error != "", rx.callout(state.error, icon="triangle-alert", color_scheme="red")),
            rx.box(
                rx.cond(
                    state.rows.length() > 0,
                    data_table(HEADERS, state.rows, _row, "webhook-deliveries-table"),
                    rx.text("No deliveries yet.", size="2", id="webhook-deliveries-empty"),
                ),
                margin_y="3",
                overflow_x="auto",
            ),
            rx.hstack(
                rx.button(
                    rx.icon("refresh-cw", size=16),
                    "Refresh",
                    variant="soft",
                    on_click=state.refresh,
                    id="webhook-deliveries-refresh",
                ),
                rx.dialog.close(
                    rx.button("Close", variant="soft", color_scheme="gray", id="webhook-deliveries-close")
                ),
                justify="end",
                spacing="3",
                width="100%",
            ),
            max_width="1000px",
            id="webhook-deliveries-dialog",
        ),
        open=state.open,
        on_open_change=state.set_open,
    )
