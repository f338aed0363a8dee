"""Foundation flow: sign up, a CLI-created key shows masked, a verify call updates Last Used."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.conftest import Console
from tests.e2e.conftest import sign_up


def test_unauthenticated_visitor_is_sent_to_sign_in(page: Page, console: Console) -> None:
    page.goto(f"{console.base_url}/keys")
    page.wait_for_url("**/sign-in**")
    expect(page.locator("#sign-in-submit")).to_be_visible()


def test_cli_key_appears_masked_and_last_used_updates_after_verify(page: Page, console: Console) -> None:
    email = sign_up(page, console)
    secret = console.create_key(email, "billing-service")
    key_id = console.cli("list-keys", email).stdout.splitlines()[1].split("\t")[0]
    page.reload()
    row = page.locator(f"#row-{key_id}")
    expect(row).to_be_visible()
    expect(page.locator(f"#masked-{key_id}")).to_have_text("bpk_••••••••" + secret[-4:])
    expect(row).not_to_contain_text(secret)
    expect(page.locator(f"#last-used-{key_id}")).to_have_text("Never")

    response = console.verify(secret)
    assert response.json()["valid"] is True
    # No reload: the page refreshes on its own within a few seconds.
    expect(page.locator(f"#last-used-{key_id}")).not_to_have_text("Never", timeout=15_000)
    expect(page.locator(f"#last-used-{key_id}")).to_contain_text(re.compile(r"just now|seconds? ago"))
