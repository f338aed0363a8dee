"""Leak reports in the console (issue 26, item 3): an owner picks the workspace's leak policy in
Workspace settings (the select `leak-policy`), and a key reported by a signed GitHub report shows
"Leaked" and where it was found on its page (desktop and phone; axe on the key page)."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from playwright.sync_api import Browser, expect

from tests.conftest import SECRET_SCANNING_KEY, SECRET_SCANNING_KEY_ID, Console
from tests.e2e.axe import serious_violations
from tests.e2e.conftest import choose, only_key_id, sign_up

T = 20_000
URL = "https://github.com/octo/app/blob/abc/leaked.env#L2"
VIEWPORTS = {"desktop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}


def _report(console: Console, secret: str) -> None:
    body = json.dumps(
        [{"token": secret, "type": "keyconsole_api_key", "url": URL, "source": "content"}]
    ).encode()
    signature = base64.b64encode(SECRET_SCANNING_KEY.sign(body, ec.ECDSA(hashes.SHA256()))).decode()
    headers = {
        "Github-Public-Key-Identifier": SECRET_SCANNING_KEY_ID,
        "Github-Public-Key-Signature": signature,
    }
    answer = httpx.post(
        f"{console.base_url}/api/v1/secret-scanning/github", content=body, headers=headers, timeout=30
    )
    assert answer.json()[0]["label"] == "true_positive", answer.text


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_the_policy_select_and_the_leaked_key_page(browser: Browser, console: Console, viewport: str) -> None:
    context = browser.new_context(viewport=VIEWPORTS[viewport])
    page = context.new_page()
    page.set_default_timeout(T)
    try:
        email = sign_up(page, console)
        page.goto(f"{console.base_url}/members")
        expect(page.locator("#leak-policy")).to_contain_text("Disable the key", timeout=T)
        box = page.locator("#leak-policy").bounding_box()
        assert box and (viewport == "desktop" or box["height"] >= 44), box
        choose(page, "#leak-policy", "Notify only (record and show a notice)")
        expect(page.locator("[data-sonner-toast]")).to_contain_text("Leak policy: Notify only", timeout=T)
        page.reload()
        expect(page.locator("#leak-policy")).to_contain_text("Notify only", timeout=T)
        choose(page, "#leak-policy", "Disable the key (recommended)")
        expect(page.locator("[data-sonner-toast]").last).to_contain_text("Disable the key", timeout=T)

        secret = console.create_key(email, "leaky")
        _report(console, secret)
        page.goto(f"{console.base_url}/keys/{only_key_id(console, email)}")
        notice = page.locator("#key-leaked")
        expect(notice).to_contain_text("Leaked: this key was turned INACTIVE", timeout=T)
        expect(page.locator("#key-leaked-url")).to_have_attribute("href", URL, timeout=T)
        if viewport == "desktop":
            expect(page.locator("[data-sonner-toast]")).to_have_count(0, timeout=T)
            assert serious_violations(page) == []
    finally:
        context.close()
