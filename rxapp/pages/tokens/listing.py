"""The Management tokens table and the revoke confirmation (one substate each)."""

from __future__ import annotations

import dataclasses

import reflex as rx

from rxapp.components.dialogs import dialog_footer
from rxapp.components.page import data_table, empty_state, for_role
from rxapp.components.row_actions import row_button
from rxapp.components.timefmt import exact_utc, iso, local_time
from rxapp.models import utc_now
from rxapp.services import tokens as token_service
from rxapp.session_guard import Caller
from rxapp.state import AuthState, Refusal, requires_user

HEADERS = ["Name", "Token", "Scopes", "Created by", "Expires", "Last used", "Status", ""]


@dataclasses.dataclass
class TokenRow:
    token_id: str = ""
    name: str = ""
    masked: str = ""
    scopes: str = ""
    created_by: str = ""
    expires: str = ""  # ISO instant ("" = never), shown in the reader's zone
    expires_utc: str = ""  # the exact UTC time, the hover title
    last_used: str = ""
    last_used_utc: str = ""
    status: str = ""
    revocable: bool = False


class TokensTableState(AuthState):
    rows: list[TokenRow] = []
    can_create: bool = False

    async def _reload(self, user: Caller) -> None:
        tokens = await self.in_session(token_service.list_tokens, user.access)
        now = utc_now()
        self.can_create = user.access.can_write
        self.rows = [
            TokenRow(
                token_id=t.token_id,
                name=t.name,
                masked=t.masked,
                scopes=", ".join(t.scopes),
                created_by=t.created_by,
                expires=iso(t.expires_at),
                expires_utc=exact_utc(t.expires_at) if t.expires_at else "Never expires",
                last_used=iso(t.last_used_at),
                last_used_utc=exact_utc(t.last_used_at) if t.last_used_at else "Never used",
                status="Revoked"
                if t.revoked_at
                else ("Expired" if t.expires_at and t.expires_at <= now else "Active"),
                revocable=t.revoked_at is None
                and (user.access.can_manage or (user.access.can_write and t.created_by == user.email)),
            )
            for t in tokens
        ]

    @rx.event
    @requires_user
    async def load(self, user: Caller):
        await self._reload(user)


class RevokeTokenState(AuthState):
    open: bool = False
    token_id: str = ""
    name: str = ""
    error: str = ""

    @rx.event
    def start(self, token_id: str, name: str):
        self.token_id, self.name, self.error, self.open = token_id, name, "", True

    @rx.event
    def open_changed(self, is_open: bool):
        self.open = is_open

    @rx.event
    @requires_user
    async def confirm(self, user: Caller):
        with Refusal(self) as refused:
            await self.in_session(
                token_service.revoke_token,
                user.access,
                user.email,
                self.token_id,
                client_address=self.client_address(),
            )
        if refused:
            return
        self.open = False
        table = await self.get_state(TokensTableState)
        await table._reload(user)
        yield rx.toast.success(f"Token {self.name!r} revoked")


def _when(instant: rx.Var[str], utc_text: rx.Var[str]) -> rx.Component:
    return rx.text(local_time(instant, utc_text, fallback="Never"), size="2", white_space="nowrap")


def token_row(row: TokenRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.name, weight="medium"), overflow_wrap="anywhere"),
        rx.table.cell(rx.code(row.masked, variant="ghost")),
        rx.table.cell(rx.text(row.scopes, size="1"), max_width="260px"),
        rx.table.cell(row.created_by, overflow_wrap="anywhere"),
        rx.table.cell(_when(row.expires, row.expires_utc)),
        rx.table.cell(_when(row.last_used, row.last_used_utc)),
        rx.table.cell(rx.badge(row.status, color_scheme=rx.cond(row.status == "Active", "green", "gray"))),
        rx.table.cell(
            rx.cond(
                row.revocable,
                row_button(
                    "Revoke",
                    RevokeTokenState.start(row.token_id, row.name),
                    "revoke-" + row.token_id,
                    aria_label="Revoke token " + row.name,
                ),
            )
        ),
    )


def tokens_table() -> rx.Component:
    return rx.cond(
        TokensTableState.rows.length() > 0,
        data_table(HEADERS, TokensTableState.rows, token_row, "tokens-table"),
        empty_state(
            "key-square",
            "No management tokens yet",
            for_role(
                TokensTableState.can_create,
                "Create one to let a CI pipeline or a script manage this workspace's keys over the REST API.",
                "You have the viewer role here: tokens are created by the workspace's owners and members."
                " Ask one of them if a script needs one.",
            ),
            box_id="tokens-empty",
        ),
    )


def revoke_dialog() -> rx.Component:
    state = RevokeTokenState
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Revoke management token?"),
            rx.alert_dialog.description(
                "Automation using ", rx.code(state.name), " stops working at once. This cannot be undone."
            ),
            rx.cond(state.error != "", rx.text(state.error, color_scheme="red", size="2")),
            dialog_footer(
                "revoke-cancel",
                rx.button(
                    "Revoke",
                    color_scheme="red",
                    high_contrast=True,
                    on_click=state.confirm,
                    id="revoke-confirm",
                ),
                alert=True,
                margin_top="4",
            ),
        ),
        open=state.open,
        on_open_change=state.open_changed,
    )
