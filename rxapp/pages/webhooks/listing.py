"""The Webhooks table (one row per endpoint, its notice when disabled) and the delete confirmation."""

from __future__ import annotations

import dataclasses

import reflex as rx

from rxapp.components.dialogs import DialogOpen, confirm_delete_dialog
from rxapp.components.page import PHONE_TARGET, data_table, empty_state
from rxapp.components.row_actions import row_button
from rxapp.components.timefmt import exact_utc
from rxapp.services.webhooks import endpoints as endpoint_service
from rxapp.session_guard import Caller
from rxapp.state import AuthState, Refusal, requires_user

HEADERS = ["Endpoint", "Events", "Status", ""]


@dataclasses.dataclass
class EndpointRow:
    endpoint_id: str = ""
    url: str = ""
    description: str = ""
    events: str = ""
    enabled: bool = True
    status: str = ""
    notice: str = ""  # why it is disabled, or since when it fails


class WebhooksTableState(AuthState):
    rows: list[EndpointRow] = []
    is_owner: bool = False

    async def _reload(self, user: Caller) -> None:
        self.is_owner = user.access.can_manage
        if not self.is_owner:
            self.rows = []
            return
        endpoints = await self.in_session(endpoint_service.list_endpoints, user.access)
        self.rows = [
            EndpointRow(
                endpoint_id=e.endpoint_id,
                url=e.url,
                description=e.description,
                events=", ".join(e.events),
                enabled=e.enabled,
                status="Disabled" if not e.enabled else ("Failing" if e.failing_since else "Enabled"),
                notice=(
                    e.disabled_reason
                    if not e.enabled
                    else (
                        f"Deliveries failing since {exact_utc(e.failing_since)}." if e.failing_since else ""
                    )
                ),
            )
            for e in endpoints
        ]

    @rx.event
    @requires_user
    async def load(self, user: Caller):
        await self._reload(user)

    @rx.event
    @requires_user
    async def set_enabled(self, user: Caller, endpoint_id: str, enabled: bool):
        with Refusal(self, message_var="") as refused:
            await self.in_session(
                endpoint_service.update_endpoint,
                user.access,
                user.email,
                endpoint_id,
                enabled=enabled,
                client_address=self.client_address(),
            )
        if refused:
            yield rx.toast.error(refused.message)
            return
        await self._reload(user)
        yield rx.toast.success("Endpoint enabled" if enabled else "Endpoint disabled")


class DeleteWebhookState(DialogOpen, AuthState):
    endpoint_id: str = ""
    url: str = ""
    error: str = ""

    @rx.event
    def start(self, endpoint_id: str, url: str):
        self.endpoint_id, self.url, self.error, self.open = endpoint_id, url, "", True

    @rx.event
    @requires_user
    async def confirm(self, user: Caller):
        with Refusal(self) as refused:
            await self.in_session(
                endpoint_service.delete_endpoint,
                user.access,
                user.email,
                self.endpoint_id,
                client_address=self.client_address(),
            )
        if refused:
            return
        self.open = False
        table = await self.get_state(WebhooksTableState)
        await table._reload(user)
        yield rx.toast.success("Webhook endpoint deleted")


def endpoint_row(row: EndpointRow, deliveries_start, roll_start) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.code(row.url, variant="ghost", overflow_wrap="anywhere"),
                rx.cond(
                    row.description != "", rx.text(row.description, size="1", color=rx.color("gray", 11))
                ),
                rx.cond(
                    row.notice != "",
                    rx.text(
                        row.notice,
                        size="1",
                        color=rx.color("red", 11),
                        id="webhook-notice-" + row.endpoint_id,
                    ),
                ),
                spacing="1",
            ),
            max_width="420px",
        ),
        rx.table.cell(rx.text(row.events, size="1"), max_width="240px"),
        rx.table.cell(
            rx.badge(
                row.status,
                color_scheme=rx.match(row.status, ("Enabled", "green"), ("Failing", "amber"), "gray"),
                high_contrast=True,
            )
        ),
        rx.table.cell(
            rx.hstack(
                rx.button(
                    "Deliveries",
                    size="1",
                    variant="soft",
                    on_click=deliveries_start(row.endpoint_id, row.url),
                    id="webhook-deliveries-" + row.endpoint_id,
                    min_height=PHONE_TARGET,
                ),
                rx.button(
                    "Roll secret",
                    size="1",
                    variant="soft",
                    on_click=roll_start(row.endpoint_id, row.url),
                    id="webhook-roll-" + row.endpoint_id,
                    min_height=PHONE_TARGET,
                ),
                rx.cond(
                    row.enabled,
                    row_button(
                        "Disable",
                        WebhooksTableState.set_enabled(row.endpoint_id, False),
                        "webhook-disable-" + row.endpoint_id,
                        min_height=PHONE_TARGET,
                    ),
                    row_button(
                        "Enable",
                        WebhooksTableState.set_enabled(row.endpoint_id, True),
                        "webhook-enable-" + row.endpoint_id,
                        danger=False,
                        min_height=PHONE_TARGET,
                    ),
                ),
                row_button(
                    "Delete",
                    DeleteWebhookState.start(row.endpoint_id, row.url),
                    "webhook-delete-" + row.endpoint_id,
                    aria_label="Delete webhook endpoint " + row.url,
                    min_height=PHONE_TARGET,
                ),
                spacing="2",
                wrap="wrap",
            )
        ),
        id="webhook-row-" + row.endpoint_id,
    )


def webhooks_table(deliveries_start, roll_start) -> rx.Component:
    return rx.cond(
        WebhooksTableState.is_owner,
        rx.cond(
            WebhooksTableState.rows.length() > 0,
            data_table(
                HEADERS,
                WebhooksTableState.rows,
                lambda row: endpoint_row(row, deliveries_start, roll_start),
                "webhooks-table",
            ),
            empty_state(
                "webhook",
                "No webhook endpoints yet",
                "Add one to be told when keys are created, changed, rolled, deleted or about to expire.",
                box_id="webhooks-empty",
            ),
        ),
        empty_state(
            "webhook",
            "Webhooks are managed by owners",
            "Only an owner of this workspace can see and change its webhook endpoints.",
            box_id="webhooks-owners-only",
        ),
    )


def delete_dialog() -> rx.Component:
    state = DeleteWebhookState
    return confirm_delete_dialog(
        title="Delete webhook endpoint?",
        description=rx.text("Events stop going to ", rx.code(state.url), ". Its delivery log goes too."),
        on_confirm=state.confirm,
        open=state.open,
        on_open_change=state.set_open,
        confirm_id="webhook-delete-confirm",
        cancel_id="webhook-delete-cancel",
        error=state.error,
        error_id="webhook-delete-error",
    )
