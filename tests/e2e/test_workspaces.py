"""Workspaces in real browsers: two people share a workspace; a viewer's crafted websocket events
are refused by the server; a removed member's open tab loses the workspace on its next event."""

from __future__ import annotations

import json
import re

from playwright.sync_api import Browser, Page, WebSocketRoute, expect

from rxapp.pages.keys.create import CreateKeyState
from rxapp.pages.keys.delete import DeleteKeyState
from rxapp.pages.keys.edit import EditKeyState
from rxapp.pages.keys.roll import RollKeyState
from rxapp.pages.members import MembersState
from rxapp.pages.workspace_settings import WorkspaceSettingsState
from tests.conftest import PASSWORD, Console
from tests.e2e.conftest import choose, sign_up

T = 20_000


def _scalar(console: Console, sql: str, **params):
    rows = console.rows(sql, **params)
    return rows[0][0] if rows else None


def _team(console: Console, owner: str, name: str) -> None:
    console.cli("create-workspace", owner, name)


def _join_with_link(page: Page, console: Console, owner: str, team: str, role: str) -> str:
    """Open an invitation link in a fresh browser and sign up through it: the tab lands in the team."""
    link = console.cli("invite", owner, team, "--role", role, "--base-url", console.base_url).stdout.strip()
    page.goto(link)
    expect(page.locator("#invitation-workspace")).to_have_text(team, timeout=T)
    expect(page.locator("#invitation-role")).to_have_text(role)
    page.click("#invitation-sign-up")
    expect(page.locator("#auth-notice")).to_contain_text("invitation", timeout=T)
    email = f"invited-{role}-{re.sub(r'[^a-z0-9]', '', link[-10:].lower())}@example.com"
    page.fill("#sign-up-email", email)
    page.fill("#sign-up-password", PASSWORD)
    page.fill("#sign-up-confirm", PASSWORD)
    page.click("#sign-up-submit")
    # joining lands in the team's workspace and says so
    page.wait_for_url(re.compile(r".*/keys/?\?joined="), timeout=T)
    expect(page.locator("#joined-notice")).to_contain_text(f"You joined {team} as {role}", timeout=T)
    expect(page.locator("#workspace-switcher")).to_have_text(f"{team} ({role})", timeout=T)
    return email


def _switch(page: Page, label: str) -> None:
    choose(page, "#workspace-switcher", label)
    expect(page.locator("#workspace-switcher")).to_have_text(label, timeout=T)


def _key_id(console: Console, owner: str, team: str, name: str) -> str:
    lines = console.cli("list-keys", owner, "--workspace", team).stdout.splitlines()[1:]
    return next(line.split("\t")[0] for line in lines if line.split("\t")[1] == name)


def test_two_people_share_a_workspace_and_verify_agrees(browser: Browser, console: Console) -> None:
    owner_page = browser.new_context().new_page()
    owner = sign_up(owner_page, console)
    _team(console, owner, "Checkout")
    mate_page = browser.new_context().new_page()
    _join_with_link(mate_page, console, owner, "Checkout", "member")
    _switch(owner_page, "Checkout (owner)")

    secret = console.create_key(owner, "checkout-service", "--workspace", "Checkout")
    key_id = _key_id(console, owner, "Checkout", "checkout-service")
    answer = console.verify(secret).json()
    assert answer["valid"] is True and answer["workspace_name"] == "Checkout"
    assert answer["workspace_id"].startswith("ws_")
    # the colleague sees the key (the table refreshes itself) and turns it off
    expect(mate_page.locator(f"#row-{key_id}")).to_be_visible(timeout=T)
    mate_page.click(f"#edit-{key_id}")
    choose(mate_page, "#edit-status", "INACTIVE")
    mate_page.click("#edit-save")
    expect(mate_page.locator(f"#status-{key_id}")).to_have_text("INACTIVE", timeout=T)
    assert console.verify(secret).json() == {"valid": False, "code": "INACTIVE"}
    expect(owner_page.locator(f"#status-{key_id}")).to_have_text("INACTIVE", timeout=T)
    # the workspace survives a reload
    owner_page.reload()
    expect(owner_page.locator("#workspace-switcher")).to_have_text("Checkout (owner)", timeout=T)
    expect(owner_page.locator(f"#row-{key_id}")).to_be_visible(timeout=T)


def _craft(page: Page) -> list[tuple[str, dict]]:
    """Replace the tab's next outgoing events, one each, by the queued (handler, payload) pairs."""
    queue: list[tuple[str, dict]] = []

    def handler(route: WebSocketRoute) -> None:
        server = route.connect_to_server()

        def to_server(message: str | bytes) -> None:
            frame = (
                re.match(r"^(42(?:/[^,]*,)?\d*)(\[.*)$", message, re.S) if isinstance(message, str) else None
            )
            if queue and frame:  # socket.io: "42", the namespace, an ack id, then ["event", {...}]
                kind, event = json.loads(frame.group(2))
                name, payload = queue.pop(0)
                event = {**event, "name": name, "payload": payload}
                message = frame.group(1) + json.dumps([kind, event])
            server.send(message)

        route.on_message(to_server)
        server.on_message(lambda message: route.send(message))

    page.route_web_socket("**/_event/**", handler)
    return queue


