"""axe-core over every page and dialog, light and dark, on a desktop (1366x768) and a phone (390x844)
(issue 22, item 7): no critical or serious violation. The audit runs on the page as a user sees
it: after it has loaded its rows, and with each dialog and menu open."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import PASSWORD, Console
from tests.e2e.axe import serious_violations
from tests.e2e.conftest import choose, sign_in

# Drawn the same on every backend: the PostgreSQL + Redis pass of scripts/test skips it.
pytestmark = pytest.mark.presentation

T = 20_000
VIEWPORTS = {"desktop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}


class Auditor:
    """Audits one state after another; the test fails at the end with every violation found."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.found: dict[str, list[str]] = {}
        self.audited: list[str] = []

    def check(self, label: str) -> None:
        # A state is audited once it is still: dialogs opened, toasts gone (a toast is audited on its
        # own, fully shown: mid-fade its text is judged at a fraction of its opacity).
        expect(self.page.locator("[data-sonner-toast]")).to_have_count(0, timeout=T)
        # no control is judged in its hover colours because the pointer happens to rest on it (a
        # phone's dialog opens where the tap was)
        self.page.mouse.move(0, 0)
        self.audited.append(label)
        violations = serious_violations(self.page)
        if violations:
            self.found[label] = violations

    def visit(self, path: str, ready: str) -> None:
        self.page.goto(f"{self.base_url}{path}")
        expect(self.page.locator(ready).first).to_be_visible(timeout=T)
        self.check(path)

    def dialog(self, label: str, opener: str, ready: str, close: Callable[[], None] | None = None) -> None:
        self.page.locator(opener).first.click()
        expect(self.page.locator(ready).first).to_be_visible(timeout=T)
        self.check(label)
        if close is None:
            self.page.keyboard.press("Escape")
        else:
            close()
        expect(self.page.get_by_role("dialog")).to_have_count(0, timeout=T)
        expect(self.page.get_by_role("alertdialog")).to_have_count(0, timeout=T)


def open_nav_on_a_phone(page: Page, device: str) -> None:
    """On a phone the switcher and the links fold behind the menu button."""
    if device == "phone" and page.locator("#nav-toggle").get_attribute("aria-expanded") != "true":
        page.locator("#nav-toggle").click()
        expect(page.locator("#workspace-switcher")).to_be_visible(timeout=T)


@pytest.mark.parametrize("device", ["desktop", "phone"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_critical_or_serious_violation_on_any_page_or_dialog(
    browser: Browser, console: Console, scheme: str, device: str
) -> None:
    context = browser.new_context(color_scheme=scheme, viewport=VIEWPORTS[device])
    page = context.new_page()
    audit = Auditor(page, console.base_url)

    page.goto(f"{console.base_url}/sign-in")
    expect(page.locator("#sign-in-submit")).to_be_visible(timeout=T)
    expect(page.locator("html")).to_have_class(re.compile(scheme), timeout=T)
    audit.check("/sign-in")
    audit.visit("/sign-up", "#sign-up-submit")
    audit.visit("/invite?token=inv_not-a-real-one", "#invitation-invalid")
    audit.visit("/no-such-page", "#not-found-heading")

    email = f"a11y-{uuid.uuid4().hex[:10]}@example.com"
    console.cli("create-user", email, "--admin", input_text=PASSWORD + "\n")
    console.cli("create-profile", email, "Strict", "--categories", "gender,age", "--action", "block")
    console.create_key(email, "a11y-key", "--profile", "Strict")
    sign_in(page, console, email)
    expect(page.locator("#keys-table")).to_be_visible(timeout=T)
    audit.check("/keys")
    page.locator("[id^='actions-key_']").first.click()
    expect(page.get_by_role("menu")).to_be_visible(timeout=T)
    audit.check("row actions menu")
    page.keyboard.press("Escape")
    expect(page.get_by_role("menu")).to_have_count(0, timeout=T)
    if device == "phone":
        open_nav_on_a_phone(page, device)
        audit.check("navigation menu")
        page.keyboard.press("Escape")
        expect(page.locator("#nav-keys")).to_be_hidden(timeout=T)
    audit.dialog("create key", "#create-key-button", "#create-name")
    audit.dialog("help", "#open-help", "#help-status-table")
    audit.dialog("edit key", "[id^='edit-key_']", "#edit-name")
    audit.dialog("delete key", "[id^='delete-key_']", "#delete-warning")
    audit.dialog("roll key", "[id^='roll-key_']", "#roll-submit")
    page.locator("#create-key-button").click()
    page.locator("#create-submit").click()
    expect(page.locator("#new-key-secret")).to_be_visible(timeout=T)
    audit.check("new key reveal")
    page.locator("#copy-new-key").click()
    toast = page.locator("[data-sonner-toast]")
    expect(toast).to_be_visible(timeout=T)
    page.wait_for_timeout(600)  # fully faded in
    audit.audited.append("toast")
    if violations := serious_violations(page):
        audit.found["toast"] = violations
    page.locator("#create-done").click()
    expect(page.get_by_role("dialog")).to_have_count(0, timeout=T)

    page.locator("[id^='link-key_']").first.click()
    expect(page.locator("#detail-name")).to_be_visible(timeout=T)
    audit.check("key page")

    audit.visit("/profiles", "[id^='profile-row-']")
    audit.dialog("create profile", "#create-profile-button", "#profile-name")
    audit.dialog("edit profile", "[id^='edit-profile-']", "#profile-name")
    audit.dialog("delete profile", "[id^='delete-profile-']", "#profile-delete-cancel")

    audit.visit("/activity", "#activity-filter")
    team_id = console.cli("create-workspace", email, "A11y team").stdout.strip()
    audit.visit(f"/keys?joined={team_id}", "#joined-notice")  # the notice after joining a team
    audit.visit("/members", "#members-table")
    open_nav_on_a_phone(page, device)
    choose(page, "#workspace-switcher", "A11y team (owner)")
    expect(page.locator("#workspace-switcher")).to_have_text("A11y team (owner)", timeout=T)
    audit.check("/members of a team")
    audit.dialog("invite", "#invite-open", "#invite-submit")
    audit.dialog("new role", "#role-new", "#role-name")
    audit.dialog("delete workspace", "#workspace-delete-open", "#workspace-delete-name")
    open_nav_on_a_phone(page, device)
    audit.dialog("new workspace", "#new-workspace", "#new-workspace-name")

    audit.visit("/tokens", "#create-token-button")
    audit.dialog("create token", "#create-token-button", "#token-name")
    audit.visit("/admin", "#admin-users")
    audit.visit("/account", "#account-submit")
    audit.visit("/notices", "#notices-empty")
    context.close()

    assert len(audit.audited) >= 25, audit.audited
    assert not audit.found, "\n".join(f"{label}: {v}" for label, vs in audit.found.items() for v in vs)


def test_a_skip_link_reaches_the_main_content_first(page: Page, console: Console) -> None:
    email = f"skip-{uuid.uuid4().hex[:10]}@example.com"
    console.cli("create-user", email, input_text=PASSWORD + "\n")
    sign_in(page, console, email)
    page.keyboard.press("Tab")
    skip = page.locator("#skip-to-content")
    expect(skip).to_be_focused(timeout=T)
    expect(skip).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("#main-content")).to_be_focused(timeout=T)
    page.keyboard.press("Tab")  # the next stop is inside the page, not the navigation
    assert page.evaluate("() => document.getElementById('main-content').contains(document.activeElement)")
