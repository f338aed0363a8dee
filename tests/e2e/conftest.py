"""Browser helpers: every test signs up its own user, so tests never depend on each other."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD, Console


def sign_up(page: Page, console: Console, email: str | None = None, password: str = PASSWORD) -> str:
    email = email or f"web-{uuid.uuid4().hex[:12]}@example.com"
    page.goto(f"{console.base_url}/sign-up")
    page.fill("#sign-up-email", email)
    page.fill("#sign-up-password", password)
    page.fill("#sign-up-confirm", password)
    page.click("#sign-up-submit")
    page.wait_for_url(re.compile(r".*/keys/?$"))
    expect(page.locator("#signed-in-email")).to_have_text(email)
    return email


def sign_in(page: Page, console: Console, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{console.base_url}/sign-in")
    page.fill("#sign-in-email", email)
    page.fill("#sign-in-password", password)
    page.click("#sign-in-submit")
    page.wait_for_url(re.compile(r".*/keys/?$"))
    expect(page.locator("#signed-in-email")).to_have_text(email)


def choose(page: Page, trigger_selector: str, option_label: str) -> None:
    """Pick an option from a Radix select."""
    page.click(trigger_selector)
    page.get_by_role("option", name=option_label, exact=True).click()


@pytest.fixture()
def signed_in(page: Page, console: Console) -> str:
    return sign_up(page, console)
