"""Issue 22, items 1 and 3, on a desktop (1366x768) and a 390x844 phone: joining through an
invitation (a new account, an existing one signing in, a signed-in Join) lands in the team's
workspace with a "You joined <name> as <role>" notice; "+" makes a workspace that the switcher
shows at once, three times in a row, and Enter in its name field submits."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import PASSWORD, Console
from tests.e2e.conftest import sign_in, sign_up

T = 30_000
VIEWPORTS = {"desktop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}
JOINED_URL = re.compile(r".*/keys/?\?joined=")


@pytest.fixture(params=["desktop", "phone"])
def device(request: pytest.FixtureRequest) -> str:
    return request.param


def _page(browser: Browser, device: str) -> Page:
    page = browser.new_context(viewport=VIEWPORTS[device]).new_page()  # type: ignore[arg-type]
    page.set_default_timeout(T)
    return page


def _open_nav(page: Page, device: str) -> None:
    """On a phone the switcher folds behind the menu button."""
    if device == "phone" and page.locator("#nav-toggle").get_attribute("aria-expanded") != "true":
        page.click("#nav-toggle")
    expect(page.locator("#workspace-switcher")).to_be_visible(timeout=T)


def _team_invite(console: Console, role: str) -> tuple[str, str]:
    owner = console.new_user()
    team = f"Team {uuid.uuid4().hex[:6]}"
    console.cli("create-workspace", owner, team)
    link = console.cli("invite", owner, team, "--role", role, "--base-url", console.base_url).stdout.strip()
    return team, link


def _assert_joined(page: Page, device: str, team: str, role: str) -> None:
    page.wait_for_url(JOINED_URL)
    expect(page.locator("#joined-notice")).to_have_text(
        re.compile(rf"You joined {team} as {role}"), timeout=T
    )
    _open_nav(page, device)
    expect(page.locator("#workspace-switcher")).to_have_text(f"{team} ({role})", timeout=T)
    # the tab works in the team's workspace: its members page says so
    page.click("#nav-members")
    expect(page.locator("#my-role")).to_have_text(role, timeout=T)


def test_a_new_account_from_an_invitation_lands_in_the_team(
    browser: Browser, console: Console, device: str
) -> None:
    team, link = _team_invite(console, "viewer")
    page = _page(browser, device)
    page.goto(link)
    expect(page.locator("#invitation-workspace")).to_have_text(team, timeout=T)
    page.click("#invitation-sign-up")
    page.fill("#sign-up-email", f"joiner-{uuid.uuid4().hex[:10]}@example.com")
    page.fill("#sign-up-password", PASSWORD)
    page.fill("#sign-up-confirm", PASSWORD)
    page.click("#sign-up-submit")
    _assert_joined(page, device, team, "viewer")
    # the notice belongs to that arrival: the keys page opened again does not repeat it
    page.goto(f"{console.base_url}/keys")
    _open_nav(page, device)
    expect(page.locator("#workspace-switcher")).to_have_text(f"{team} (viewer)", timeout=T)
    expect(page.locator("#joined-notice")).to_have_count(0, timeout=T)


def test_a_sign_up_sent_before_the_page_loaded_still_joins(browser: Browser, console: Console) -> None:
    """The hidden invitation field is filled by the page's on_load; a form posted before that (a
    busy server) takes the token from the address (assets/keep_email.js), so the account joins."""
    team, link = _team_invite(console, "viewer")
    page = _page(browser, "desktop")
    page.goto(link)
    page.click("#invitation-sign-up")
    page.wait_for_url(re.compile(r".*/sign-up/?\?invitation="))
    page.fill("#sign-up-email", f"quick-{uuid.uuid4().hex[:10]}@example.com")
    page.fill("#sign-up-password", PASSWORD)
    page.fill("#sign-up-confirm", PASSWORD)
    # as the static page is before its on_load ran: the hidden field still empty
    page.evaluate("document.getElementById('sign-up-invitation').value = ''")
    page.click("#sign-up-submit")
    _assert_joined(page, "desktop", team, "viewer")


def test_an_existing_account_signs_in_from_an_invitation_and_lands_in_the_team(
    browser: Browser, console: Console, device: str
) -> None:
    team, link = _team_invite(console, "member")
    email = console.new_user()
    page = _page(browser, device)
    page.goto(link)
    page.click("#invitation-sign-in")
    page.fill("#sign-in-email", email)
    page.fill("#sign-in-password", PASSWORD)
    page.click("#sign-in-submit")
    page.wait_for_url(re.compile(r".*/invite/?\?token="))
    page.click("#invitation-join")
    _assert_joined(page, device, team, "member")


def test_a_signed_in_join_lands_in_the_team(browser: Browser, console: Console, device: str) -> None:
    team, link = _team_invite(console, "member")
    page = _page(browser, device)
    sign_up(page, console)
    page.goto(link)
    page.click("#invitation-join")
    _assert_joined(page, device, team, "member")


def test_a_foreign_joined_id_names_nothing_and_falls_back(
    browser: Browser, console: Console, device: str
) -> None:
    """The notice comes from the tab's resolved access, never from the URL: a workspace the user is
    not in leaves them in their own and says nothing."""
    owner = console.new_user()
    console.cli("create-workspace", owner, "Not yours")
    foreign = console.rows("select public_id from workspaces where name = 'Not yours'")[0][0]
    page = _page(browser, device)
    email = console.new_user()
    sign_in(page, console, email)
    page.goto(f"{console.base_url}/keys?joined={foreign}")
    # the old landing forwards to the workspace the person is in: their own, not the foreign one
    page.wait_for_url(re.compile(r".*/w/ws_\w+/keys/?\?joined="))
    assert f"/w/{foreign}/" not in page.url
    _open_nav(page, device)
    expect(page.locator("#workspace-switcher")).to_have_text("Personal (owner)", timeout=T)
    expect(page.locator("#create-key-button")).to_be_visible(timeout=T)
    expect(page.locator("#joined-notice")).to_have_count(0, timeout=T)


def test_plus_creates_workspaces_the_switcher_shows_and_enter_submits(
    browser: Browser, console: Console, device: str
) -> None:
    page = _page(browser, device)
    sign_up(page, console)
    for attempt in range(3):
        name = f"Made {attempt} {uuid.uuid4().hex[:4]}"
        _open_nav(page, device)
        page.click("#new-workspace")
        page.fill("#new-workspace-name", name)
        if attempt == 2:
            page.press("#new-workspace-name", "Enter")
        else:
            page.click("#new-workspace-submit")
        expect(page.locator("#new-workspace-name")).to_have_count(0, timeout=T)
        _open_nav(page, device)
        expect(page.locator("#workspace-switcher")).to_have_text(f"{name} (owner)", timeout=T)
        page.click("#workspace-switcher")
        expect(page.get_by_role("option", name=f"{name} (owner)", exact=True)).to_be_visible(timeout=T)
        page.keyboard.press("Escape")
    # a refused name keeps the dialog open with the reason, and Enter does that too
    _open_nav(page, device)
    page.click("#new-workspace")
    page.fill("#new-workspace-name", "   ")
    page.press("#new-workspace-name", "Enter")
    expect(page.locator("#new-workspace-error")).to_be_visible(timeout=T)
    expect(page.locator("#new-workspace-name")).to_be_visible(timeout=T)
