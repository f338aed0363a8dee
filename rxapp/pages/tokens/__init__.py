"""The Management tokens page: tokens for the management API (/api/docs) in this workspace.
Owners and members create them (shown once, with Copy), everyone in the workspace sees the list
with Last Used; the creator or an owner revokes."""

from __future__ import annotations

import reflex as rx

from rxapp import routes
from rxapp.components.layout import protected_page
from rxapp.components.page import page_header, primary_action
from rxapp.pages.tokens.create import CreateTokenState, create_token_dialog
from rxapp.pages.tokens.listing import TokensTableState, revoke_dialog, tokens_table

ON_LOAD = [CreateTokenState.forget_reveal, TokensTableState.load]


def tokens_content() -> rx.Component:
    return rx.vstack(
        page_header(
            "Management tokens",
            "Bearer tokens for automating this workspace over the REST API.",
            rx.cond(
                TokensTableState.can_create,
                primary_action("Create token", CreateTokenState.start, "create-token-button"),
            ),
        ),
        rx.text(
            "API reference: ",
            rx.link(
                "/api/docs", href=routes.API_DOCS, is_external=True, id="api-docs-link", underline="always"
            ),
            size="2",
        ),
        tokens_table(),
        create_token_dialog(),
        revoke_dialog(),
        spacing="5",
        width="100%",
    )


def tokens_page() -> rx.Component:
    return protected_page(tokens_content())


__all__ = ["ON_LOAD", "tokens_page"]
