"""Add a webhook endpoint, or roll one's signing secret, and the one-time reveal of the secret
(as for keys and tokens: it reaches the browser once, as a client-side value; the server keeps no
copy in state)."""

from __future__ import annotations

import reflex as rx

from rxapp.components.dialogs import dialog_footer
from rxapp.components.forms import LABEL_STYLE, form_error, labelled_field
from rxapp.components.secret_reveal import CopyTracked, one_time_value, secret_reveal
from rxapp.pages.webhooks.listing import WebhooksTableState
from rxapp.services.webhooks import EVENTS
from rxapp.services.webhooks import endpoints as endpoint_service
from rxapp.session_guard import Caller
from rxapp.state import AuthState, Refusal, requires_user

revealed_webhook_secret = one_time_value("revealed_webhook_secret")
EVENT_LABELS = {
    "key.created": "A key is created",
    "key.updated": "A key is changed",
    "key.rolled": "A key is rolled",
    "key.deleted": "A key is deleted",
    "key.expiring": "A key expires in 30, 7 or 1 days",
    "key.expired": "A key expired",
    "key.leaked": "A key was found leaked",
    "key.credits_low": "A key's credits run low",
    "key.unused_warning": "A key will be disabled soon for being unused (workspace policy)",
}


class AddWebhookState(CopyTracked, AuthState):
    open: bool = False
    rolling: str = ""  # the endpoint whose secret is being rolled ("" when adding)
    rolling_url: str = ""
    url: str = ""
    description: str = ""
    events: list[str] = list(EVENTS)
    error: str = ""
    error_field: str = ""
    revealed_id: str = ""

    @rx.event
    def start(self):
        self.reset()
        self.open = True

    @rx.event
    def start_roll(self, endpoint_id: str, url: str):
        self.reset()
        self.rolling, self.rolling_url, self.open = endpoint_id, url, True

    @rx.event
    def forget_reveal(self):
        self.reset()

    @rx.event
    def set_url(self, value: str):
        self.url = value[:2100]
        if self.error_field == "url":
            self.error = self.error_field = ""

    @rx.event
    def set_description(self, value: str):
        self.description = value[:600]

    @rx.event
    def toggle_event(self, event: str, checked: bool):
        chosen = set(self.events) | {event} if checked else set(self.events) - {event}
        self.events = [e for e in EVENTS if e in chosen]

    @rx.event
    @requires_user
    async def submit(self, user: Caller):
        if self.revealed_id:
            return
        with Refusal(self) as refused:
            if self.rolling:
                made = await self.in_session(
                    endpoint_service.roll_secret,
                    user.access,
                    user.email,
                    self.rolling,
                    client_address=self.client_address(),
                )
            else:
                made = await self.in_session(
                    endpoint_service.create_endpoint,
                    user.access,
                    user.email,
                    self.url,
                    list(self.events),
                    self.description,
                    client_address=self.client_address(),
                )
        if refused:
            return
        self.revealed_id, self.copied, self.error = made.endpoint.endpoint_id, False, ""
        yield revealed_webhook_secret.push(made.secret)
        del made
        table = await self.get_state(WebhooksTableState)
        await table._reload(user)

    @rx.event
    def close(self):
        self.reset()
        return revealed_webhook_secret.push("")

    @rx.event
    def open_changed(self, is_open: bool):
        if not is_open:
            return AddWebhookState.close


def _event_box(event: str) -> rx.Component:
    return rx.checkbox(
        rx.text(rx.code(event), " ", EVENT_LABELS[event], size="2"),
        checked=AddWebhookState.events.contains(event),
        on_change=lambda checked: AddWebhookState.toggle_event(event, checked),
        id="webhook-event-" + event.replace(".", "-").replace("_", "-"),
    )


def _form() -> rx.Component:
    state = AddWebhookState
    return rx.vstack(
        rx.dialog.description(
            "Events are sent as signed JSON POSTs (Standard Webhooks). Payloads carry ids, names and "
            "times, never a key's secret."
        ),
        labelled_field(
            "URL",
            rx.input(
                value=state.url,
                on_change=state.set_url,
                id="webhook-url",
                placeholder="https://hooks.example.com/keys",
                width="100%",
                auto_focus=True,
            ),
            html_for="webhook-url",
            error=state.error,
            error_field=state.error_field,
            field="url",
        ),
        labelled_field(
            "Description (optional)",
            rx.input(
                value=state.description,
                on_change=state.set_description,
                id="webhook-description",
                width="100%",
            ),
            html_for="webhook-description",
            error=state.error,
            error_field=state.error_field,
            field="description",
        ),
        rx.el.fieldset(
            rx.el.legend("Events", **LABEL_STYLE),
            rx.vstack(*[_event_box(event) for event in EVENTS], spacing="2"),
            border="none",
            padding="0",
            margin="0",
            id="webhook-events",
        ),
        form_error(state.error, state.error_field, ("url", "description")),
        dialog_footer(
            "webhook-cancel",
            rx.button("Save endpoint", on_click=state.submit, id="webhook-save"),
            width="100%",
        ),
        spacing="4",
        width="100%",
    )


def _roll() -> rx.Component:
    state = AddWebhookState
    return rx.vstack(
        rx.dialog.description(
            "A new signing secret for ",
            rx.code(state.rolling_url),
            ". Deliveries are signed with it from now on; the current secret stops at once, so "
            "update the receiver right after.",
        ),
        form_error(state.error, state.error_field, ()),
        dialog_footer(
            "webhook-cancel",
            rx.button("Roll secret", on_click=state.submit, id="webhook-roll-confirm"),
            width="100%",
        ),
        spacing="4",
        width="100%",
    )


def _reveal() -> rx.Component:
    state = AddWebhookState
    return secret_reveal(
        revealed_webhook_secret,
        rx.text("Endpoint ID: ", rx.code(state.revealed_id), size="2"),
        warning="Store it in the receiver's settings. This signing secret will not be shown again.",
        advice="The receiver checks each delivery's webhook-signature header with it (see the README).",
        label="Signing secret",
        field_id="webhook-secret",
        copy_id="copy-webhook-secret",
        copy_label="Copy signing secret",
        copied_toast="Signing secret copied to the clipboard",
        copied=state.copied,
        on_copied=state.mark_copied,
        done_id="webhook-done",
        on_done=state.close,
    )


def add_webhook_dialog() -> rx.Component:
    state = AddWebhookState
    revealing = state.revealed_id != ""
    title = rx.cond(
        revealing,
        "Signing secret",
        rx.cond(state.rolling != "", "Roll signing secret", "Add webhook endpoint"),
    )
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(title),
            rx.cond(revealing, _reveal(), rx.cond(state.rolling != "", _roll(), _form())),
            max_width="600px",
            id="webhook-dialog",
        ),
        open=state.open,
        on_open_change=state.open_changed,
    )
