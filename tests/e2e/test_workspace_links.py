"""Issue 22 item 2, on a desktop (1366x768) and a 390x844 phone: the workspace lives in the address.

A key link (`/w/<workspace>/keys/<key_id>`) opens in a fresh browser whose current workspace is
another one, and switches the tab to the link's workspace; a teammate opens a shared link; a
non-member reads exactly what a random id reads; old links without the workspace forward; the
switcher keeps the page; sign-in returns to the link; the key page passes the axe audit there."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import PASSWORD, Console
from tests.e2e.axe import serious_violations
from tests.e2e.conftest import sign_in

T = 30_000
VIEWPORTS = {"desktop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(params=["desktop", "phone"])
def device(request: pytest.FixtureRequest) -> str:
    return request.param


@dataclass
class Team:
    owner: str
    name: str
    public_id: str
    key_id: str
    key_name: str
    personal_id: str  # the owner's personal workspace


def _team_with_a_key(console: Console) -> Team:
    owner = console.new_user()
    name = f"Team {uuid.uuid4().hex[:6]}"
    console.cli("create-workspace", owner, name)
    key_name = f"shared-{uuid.uuid4().hex[:6]}"
    console.create_key(owner, key_name, "--workspace", name)
    lines = console.cli("list-keys", owner, "--workspace", name).stdout.splitlines()[1:]
    key_id = next(line.split("\t")[0] for line in lines if line.split("\t")[1] == key_name)
    return Team(owner, name, _public_id(console, name), key_id, key_name, _personal_id(console, owner))


def _public_id(console: Console, name: str) -> str:
    return console.rows("SELECT public_id FROM workspaces WHERE name = :n", n=name)[0][0]


def _personal_id(console: Console, email: str) -> str:
    return console.rows(
        "SELECT w.public_id FROM workspaces w JOIN memberships m ON m.workspace_id = w.id"
        " JOIN users u ON u.id = m.user_id WHERE lower(u.email) = :e AND w.personal",
        e=email.lower(),
    )[0][0]


def _page(browser: Browser, device: str) -> Page:
    page = browser.new_context(viewport=VIEWPORTS[device]).new_page()  # type: ignore[arg-type]
    page.set_default_timeout(T)
    return page


def _open_nav(page: Page, device: str) -> None:
    """On a phone the switcher and the links fold behind the menu button."""
    if device == "phone" and page.locator("#nav-toggle").get_attribute("aria-expanded") != "true":
        page.click("#nav-toggle")
    expect(page.locator("#workspace-switcher")).to_be_visible(timeout=T)


def _switcher_says(page: Page, device: str, label: str) -> None:
    _open_nav(page, device)
    expect(page.locator("#workspace-switcher")).to_have_text(label, timeout=T)
    if device == "phone":
        page.click("#nav-toggle")  # fold it again


def _url(console: Console, path: str) -> re.Pattern[str]:
    return re.compile(re.escape(console.base_url + path) + r"/?$")


def _not_found_text(page: Page, selector: str) -> str:
    box = page.locator(selector)
    expect(box).to_be_visible(timeout=T)
    return box.text_content() or ""


def test_a_key_link_opens_in_a_tab_set_to_another_workspace_and_switches_it(
    browser: Browser, console: Console, device: str
) -> None:
    team = _team_with_a_key(console)
    page = _page(browser, device)  # a fresh browser: its current workspace is the personal one
    sign_in(page, console, team.owner)
    page.wait_for_url(_url(console, f"/w/{team.personal_id}/keys"))
    _switcher_says(page, device, "Personal (owner)")

    link = f"/w/{team.public_id}/keys/{team.key_id}"
    page.goto(console.base_url + link)
    expect(page.locator("#detail-name")).to_have_text(team.key_name, timeout=T)
    expect(page.locator("#key-not-found")).to_have_count(0)
    _switcher_says(page, device, f"{team.name} (owner)")  # the tab is in the link's workspace now
    assert serious_violations(page) == []  # the key page, reached by its shareable address

    # the key page's links stay in that workspace
    expect(page.locator("#back-to-keys")).to_have_attribute("href", f"/w/{team.public_id}/keys")
    page.click("#back-to-keys")
    page.wait_for_url(_url(console, f"/w/{team.public_id}/keys"))
    expect(page.locator(f"#row-{team.key_id}")).to_be_visible(timeout=T)
    expect(page.locator(f"#link-{team.key_id}")).to_have_attribute("href", link)
    # the tab remembers it: an address without a workspace opens this one
    page.goto(f"{console.base_url}/activity")
    page.wait_for_url(_url(console, f"/w/{team.public_id}/activity"))
    _open_nav(page, device)
    expect(page.locator("#nav-profiles")).to_have_attribute("href", f"/w/{team.public_id}/profiles")


def test_a_teammate_opens_a_shared_link_and_a_stranger_reads_not_found(
    browser: Browser, console: Console, device: str
) -> None:
    team = _team_with_a_key(console)
    link = f"{console.base_url}/w/{team.public_id}/keys/{team.key_id}"

    mate_email = console.new_user()
    mate = _page(browser, device)
    sign_in(mate, console, mate_email)
    invitation = console.cli(
        "invite", team.owner, team.name, "--role", "viewer", "--base-url", console.base_url
    ).stdout.strip()
    mate.goto(invitation)
    mate.click("#invitation-join")
    expect(mate.locator("#joined-notice")).to_contain_text(f"You joined {team.name} as viewer", timeout=T)
    mate.wait_for_url(re.compile(re.escape(f"{console.base_url}/w/{team.public_id}/keys?joined=")))
    # back in the personal workspace, then the shared link
    mate.goto(f"{console.base_url}/w/{_personal_id(console, mate_email)}/keys")
    _switcher_says(mate, device, "Personal (owner)")
    mate.goto(link)
    expect(mate.locator("#detail-name")).to_have_text(team.key_name, timeout=T)
    _switcher_says(mate, device, f"{team.name} (viewer)")

    stranger = _page(browser, device)
    sign_in(stranger, console, console.new_user())
    stranger.goto(link)
    shared = _not_found_text(stranger, "#key-not-found")
    expect(stranger.locator("#detail-name")).to_have_count(0)
    _switcher_says(stranger, device, "Personal (owner)")  # the stranger's tab stays their own
    # exactly what a random workspace, a random key, or both read
    random_ws, random_key = f"ws_{uuid.uuid4().hex[:16]}", f"key_{uuid.uuid4().hex[:16]}"
    for path in (
        f"/w/{random_ws}/keys/{random_key}",
        f"/w/{random_ws}/keys/{team.key_id}",
        f"/w/{team.public_id}/keys/{random_key}",
    ):
        stranger.goto(console.base_url + path)
        expect(stranger.locator("#key-not-found")).to_have_text(shared, timeout=T)
    # the workspace's other pages: one "not found" for an existing and a made-up workspace
    stranger.goto(f"{console.base_url}/w/{team.public_id}/keys")
    team_page = _not_found_text(stranger, "#workspace-not-found")
    expect(stranger.locator(f"#row-{team.key_id}")).to_have_count(0)
    assert serious_violations(stranger) == []
    for path in (f"/w/{random_ws}/keys", f"/w/{random_ws}/members", f"/w/{team.public_id}/members"):
        stranger.goto(console.base_url + path)
        expect(stranger.locator("#workspace-not-found")).to_have_text(team_page, timeout=T)
    expect(stranger.locator("#members-table")).to_have_count(0)
    # an old key link of someone else's key: the stranger's own workspace, where it is not found
    stranger.goto(f"{console.base_url}/keys/{team.key_id}")
    stranger.wait_for_url(re.compile(r".*/w/ws_\w+/keys/" + team.key_id + "/?$"))
    assert team.public_id not in stranger.url
    expect(stranger.locator("#key-not-found")).to_have_text(shared, timeout=T)


def test_old_links_forward_to_the_workspace(browser: Browser, console: Console, device: str) -> None:
    team = _team_with_a_key(console)
    page = _page(browser, device)
    sign_in(page, console, team.owner)
    page.wait_for_url(_url(console, f"/w/{team.personal_id}/keys"))
    # the old /keys/<key_id> link: the key's own workspace, since the owner is a member of it
    page.goto(f"{console.base_url}/keys/{team.key_id}")
    page.wait_for_url(_url(console, f"/w/{team.public_id}/keys/{team.key_id}"))
    expect(page.locator("#detail-name")).to_have_text(team.key_name, timeout=T)
    # other old links: the workspace the person is in now (the key's, after opening it), query kept
    for old, new in (
        ("/keys", "/keys"),
        ("/profiles", "/profiles"),
        ("/members", "/members"),
        ("/tokens", "/tokens"),
        (f"/activity?key={team.key_id}", f"/activity?key={team.key_id}"),
    ):
        page.goto(console.base_url + old)
        page.wait_for_url(_url(console, f"/w/{team.public_id}{new}"))
    expect(page.locator("#activity-filter")).to_be_visible(timeout=T)

    # signed out: sign in first, then the link itself
    fresh = _page(browser, device)
    link = f"/w/{team.public_id}/keys/{team.key_id}"
    fresh.goto(console.base_url + link)
    fresh.wait_for_url(re.compile(r".*/sign-in\?next="))
    fresh.fill("#sign-in-email", team.owner)
    fresh.fill("#sign-in-password", PASSWORD)
    fresh.click("#sign-in-submit")
    fresh.wait_for_url(_url(console, link))
    expect(fresh.locator("#detail-name")).to_have_text(team.key_name, timeout=T)


def test_the_switcher_keeps_the_page(browser: Browser, console: Console, device: str) -> None:
    team = _team_with_a_key(console)
    page = _page(browser, device)
    sign_in(page, console, team.owner)
    page.goto(f"{console.base_url}/w/{team.personal_id}/profiles")
    expect(page.locator("#create-profile-button")).to_be_visible(timeout=T)
    for page_path in ("/profiles", "/activity", "/members"):
        page.goto(f"{console.base_url}/w/{team.personal_id}{page_path}")
        _open_nav(page, device)
        page.click("#workspace-switcher")
        page.get_by_role("option", name=f"{team.name} (owner)", exact=True).click()
        page.wait_for_url(_url(console, f"/w/{team.public_id}{page_path}"))
        _switcher_says(page, device, f"{team.name} (owner)")
    # a key page: the chosen workspace's keys (the key belongs to the one being left)
    page.goto(f"{console.base_url}/w/{team.public_id}/keys/{team.key_id}")
    expect(page.locator("#detail-name")).to_have_text(team.key_name, timeout=T)
    _open_nav(page, device)
    page.click("#workspace-switcher")
    page.get_by_role("option", name="Personal (owner)", exact=True).click()
    page.wait_for_url(_url(console, f"/w/{team.personal_id}/keys"))
    expect(page.locator(f"#row-{team.key_id}")).to_have_count(0)
    # a page that is not per workspace stays where it is
    page.goto(f"{console.base_url}/account")
    _open_nav(page, device)
    page.click("#workspace-switcher")
    page.get_by_role("option", name=f"{team.name} (owner)", exact=True).click()
    _switcher_says(page, device, f"{team.name} (owner)")
    assert page.url.rstrip("/").endswith("/account")
    _open_nav(page, device)
    expect(page.locator("#nav-keys")).to_have_attribute("href", f"/w/{team.public_id}/keys")
