"""The workspace two-factor policy in Chromium: an owner (with a passkey) turns it on on the
Members page; a member without a second factor sees "set it up on Account" instead of the
workspace's pages (their personal workspace stays open), adds a passkey, and gets in; the
admin page's Two-factor column."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid

from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD, ROOT, Console
from tests.e2e.axe import serious_violations
from tests.e2e.conftest import sign_in, sign_up
from tests.e2e.test_passkeys import WAIT, add_passkey, virtual_authenticator

_TEAM = """
import json, sys
from rxapp.db import session_scope
from rxapp.services import users, workspaces
owner, member = json.loads(sys.stdin.read())
with session_scope() as session:
    o = users.find_user(session, owner)
    team = workspaces.create_workspace(session, o.id, owner, "Policy team")
    access = workspaces.resolve(session, o.id, team.public_id)
    token, _ = workspaces.create_invitation(session, access, "member")
    workspaces.accept_invitation(session, users.find_user(session, member).id, token)
print(team.public_id)
"""


def _team(console: Console, owner: str, member: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", _TEAM],
        cwd=ROOT,
        env=console.env,
        input=json.dumps([owner, member]),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return result.stdout.strip()


def test_a_required_second_factor_gates_the_workspace(page: Page, console: Console) -> None:
    virtual_authenticator(page)
    member = sign_up(page, console)
    page.context.clear_cookies()
    owner = sign_up(page, console)
    add_passkey(page, console, "Owner key")
    team = _team(console, owner, member)

    page.goto(f"{console.base_url}/w/{team}/members")
    switch = page.locator("#workspace-require-2fa")
    expect(switch).to_have_attribute("aria-checked", "false", timeout=WAIT)
    switch.click()
    expect(switch).to_have_attribute("aria-checked", "true", timeout=WAIT)
    events = console.rows(
        "select detail from audit_events where action = 'workspace.two_factor_policy' and actor = :e", e=owner
    )
    assert [tuple(r) for r in events] == [("two factors required",)]

    # the member, signed in with a password only
    page.context.clear_cookies()
    page.evaluate("() => localStorage.clear()")  # forget the owner's tab's workspace choice
    sign_in(page, console, member)
    expect(page.locator("#create-first-key")).to_be_visible(timeout=WAIT)  # the personal workspace: open
    page.goto(f"{console.base_url}/w/{team}/keys")
    panel = page.locator("#two-factor-required")
    expect(panel).to_contain_text("requires two-factor authentication", timeout=WAIT)
    expect(page.locator("#create-first-key")).to_have_count(0)
    # the panel says it once: the page's refused loads add no toast repeating it
    page.wait_for_timeout(1000)
    expect(page.locator("[data-sonner-toast]")).to_have_count(0)
    assert serious_violations(page) == []
    page.click("#two-factor-required-link")
    page.wait_for_url(re.compile(r".*/account$"), timeout=WAIT)
    add_passkey(page, console, "Member key")
    page.goto(f"{console.base_url}/w/{team}/keys")
    expect(page.locator("#create-first-key")).to_be_visible(timeout=WAIT)
    expect(panel).to_have_count(0)

    # the admin page: each account's factors
    admin = f"admin-{uuid.uuid4().hex[:10]}@example.com"
    console.cli("create-user", admin, "--admin", input_text=PASSWORD + "\n")
    page.context.clear_cookies()
    sign_in(page, console, admin)
    page.goto(f"{console.base_url}/admin")
    expect(page.locator("#admin-users th", has_text="Two-factor")).to_have_count(1, timeout=WAIT)
    expect(
        page.locator("#admin-users tr", has_text=member).locator("[id^='admin-two-factor-']")
    ).to_have_text("1 passkey", timeout=WAIT)
    expect(page.locator("#admin-users tr", has_text=admin).locator("[id^='admin-two-factor-']")).to_have_text(
        "none"
    )
