"""The API Keys page, one module per concern (the reflex-examples form-designer pattern: one
dialog = its own substate + its component, in one file):

- `listing`: the table's state (rows, search, filters, sort, paging, refresh);
- `table`: the table as seen (toolbar, rows, empty state, pagination);
- `create`: Create New API Key and the one-time reveal;
- `edit`, `delete`, `help`: one dialog each;
- `detail`: one key's own page (`/keys/<key_id>`), with the roll and reveal dialogs.

A new dialog is a new module here with its own `AuthState` substate, added to `keys_content`.
"""

from __future__ import annotations

import reflex as rx

from rxapp.components.joined_notice import JoinedNoticeState, joined_notice
from rxapp.components.layout import protected_page
from rxapp.components.page import page_header, primary_action
from rxapp.pages.keys.create import CreateKeyState, create_dialog
from rxapp.pages.keys.delete import delete_dialog
from rxapp.pages.keys.edit import edit_dialog
from rxapp.pages.keys.help import help_dialog
from rxapp.pages.keys.listing import KeysTableState
from rxapp.pages.keys.roll import roll_dialog
from rxapp.pages.keys.table import keys_table, no_keys_yet, refresh_timer

# Every page load forgets a reveal (a reload or a new tab never shows a secret again), then loads.
# After joining a workspace, the first event switches the tab to it (components/joined_notice.py).
ON_LOAD = [JoinedNoticeState.arrive, CreateKeyState.forget_reveal, KeysTableState.load]


def keys_content() -> rx.Component:
    return rx.vstack(
        page_header(
            "API Keys",
            "Keys let your applications call the service. Each key carries a Bias Profile.",
            help_dialog(),
            primary_action("Create New API Key", CreateKeyState.start, "create-key-button"),
        ),
        joined_notice(),
        rx.cond(KeysTableState.has_any_key, keys_table(), no_keys_yet()),
        create_dialog(),
        edit_dialog(),
        delete_dialog(),
        roll_dialog(),
        refresh_timer(),
        spacing="5",
        width="100%",
    )


def keys_page() -> rx.Component:
    return protected_page(keys_content())


__all__ = ["ON_LOAD", "keys_page"]
