"""Issue 10, item 5: what the user typed survives a failed sign-in, sign-up or password change."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD, Console
from tests.e2e.conftest import sign_up

T = 15_000


def _ready(page: Page) -> None:
    """The page's script that remembers the email is loaded (a person is never faster than this)."""
    expect(page.locator("html[data-keep-email=ready]")).to_have_count(1, timeout=T)


def test_failed_sign_in_keeps_the_email_not_the_password(page: Page, console: Console) -> None:
    email = console.new_user()
    page.goto(f"{console.base_url}/sign-in")
    _ready(page)
    page.fill("#sign-in-email", email)
    page.fill("#sign-in-password", PASSWORD + "-wrong")
    page.click("#sign-in-submit")
    expect(page.locator("#auth-error")).to_contain_text("Incorrect email or password", timeout=T)
    assert email not in page.url  # the email never travels in the URL
    expect(page.locator("#sign-in-email")).to_have_value(email, timeout=T)
    expect(page.locator("#sign-in-password")).to_have_value("")
    page.fill("#sign-in-password", PASSWORD)
    page.click("#sign-in-submit")
    page.wait_for_url(re.compile(r".*/keys/?$"), timeout=T)


def test_failed_sign_up_keeps_the_email(page: Page, console: Console) -> None:
    typed = f"new-{uuid.uuid4().hex[:8]}@example.com"
    page.goto(f"{console.base_url}/sign-up")
    _ready(page)
    page.fill("#sign-up-email", typed)
    page.fill("#sign-up-password", PASSWORD)
    page.fill("#sign-up-confirm", PASSWORD + "x")
    page.click("#sign-up-submit")
    expect(page.locator("#auth-error")).to_contain_text("do not match", timeout=T)
    expect(page.locator("#sign-up-email")).to_have_value(typed, timeout=T)
    assert typed not in page.url


def test_plain_visit_to_sign_in_is_empty(page: Page, console: Console) -> None:
    page.goto(f"{console.base_url}/sign-in?error=invalid")
    expect(page.locator("#auth-error")).to_be_visible(timeout=T)
    expect(page.locator("#sign-in-email")).to_have_value("")


def test_account_form_keeps_input_on_error_and_states_the_rules(page: Page, console: Console) -> None:
    email = sign_up(page, console)
    page.click("#signed-in-email")
    _ready(page)
    expect(page.locator("#account-password-rules")).to_contain_text("At least 8", timeout=T)
    page.fill("#account-current_password", PASSWORD)
    page.fill("#account-new_password", "a-brand-new-password-77")
    page.fill("#account-confirm_password", "a-different-password-77")
    page.click("#account-submit")
    expect(page.locator("#account-error")).to_contain_text("do not match", timeout=T)
    expect(page.locator("#account-new_password")).to_have_value("a-brand-new-password-77")
    expect(page.locator("#account-current_password")).to_have_value(PASSWORD)
    page.fill("#account-confirm_password", "a-brand-new-password-77")
    page.click("#account-submit")
    page.wait_for_url(re.compile(r".*/sign-in"), timeout=T)
    expect(page.locator("#sign-in-email")).to_have_value(email, timeout=T)


def test_unknown_page_is_a_real_404_with_a_way_back(page: Page, console: Console) -> None:
    page.goto(f"{console.base_url}/no-such-page-{uuid.uuid4().hex[:6]}")
    expect(page.locator("#not-found-heading")).to_have_text("Page not found", timeout=T)
    page.click("#not-found-home")
    page.wait_for_url(re.compile(r".*/sign-in"), timeout=T)


def test_new_users_profile_picker_says_where_profiles_come_from(page: Page, console: Console) -> None:
    email = sign_up(page, console)
    page.click("#create-key-button")
    hint = page.locator("#create-profile-hint")
    expect(hint).to_contain_text("No Bias Profiles yet", timeout=T)
    expect(page.locator("#create-profile-hint-link")).to_have_attribute(
        "href", re.compile(r"^/w/ws_\w+/profiles$")
    )
    page.keyboard.press("Escape")
    expect(page.locator("#create-dialog")).to_have_count(0, timeout=T)
    console.cli(
        "create-profile",
        email,
        "strict",
        "--categories",
        "gender",
        "--sensitivity",
        "0.5",
        "--action",
        "flag",
    )
    page.click("#create-key-button")
    expect(page.locator("#create-profile")).to_be_visible(timeout=T)
    expect(hint).to_have_count(0, timeout=T)


def test_sign_in_returns_to_the_page_asked_for(page: Page, console: Console) -> None:
    email = console.new_user()
    page.goto(f"{console.base_url}/activity?key=key_none")
    page.wait_for_url(re.compile(r".*/sign-in/?\?next=%2Factivity(%2F)?%3Fkey%3Dkey_none$"), timeout=T)
    expect(page.locator("#auth-error")).to_have_count(0)  # never signed in here: nothing "ended"
    expect(page.locator("#sign-in-next")).to_have_value(re.compile(r"^/activity/?\?key=key_none$"), timeout=T)
    page.fill("#sign-in-email", email)
    page.fill("#sign-in-password", PASSWORD)
    page.click("#sign-in-submit")
    page.wait_for_url(re.compile(r".*/activity/?\?key=key_none$"), timeout=T)
    expect(page.locator("#activity-filter")).to_have_value("key_none", timeout=T)
