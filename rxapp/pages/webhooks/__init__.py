"""The Webhooks page (owners): the workspace's endpoints, adding one (its signing secret shown
once), rolling a secret, disabling, deleting, and each endpoint's delivery log with Redeliver."""

from __future__ import annotations

import reflex as rx

from rxapp.components.layout import protected_page
from rxapp.components.page import page_header
from rxapp.pages.webhooks.add import AddWebhookState, add_webhook_dialog
from rxapp.pages.webhooks.deliveries import DeliveriesState, deliveries_dialog
from rxapp.pages.webhooks.listing import WebhooksTableState, delete_dialog, webhooks_table

ON_LOAD = [AddWebhookState.forget_reveal, WebhooksTableState.load]


def webhooks_content() -> rx.Component:
    return rx.vstack(
        page_header(
            "Webhooks",
            "Signed HTTP notifications when this workspace's keys change, expire or leak.",
            rx.cond(
                WebhooksTableState.is_owner,
                rx.button(
                    rx.icon("plus", size=16),
                    "Add endpoint",
                    on_click=AddWebhookState.start,
                    id="webhooks-add",
                    size="3",
                ),
            ),
        ),
        webhooks_table(DeliveriesState.start, AddWebhookState.start_roll),
        add_webhook_dialog(),
        deliveries_dialog(),
        delete_dialog(),
        spacing="5",
        width="100%",
    )


def webhooks_page() -> rx.Component:
    return protected_page(webhooks_content())


__all__ = ["ON_LOAD", "webhooks_page"]
