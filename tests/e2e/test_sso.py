"""Single sign-on (OIDC) in Chromium against a real OpenID provider (tests/oidc: npm's
oidc-provider on 127.0.0.1, authorization code flow with PKCE): "Sign in with Test IdP" makes a new
account under the open sign-up policy (whose sudo mode is "Sign in again with Test IdP", and which
sets its first password on Account) and signs
an existing account in by its email (any case);
a forged state (another browser's real answer, or one made up) and an email the provider did not
verify land on the sign-in page with a message and no session."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Browser, Page, expect

from tests import oidc
from tests.conftest import Console
from tests.e2e.test_two_factor import _age_sessions

CALLBACK = oidc.CALLBACK


@pytest.fixture(autouse=True)
def _provider_running(console: Console) -> None:
    if "APIKEYS_OIDC_ISSUER" not in console.env:
        pytest.fail(f"the shared console has no single sign-on: {oidc.missing()}")


def _to_provider(page: Page, console: Console) -> None:
    """The sign-in page's button, then the provider's own login page."""
    page.goto(f"{console.base_url}/sign-in")
    button = page.locator("#sso-sign-in")
    expect(button).to_have_text("Sign in with Test IdP")
    button.click()
    expect(page.locator("#login-email")).to_be_visible()
    assert page.url.startswith(console.env["APIKEYS_OIDC_ISSUER"] + "/interaction/")


def _at_provider(page: Page, email: str, *, verified: bool = True) -> None:
    page.fill("#login-email", email)
    if not verified:
        page.uncheck("#login-verified")
    page.click("#login-submit")


def _session_cookies(page: Page) -> list[str]:
    return [c["name"] for c in page.context.cookies() if c["name"] in ("apikeys_session", "apikeys_oidc")]


def test_sso_makes_a_new_account_and_signs_an_existing_one_in(browser: Browser, console: Console) -> None:
    # A new email, open sign-up (the shared console's policy): an account, straight to its keys.
    new_email = f"sso-new-{uuid.uuid4().hex[:10]}@example.com"
    with browser.new_context(base_url=console.base_url) as context:
        page = context.new_page()
        _to_provider(page, console)
        _at_provider(page, new_email)
        page.wait_for_url(re.compile(r".*/w/ws_[^/]+/keys/?$"))
        expect(page.locator("#signed-in-email")).to_have_text(new_email)
        assert _session_cookies(page) == ["apikeys_session"]  # the flow's cookie is spent
        # Sudo mode, for an account with no password: the provider authenticates the person again.
        _age_sessions(console, new_email)
        page.goto(f"{console.base_url}/tokens")
        page.click("#create-token-button")
        page.fill("#token-name", "after-sso")
        page.click("#token-submit")
        again = page.locator("#reauth-sso")
        expect(again).to_have_text("Sign in again with Test IdP")
        again.click()
        _at_provider(page, new_email)  # asked to log in again (prompt=login), not waved through
        page.wait_for_url(re.compile(r".*/w/ws_[^/]+/tokens/?$"))
        expect(page.locator("#reauth-dialog")).to_have_count(0)
        page.click("#create-token-button")  # the action again, within the fresh proof
        page.fill("#token-name", "after-sso")
        page.click("#token-submit")
        expect(page.locator("#new-token-secret")).not_to_have_value("", timeout=20_000)
        [(password_hash,)] = console.rows("SELECT password_hash FROM users WHERE email = :e", e=new_email)
        assert not password_hash.startswith("$argon2")  # no password: single sign-on only
        # Account offers "Set a password" (no current one to give), within the fresh proof.
        page.goto(f"{console.base_url}/account")
        expect(page.locator("#account-submit")).to_have_text("Set password")
        expect(page.locator("#account-current_password")).to_have_count(0)
        page.fill("#account-new_password", "a-first-password-for-sso-42")
        page.fill("#account-confirm_password", "a-first-password-for-sso-42")
        page.click("#account-submit")
        expect(page.locator("#account-submit")).to_have_text("Change password")
        expect(page.locator("#account-current_password")).to_be_visible()
        expect(page.locator("#signed-in-email")).to_have_text(new_email)  # still signed in
    [(password_hash,)] = console.rows("SELECT password_hash FROM users WHERE email = :e", e=new_email)
    assert password_hash.startswith("$argon2")

    # An account made with a password, named by the provider in another case: the same account.
    existing = console.new_user()
    with browser.new_context(base_url=console.base_url) as context:
        page = context.new_page()
        page.goto(f"{console.base_url}/account")  # signed out: sign-in remembers the page
        page.wait_for_url(re.compile(r".*/sign-in\?next=%2Faccount"))
        page.click("#sso-sign-in")
        _at_provider(page, existing.upper())
        page.wait_for_url(re.compile(r".*/account/?$"))
        expect(page.locator("#signed-in-email")).to_have_text(existing)
    events = console.rows(
        "SELECT action, detail FROM audit_events WHERE actor = :e ORDER BY id", e=existing.lower()
    )
    assert ("user.sign_in", "single sign-on") in [tuple(row) for row in events]


def test_a_forged_state_and_an_unverified_email_sign_nobody_in(browser: Browser, console: Console) -> None:
    victim_email = console.new_user()
    # The attacker's own, genuine answer from the provider (code and state), caught on its way back...
    with browser.new_context(base_url=console.base_url) as attacker:
        page = attacker.new_page()
        page.route(f"**{CALLBACK}*", lambda route: route.abort())
        _to_provider(page, console)
        with page.expect_request(lambda request: CALLBACK in request.url) as answer:
            _at_provider(page, f"attacker-{uuid.uuid4().hex[:8]}@example.com")
        forged = answer.value.url
    assert "code=" in forged and "state=" in forged

    # ...opened in the victim's browser (login CSRF): refused, the victim is not signed in as anyone.
    with browser.new_context(base_url=console.base_url) as victim:
        page = victim.new_page()
        page.goto(f"{console.base_url}/sign-in")
        page.click("#sso-sign-in")  # even with a request of its own in flight
        expect(page.locator("#login-email")).to_be_visible()
        page.goto(forged)
        page.wait_for_url(re.compile(r".*/sign-in/?\?error=sso_state"))
        expect(page.locator("#auth-error")).to_contain_text("could not be finished in this browser")
        assert _session_cookies(page) == []
        # a state made up from nothing: the same
        page.goto(f"{console.base_url}{CALLBACK}?code=made-up&state=made-up")
        expect(page.locator("#auth-error")).to_contain_text("could not be finished in this browser")
        assert _session_cookies(page) == []

        # An email the provider has not verified (the victim's address!): nobody signed in.
        _to_provider(page, console)
        _at_provider(page, victim_email, verified=False)
        page.wait_for_url(re.compile(r".*/sign-in/?\?error=sso_unverified"))
        expect(page.locator("#auth-error")).to_contain_text("Test IdP has not verified your email address")
        assert _session_cookies(page) == []
    refused = console.rows(
        "SELECT detail FROM audit_events WHERE action = 'user.sign_in_failed' AND actor = :e", e=victim_email
    )
    assert [row[0] for row in refused] == ["single sign-on: sso_unverified"]
