"""One key's own page (`/keys/<key_id>`), reached from the key's name in the table, one module per
reason:

- `state`: the page's state (the key, its usage, roll links, rotation assistant, audit trail);
- `facts`: the key's facts as label/value pairs, and its audit trail;
- `program`: its credits, refill, named limits, permissions, metadata, IP rules and identity;
- `usage_chart`: calls by outcome over 24 h / 7 d / 30 d;
- `rotation`: the roll chain, the rotation assistant and its Expire now confirmation.

Edit, Roll and Delete reuse the keys page's own dialogs (edit.py, roll.py, delete.py): after an
edit the page shows the new values at its next refresh; after a delete it returns to the list.
"""

from __future__ import annotations

import reflex as rx

from rxapp import routes
from rxapp.components.layout import protected_page
from rxapp.pages.keys.create import CreateKeyState, create_dialog
from rxapp.pages.keys.delete import DeleteKeyState, delete_dialog
from rxapp.pages.keys.detail.facts import audit_trail, facts
from rxapp.pages.keys.detail.program import program_section
from rxapp.pages.keys.detail.rotation import expire_dialog, rotation
from rxapp.pages.keys.detail.state import REFRESH_MILLISECONDS, KeyDetailState
from rxapp.pages.keys.detail.usage_chart import usage_chart
from rxapp.pages.keys.edit import EditKeyState, edit_dialog
from rxapp.pages.keys.roll import RollKeyState, roll_dialog
from rxapp.state import AuthState

ACTION_SIZE = {"size": "3", "min_height": "44px"}  # thumb-sized on a phone too


def _roll_button() -> rx.Component:
    """Roll, or, when the key cannot be rolled, a disabled Roll with the reason beside it."""
    state = KeyDetailState
    return rx.button(
        rx.icon("rotate-cw", size=16),
        "Roll key",
        on_click=RollKeyState.start(state.key_id),
        id="detail-roll",
        disabled=state.roll_refusal != "",
        title=state.roll_refusal,
        aria_describedby=rx.cond(state.roll_refusal != "", "detail-roll-reason", ""),
        variant="soft",
        **ACTION_SIZE,
    )


def _actions() -> rx.Component:
    state = KeyDetailState
    return rx.cond(
        AuthState.can_write,
        rx.hstack(
            rx.button(
                rx.icon("pencil", size=16),
                "Edit",
                on_click=EditKeyState.start(state.key_id),
                id="key-page-edit",
                variant="soft",
                **ACTION_SIZE,
            ),
            _roll_button(),
            rx.button(
                rx.icon("trash-2", size=16),
                "Delete",
                on_click=DeleteKeyState.start_from_key_page(state.key_id),
                id="key-page-delete",
                variant="soft",
                color_scheme="red",
                **ACTION_SIZE,
            ),
            spacing="3",
            wrap="wrap",
            id="key-page-actions",
        ),
    )


def _header() -> rx.Component:
    state = KeyDetailState
    return rx.vstack(
        rx.flex(
            rx.heading(state.name, size="6", as_="h1", id="detail-name", word_break="break-all"),
            rx.spacer(display=rx.breakpoints(initial="none", sm="block")),
            _actions(),
            width="100%",
            direction=rx.breakpoints(initial="column", sm="row"),
            align=rx.breakpoints(initial="start", sm="center"),
            gap="3",
        ),
        rx.cond(
            AuthState.can_write & (state.roll_refusal != ""),
            rx.text(state.roll_refusal, size="2", color=rx.color("gray", 11), id="detail-roll-reason"),
        ),
        spacing="2",
        width="100%",
    )


def key_detail_content() -> rx.Component:
    state = KeyDetailState
    return rx.cond(
        state.found,
        rx.vstack(
            rx.link(
                "← API Keys",
                href=routes.in_workspace(AuthState.current_workspace, routes.KEYS),
                size="2",
                id="back-to-keys",
            ),
            _header(),
            facts(),
            program_section(state),
            rotation(),
            usage_chart(),
            audit_trail(),
            roll_dialog(),
            create_dialog(),
            edit_dialog(),
            delete_dialog(),
            expire_dialog(),
            rx.moment(interval=REFRESH_MILLISECONDS, on_change=state.refresh, display="none"),
            spacing="5",
            width="100%",
        ),
        rx.vstack(
            rx.heading("API key not found", size="5"),
            rx.text("It was deleted, or it is not yours."),
            rx.link(
                "Back to API Keys",
                href=routes.in_workspace(AuthState.current_workspace, routes.KEYS),
                id="back-to-keys",
            ),
            id="key-not-found",
        ),
    )


def key_detail_page() -> rx.Component:
    return protected_page(key_detail_content(), workspace_gate=False)


ON_LOAD = [CreateKeyState.forget_reveal, KeyDetailState.load]

__all__ = ["ON_LOAD", "KeyDetailState", "key_detail_content", "key_detail_page"]