def _handler(state: type, name: str) -> str:
    return f"{state.get_full_name()}.{name}"


def test_a_viewer_can_change_nothing_even_through_crafted_events(browser: Browser, console: Console) -> None:
    owner_page = browser.new_context().new_page()
    owner = sign_up(owner_page, console)
    _team(console, owner, "Readers")
    secret = console.create_key(owner, "shared", "--workspace", "Readers")
    key_id = _key_id(console, owner, "Readers", "shared")
    viewer_page = browser.new_context().new_page()
    queue = _craft(viewer_page)
    viewer = _join_with_link(viewer_page, console, owner, "Readers", "viewer")
    expect(viewer_page.locator(f"#row-{key_id}")).to_be_visible(timeout=T)
    # the page hides what a viewer cannot do
    for hidden in (f"#edit-{key_id}", f"#delete-{key_id}", f"#roll-{key_id}", "#create-key-button"):
        expect(viewer_page.locator(hidden)).to_have_count(0)
    viewer_id = _scalar(console, "SELECT id FROM users WHERE email = :e", e=viewer)
    owner_id = _scalar(console, "SELECT id FROM users WHERE email = :e", e=owner)
    invitations_before = _scalar(console, "SELECT count(*) FROM invitations")
    # ...and the server refuses each forbidden event sent straight over the websocket
    queue.extend(
        [
            (_handler(CreateKeyState, "submit"), {}),
            (_handler(EditKeyState, "start"), {"key_id": key_id}),
            (_handler(EditKeyState, "set_status"), {"value": "INACTIVE"}),
            (_handler(EditKeyState, "submit"), {}),
            (_handler(DeleteKeyState, "start"), {"key_id": key_id}),
            (_handler(DeleteKeyState, "confirm"), {}),
            (_handler(RollKeyState, "start"), {"key_id": key_id}),
            (_handler(RollKeyState, "submit"), {}),
            (_handler(MembersState, "change_role"), {"user_id": viewer_id, "role": "owner"}),
            (_handler(MembersState, "remove"), {"user_id": owner_id}),
            (_handler(MembersState, "create_invitation"), {}),
            (_handler(WorkspaceSettingsState, "set_new_name"), {"value": "Hijacked"}),
            (_handler(WorkspaceSettingsState, "rename"), {}),
            (_handler(WorkspaceSettingsState, "start"), {}),
            (_handler(WorkspaceSettingsState, "confirm"), {}),
        ]
    )
    for attempt in range(120):  # each keystroke (and the table's refresh timer) sends an event
        if not queue:
            break
        viewer_page.fill("#search-keys", "s" if attempt % 2 else "")
        viewer_page.wait_for_timeout(500)
    assert not queue, "the crafted events were not all sent"
    expect(viewer_page.get_by_text("Your role in this workspace is read-only.").first).to_be_visible(
        timeout=T
    )
    viewer_page.wait_for_timeout(1500)
    lines = console.cli("list-keys", owner, "--workspace", "Readers").stdout.splitlines()[1:]
    assert [line.split("\t")[:2] for line in lines] == [[key_id, "shared"]]
    assert console.verify(secret).json()["valid"] is True
    role = _scalar(
        console,
        "SELECT m.role FROM memberships m JOIN workspaces w ON w.id = m.workspace_id"
        " WHERE m.user_id = :u AND w.name = 'Readers'",
        u=viewer_id,
    )
    assert role == "viewer"  # also: the workspace is still there, under its own name
    assert _scalar(console, "SELECT count(*) FROM invitations") == invitations_before


def test_a_removed_members_open_tab_loses_the_workspace_on_its_next_event(
    browser: Browser, console: Console
) -> None:
    owner_page = browser.new_context().new_page()
    owner = sign_up(owner_page, console)
    _team(console, owner, "Ops")
    console.create_key(owner, "ops-key", "--workspace", "Ops")
    key_id = _key_id(console, owner, "Ops", "ops-key")
    member_page = browser.new_context().new_page()
    member = _join_with_link(member_page, console, owner, "Ops", "member")
    expect(member_page.locator(f"#row-{key_id}")).to_be_visible(timeout=T)

    _switch(owner_page, "Ops (owner)")
    owner_page.click("#nav-members")
    row = owner_page.locator("#members-table tr", has_text=member)
    expect(row).to_be_visible(timeout=T)
    row.get_by_role("button", name="Remove").click()
    expect(owner_page.locator("#members-table tr", has_text=member)).to_have_count(0, timeout=T)

    # no reload: the member's open tab drops the workspace's rows on its next event (the timer)
    expect(member_page.locator(f"#row-{key_id}")).to_have_count(0, timeout=T)
    expect(member_page.locator("#workspace-switcher")).not_to_have_text("Ops (member)", timeout=T)
    member_page.reload()
    expect(member_page.locator("#signed-in-email")).to_have_text(member, timeout=T)
    expect(member_page.locator(f"#row-{key_id}")).to_have_count(0)
