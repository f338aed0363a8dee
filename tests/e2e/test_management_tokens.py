"""The Management tokens page in a real browser: create a token (shown once, with Copy), use it
with the REST API, see its Last Used, revoke it, and the API refuses it."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from tests.conftest import Console
from tests.e2e.conftest import sign_up


def test_tokens_page_creates_and_revokes_a_token(page: Page, console: Console) -> None:
    sign_up(page, console)
    page.click("#nav-tokens")
    page.wait_for_url("**/tokens")
    expect(page.locator("#tokens-empty")).to_be_visible()
    page.click("#create-token-button")
    page.fill("#token-name", "deploy-bot")
    page.click("#scope-keys-write")
    page.click("#token-submit")
    secret_field = page.locator("#new-token-secret")
    expect(secret_field).not_to_have_value("", timeout=20_000)
    secret = secret_field.input_value()
    assert secret.startswith("bpm_")
    page.click("#copy-new-token")
    page.click("#token-done")
    expect(page.locator("#token-dialog")).to_have_count(0)
    row = page.locator("#tokens-table tr", has_text="deploy-bot").first
    expect(row).to_contain_text("keys:read, keys:write")
    expect(row).to_contain_text("Never")
    assert secret not in page.content()  # gone with the dialog

    api = f"{console.base_url}/api/v1/keys"
    headers = {"Authorization": f"Bearer {secret}"}
    assert httpx.post(api, json={"name": "from-ci"}, headers=headers, timeout=30).status_code == 201
    page.reload()
    row = page.locator("#tokens-table tr", has_text="deploy-bot").first
    # Last Used is now a time, in the browser's zone (UTC here), the exact UTC time on hover
    used = row.locator(".local-time").nth(1)
    expect(used).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d$"))
    expect(used).to_have_attribute("title", re.compile(r" UTC$"))
    page.locator("[id^=revoke-tok_]").first.click()
    page.click("#revoke-confirm")
    expect(page.locator("#tokens-table tr", has_text="deploy-bot").first).to_contain_text("Revoked")
    assert httpx.get(api, headers=headers, timeout=30).status_code == 401


def test_tokens_page_on_a_phone(page: Page, console: Console) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    sign_up(page, console)
    page.goto(f"{console.base_url}/tokens")
    page.click("#create-token-button")
    page.fill("#token-name", "phone")
    page.click("#token-submit")
    expect(page.locator("#new-token-secret")).not_to_have_value("", timeout=20_000)
    box = page.locator("#copy-new-token").bounding_box()
    assert box is not None and box["x"] + box["width"] <= 390  # Copy is on screen
    page.click("#token-done")
    expect(page.locator("#tokens-table")).to_contain_text("phone")
