"""The rest of the console in Chromium: expiry choices, end dates, stale edits, keyboard use,
the Activity page and the password change that signs every browser out."""

from __future__ import annotations

import datetime as dt
import re

from playwright.sync_api import Browser, Page, expect

from tests.conftest import PASSWORD, Console
from tests.e2e.conftest import choose, key_ids, only_key_id, sign_in, sign_up

T = 15_000


def _create(page: Page, name: str, expiry_label: str | None = None, custom_date: str | None = None) -> None:
    page.click("#create-key-button")
    page.fill("#create-name", name)
    if expiry_label:
        choose(page, "#create-expiry", expiry_label)
    if custom_date:
        page.fill("#create-custom-date", custom_date)
    page.click("#create-submit")
    expect(page.locator("#new-key-secret")).to_have_value(re.compile(r"^bpk_"), timeout=T)
    page.click("#copy-new-key")
    page.click("#create-done")
    expect(page.locator("#create-dialog")).to_have_count(0, timeout=T)


def test_expiry_choices_set_the_end_date(page: Page, console: Console) -> None:
    email = sign_up(page, console)
    _create(page, "thirty-days", "30 days")
    key_id = only_key_id(console, email)
    expected = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).strftime("%Y-%m-%d")
    expect(page.locator(f"#expires-{key_id}")).to_contain_text(expected, timeout=T)

    custom = (dt.date.today() + dt.timedelta(days=45)).isoformat()
    _create(page, "custom-date", "Custom date", custom)
    # the end of that day in the browser's zone (this browser runs in UTC): local text, UTC title
    custom_id = next(k for k in key_ids(console, email) if k != key_id)
    expect(page.locator(f"#expires-at-{custom_id}")).to_have_text(f"{custom} 23:59", timeout=T)
    expect(page.locator(f"#expires-at-{custom_id}")).to_have_attribute("title", f"{custom} 23:59:59 UTC")

    # a date in the past is refused inline and creates nothing
    page.click("#create-key-button")
    page.fill("#create-name", "in-the-past")
    choose(page, "#create-expiry", "Custom date")
    page.fill("#create-custom-date", "2020-01-01")
    page.click("#create-submit")
    expect(page.get_by_text("End date must be today or later.")).to_be_visible(timeout=T)
    page.click("#create-cancel")
    assert "in-the-past" not in console.cli("list-keys", email).stdout


def test_edit_end_date_and_stale_edit_is_refused(page: Page, console: Console) -> None:
    email = sign_up(page, console)
    console.create_key(email, "dated")
    key_id = only_key_id(console, email)
    page.reload()
    page.click(f"#edit-{key_id}")
    end = (dt.date.today() + dt.timedelta(days=10)).isoformat()
    page.fill("#edit-end-date", end)
    page.click("#edit-save")
    expect(page.locator(f"#expires-{key_id}")).to_contain_text(end, timeout=T)

    # another tab (here: the CLI) changes the key while the dialog is open
    page.click(f"#edit-{key_id}")
    page.fill("#edit-name", "renamed-here")
    console.cli("set-key-status", email, key_id, "INACTIVE")
    page.click("#edit-save")
    expect(page.get_by_text("This key was changed somewhere else")).to_be_visible(timeout=T)
    listing = console.cli("list-keys", email).stdout
    assert "renamed-here" not in listing and "dated\t" in listing
    # "Reload" reads the key again into the dialog: current values, and saving now works
    page.click("#edit-reload")
    expect(page.locator("#edit-name")).to_have_value("dated", timeout=T)
    expect(page.locator("#edit-status")).to_contain_text("INACTIVE")
    expect(page.get_by_text("This key was changed somewhere else")).to_have_count(0)
    expect(page.locator("#edit-reload")).to_have_count(0)
    page.fill("#edit-name", "renamed-after-reload")
    page.click("#edit-save")
    expect(page.locator("#edit-dialog")).to_have_count(0, timeout=T)
    listing = console.cli("list-keys", email).stdout
    assert "renamed-after-reload" in listing and "INACTIVE" in listing


def test_keyboard_opens_and_closes_dialogs(page: Page, console: Console) -> None:
    sign_up(page, console)
    button = page.locator("#create-key-button")
    button.focus()
    expect(button).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#create-name")).to_be_focused(timeout=T)
    page.keyboard.type("typed-with-keys")
    page.keyboard.press("Escape")
    expect(page.locator("#create-dialog")).to_have_count(0, timeout=T)
    page.locator("#open-help").focus()
    expect(page.locator("#open-help")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#help-dialog")).to_be_visible(timeout=T)
    page.keyboard.press("Escape")
    expect(page.locator("#help-dialog")).to_have_count(0, timeout=T)


def test_activity_page_lists_own_events_filterable_by_key(page: Page, console: Console) -> None:
    email = sign_up(page, console)
    console.create_key(email, "audited-one")
    console.create_key(email, "audited-two")
    first = console.cli("list-keys", email).stdout.splitlines()[1].split("\t")[0]
    console.cli("set-key-status", email, first, "INACTIVE")
    page.click("#nav-activity")
    table = page.locator("#activity-table")
    expect(table).to_contain_text("user.sign_up", timeout=T)
    expect(table).to_contain_text("key.create")
    expect(table).to_contain_text("key.status")
    expect(table).to_contain_text("Name: audited-one", timeout=T)  # readable detail, not name='…'
    expect(table).not_to_contain_text("name='")
    page.set_viewport_size({"width": 1400, "height": 900})
    expect(table).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.fill("#activity-filter", first)
    expect(table.locator("tbody tr")).to_have_count(2, timeout=T)  # create + status change
    expect(table).not_to_contain_text("user.sign_up")
    assert "bpk_" not in table.inner_text().replace("bpk_••••", "")


def test_password_change_signs_out_every_browser(browser: Browser, page: Page, console: Console) -> None:
    email = sign_up(page, console)
    other = browser.new_context().new_page()
    sign_in(other, console, email)

    page.click("#signed-in-email")
    page.fill("#account-current_password", PASSWORD)
    page.fill("#account-new_password", "a-brand-new-password-77")
    page.fill("#account-confirm_password", "a-brand-new-password-77")
    page.click("#account-submit")
    page.wait_for_url(re.compile(r".*/sign-in"), timeout=T)

    # the other browser loses access on its next event (the page refreshes every few seconds)
    other.wait_for_url(re.compile(r".*/sign-in"), timeout=T)
    expect(other.locator("#auth-error")).to_contain_text("Your session has ended", timeout=T)
    # and it returns there (the keys page of its workspace) after signing in again
    assert re.search(r"next=%2Fw%2Fws_\w+%2Fkeys$", other.url), other.url
    sign_in(page, console, email, "a-brand-new-password-77")
