"""Owner and admin screens in a real browser: rename and delete a workspace from Members (its
keys stop verifying), an invitation made in the Members dialog and opened in a second browser,
and an instance admin disabling a user whose open tab is then sent to sign-in."""

from __future__ import annotations

import contextlib
import re
import uuid

from playwright.sync_api import Browser, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.conftest import PASSWORD, Console
from tests.e2e.conftest import choose, sign_in, sign_up

T = 20_000


def test_an_owner_renames_then_deletes_a_workspace_and_its_keys_stop_verifying(
    browser: Browser, console: Console
) -> None:
    page = browser.new_context().new_page()
    owner = sign_up(page, console)
    console.cli("create-workspace", owner, "Doomed")
    choose(page, "#workspace-switcher", "Doomed (owner)")
    expect(page.locator("#workspace-switcher")).to_have_text("Doomed (owner)", timeout=T)
    page.click("#nav-members")
    # the page's loads have landed (the field shows the current name) before typing over it
    expect(page.locator("#workspace-rename-name")).to_have_value("Doomed", timeout=T)
    page.fill("#workspace-rename-name", "  Sunset   team ")
    page.click("#workspace-rename-submit")
    expect(page.locator("#workspace-switcher")).to_have_text("Sunset team (owner)", timeout=T)
    secret = console.create_key(owner, "sunset-key", "--workspace", "Sunset team")
    assert console.verify(secret).json()["workspace_name"] == "Sunset team"

    page.click("#workspace-delete-open")
    expect(page.locator("#workspace-delete-name")).to_have_text("Sunset team", timeout=T)
    expect(page.get_by_role("alertdialog")).to_contain_text("stop verifying")
    expect(page.locator("#workspace-delete-confirm")).to_be_disabled()  # until the name is typed
    page.fill("#workspace-delete-confirm-name", "Sunset team")
    page.click("#workspace-delete-confirm")
    page.wait_for_url(re.compile(r".*/keys/?$"), timeout=T)
    expect(page.locator("#workspace-switcher")).to_have_text("Personal (owner)", timeout=T)
    assert console.verify(secret).json() == {"valid": False, "code": "NOT_FOUND"}

    # a personal workspace offers Rename but never Delete
    page.click("#nav-members")
    expect(page.locator("#workspace-rename-name")).to_have_value("Personal", timeout=T)
    expect(page.locator("#workspace-delete-open")).to_have_count(0)


def test_an_invitation_from_the_members_dialog_signs_up_a_viewer(browser: Browser, console: Console) -> None:
    owner_page = browser.new_context().new_page()
    owner = sign_up(owner_page, console)
    console.cli("create-workspace", owner, "Readers")
    choose(owner_page, "#workspace-switcher", "Readers (owner)")
    expect(owner_page.locator("#workspace-switcher")).to_have_text("Readers (owner)", timeout=T)
    owner_page.click("#nav-members")
    owner_page.click("#invite-open")
    choose(owner_page, "#invite-role", "viewer")
    owner_page.click("#invite-submit")
    link_box = owner_page.locator("#invite-link")
    expect(link_box).to_have_value(re.compile(r"^http://localhost:\d+/invite\?token=inv_"), timeout=T)
    expect(owner_page.locator("#copy-invite-link")).to_be_visible()
    link = link_box.input_value()
    owner_page.click("#invite-done")
    # shown once: opening the dialog again starts a new invitation
    owner_page.click("#invite-open")
    expect(owner_page.locator("#invite-submit")).to_be_visible(timeout=T)
    expect(owner_page.locator("#invite-link")).to_have_count(0)

    guest = browser.new_context().new_page()
    guest.goto(link)
    expect(guest.locator("#invitation-workspace")).to_have_text("Readers", timeout=T)
    expect(guest.locator("#invitation-role")).to_have_text("viewer")
    guest.click("#invitation-sign-up")
    email = f"reader-{uuid.uuid4().hex[:10]}@example.com"
    guest.fill("#sign-up-email", email)
    guest.fill("#sign-up-password", PASSWORD)
    guest.fill("#sign-up-confirm", PASSWORD)
    guest.click("#sign-up-submit")
    guest.wait_for_url(re.compile(r".*/keys/?\?joined="), timeout=T)
    expect(guest.locator("#joined-notice")).to_contain_text("You joined Readers as viewer", timeout=T)
    expect(guest.locator("#workspace-switcher")).to_have_text("Readers (viewer)", timeout=T)
    guest.click("#nav-members")
    expect(guest.locator("#my-role")).to_have_text("viewer", timeout=T)
    # a viewer sees no owner controls
    expect(guest.locator("#workspace-settings")).to_have_count(0)
    expect(guest.locator("#invite-open")).to_have_count(0)


def test_the_admin_lists_users_and_disabling_one_ends_their_open_session(
    browser: Browser, console: Console
) -> None:
    admin = f"admin-{uuid.uuid4().hex[:10]}@example.com"
    console.cli("create-user", admin, "--admin", input_text=PASSWORD + "\n")
    user_page = browser.new_context().new_page()
    user = sign_up(user_page, console)

    admin_page = browser.new_context().new_page()
    sign_in(admin_page, console, admin)
    admin_page.click("#nav-admin")
    row = admin_page.locator("#admin-users tr", has_text=user)
    expect(row).to_contain_text("Personal", timeout=T)
    expect(admin_page.locator("#admin-policy")).to_have_text("open")
    row.get_by_role("button", name="Disable").click()
    expect(row.get_by_role("button", name="Enable")).to_be_visible(timeout=T)

    # The user's open tab: its next event lands on sign-in. That event is a click on Members, or
    # the keys table's own periodic refresh when it fires first (then Members is already gone).
    if "/sign-in" not in user_page.url:
        with contextlib.suppress(PlaywrightTimeoutError):  # the refresh took the nav away first
            user_page.locator("#nav-members").click(timeout=5_000)
    user_page.wait_for_url(re.compile(r".*/sign-in"), timeout=T)
    user_page.goto(f"{console.base_url}/keys")
    user_page.wait_for_url(re.compile(r".*/sign-in"), timeout=T)
