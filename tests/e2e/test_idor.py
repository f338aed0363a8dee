"""IDOR through the UI event path: user B rewrites the key ID inside B's own websocket events
so that they name user A's key. B gets "not found", A's key is unchanged, the denial is audited."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, WebSocketRoute, expect

from tests.conftest import Console
from tests.e2e.conftest import sign_up


def _rewrite_outgoing(page: Page, own_key_id: str, victim_key_id: str) -> None:
    def handler(route: WebSocketRoute) -> None:
        server = route.connect_to_server()

        def to_server(message: str | bytes) -> None:
            if isinstance(message, str):
                message = message.replace(own_key_id, victim_key_id)
            server.send(message)

        route.on_message(to_server)
        server.on_message(lambda message: route.send(message))

    page.route_web_socket("**/_event/**", handler)


@pytest.mark.parametrize("action", ["edit", "delete"])
def test_foreign_key_id_in_ui_events_is_not_found_and_audited(
    browser: Browser, console: Console, action: str
) -> None:
    victim_context = browser.new_context()
    victim_page = victim_context.new_page()
    victim = sign_up(victim_page, console)
    victim_secret = console.create_key(victim, "victim-key")
    victim_key_id = console.cli("list-keys", victim).stdout.splitlines()[1].split("\t")[0]
    victim_context.close()

    attacker_context = browser.new_context()
    page = attacker_context.new_page()
    attacker = sign_up(page, console)
    console.create_key(attacker, "attacker-key")
    own_key_id = console.cli("list-keys", attacker).stdout.splitlines()[1].split("\t")[0]
    _rewrite_outgoing(page, own_key_id, victim_key_id)
    page.reload()
    expect(page.locator(f"#row-{own_key_id}")).to_be_visible()

    page.click(f"#{action}-{own_key_id}")
    expect(page.get_by_text("API key not found.")).to_be_visible(timeout=15_000)
    expect(page.locator("#edit-dialog")).to_have_count(0)
    expect(page.locator("#confirm-delete")).to_have_count(0)
    attacker_context.close()

    # the victim's key is untouched and still works
    assert console.verify(victim_secret).json()["valid"] is True
    assert "victim-key\t" in console.cli("list-keys", victim).stdout
    if console.database_url.startswith("sqlite:///"):
        with sqlite3.connect(Path(console.database_url.removeprefix("sqlite:///"))) as connection:
            denied = connection.execute(
                "SELECT actor, target_id FROM audit_events WHERE action = 'access.denied' AND target_id = ?",
                (victim_key_id,),
            ).fetchall()
        assert (attacker, victim_key_id) in denied
