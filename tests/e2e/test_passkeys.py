"""Passkeys in Chromium with a CDP virtual authenticator (a platform authenticator that verifies
the user): add one on the Account page, sign out, sign in with the passkey alone; the passkey as
the second step after the password; re-authentication with the passkey before removing it; a
removed passkey no longer signs in."""

from __future__ import annotations

import re
import subprocess
import sys

from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD, ROOT, Console
from tests.e2e.axe import serious_violations
from tests.e2e.conftest import sign_up
from tests.e2e.test_phone import _SMALL_TARGETS
from tests.e2e.test_two_factor import _AGE_SESSIONS

WAIT = 30_000


def virtual_authenticator(page: Page) -> None:
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )


def add_passkey(page: Page, console: Console, name: str) -> None:
    page.goto(f"{console.base_url}/account")
    page.click("#passkey-add")
    expect(page.locator("#passkey-name")).to_be_focused(timeout=WAIT)
    page.fill("#passkey-name", name)
    assert serious_violations(page) == []
    page.click("#passkey-create")
    expect(page.locator("#passkey-list")).to_contain_text(name, timeout=WAIT)


def _signed_in(page: Page, email: str) -> None:
    page.wait_for_url(re.compile(r".*/keys/?$"), timeout=WAIT)
    expect(page.locator("#signed-in-email")).to_have_text(email, timeout=WAIT)


def _signed_out(page: Page, console: Console) -> None:
    page.context.clear_cookies()
    page.goto(f"{console.base_url}/sign-in")
    expect(page.locator("#passkey-sign-in")).to_be_visible(timeout=WAIT)
    page.wait_for_function("() => document.documentElement.dataset.passkeys === 'ready'", timeout=WAIT)


def test_passkey_add_sign_in_second_factor_sudo_and_remove(page: Page, console: Console) -> None:
    virtual_authenticator(page)
    email = sign_up(page, console)
    add_passkey(page, console, "Laptop")
    row = page.locator("[id^='passkey-row-']")
    expect(row).to_have_count(1)
    passkey_id = (row.get_attribute("id") or "").removeprefix("passkey-row-")

    # signed out: the passkey alone signs in (no email, no password)
    _signed_out(page, console)
    assert serious_violations(page) == []
    page.click("#passkey-sign-in")
    _signed_in(page, email)

    # the password alone is no longer enough: the second step takes the passkey
    _signed_out(page, console)
    page.fill("#sign-in-email", email)
    page.fill("#sign-in-password", PASSWORD)
    page.click("#sign-in-submit")
    page.wait_for_url(re.compile(r".*/sign-in/?\?step=code"), timeout=WAIT)
    page.wait_for_function("() => document.documentElement.dataset.passkeys === 'ready'", timeout=WAIT)
    page.click("#passkey-second-factor")
    _signed_in(page, email)

    # removing asks for confirmation, then (an old session) for identity: the passkey proves it
    subprocess.run(
        [sys.executable, "-c", _AGE_SESSIONS], cwd=ROOT, env=console.env, input=email, text=True, check=True
    )
    page.goto(f"{console.base_url}/account")
    page.click(f"#passkey-remove-{passkey_id}")
    page.click("#passkey-remove-confirm")
    expect(page.locator("#reauth-passkey")).to_be_visible(timeout=WAIT)
    assert serious_violations(page) == []
    page.click("#reauth-passkey")
    expect(page.locator("#passkey-none")).to_be_visible(timeout=WAIT)
    expect(page.locator(f"#passkey-row-{passkey_id}")).to_have_count(0)
    events = [
        tuple(r)
        for r in console.rows("select action, detail from audit_events where actor = :e order by id", e=email)
    ]
    assert ("user.passkey_added", "passkey: Laptop") in events
    assert ("user.sign_in", "passkey: Laptop") in events
    assert ("user.reauthenticated", "passkey") in events
    assert ("user.passkey_removed", "passkey: Laptop") in events

    # the authenticator still holds it, but the console no longer knows it
    _signed_out(page, console)
    page.click("#passkey-sign-in")
    page.wait_for_url(re.compile(r".*error=passkey_refused"), timeout=WAIT)
    expect(page.locator("#auth-error")).to_contain_text("passkey was not accepted")
    expect(page.locator("#signed-in-email")).to_have_count(0)


def test_passkey_sign_in_on_a_phone(page: Page, console: Console) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    virtual_authenticator(page)
    email = sign_up(page, console)
    add_passkey(page, console, "Phone")
    expect(page.locator("[id^='passkey-remove-']")).to_have_count(1)
    small = page.evaluate(_SMALL_TARGETS, 44)  # every control of the Account page, passkeys included
    assert small == [], small
    _signed_out(page, console)
    box = page.locator("#passkey-sign-in").bounding_box()
    assert box is not None and box["height"] >= 44
    page.click("#passkey-sign-in")
    _signed_in(page, email)
