"""Single sign-on over HTTP, against the real OpenID provider (tests/oidc) and the shared console:
an account with two-factor on is asked for its code after the provider (no session before it);
an account is bound to the provider's person, and another person with its address is refused;
the request cookie is sealed, HttpOnly and spent by its callback, so the same answer twice signs
in once; the provider's refusal and a made-up error land on the sign-in page with no session."""

from __future__ import annotations

import re
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pyotp
import pytest

from tests import oidc
from tests.api.test_two_factor_forms import _turn_on
from tests.conftest import Console

CALLBACK = oidc.CALLBACK


@pytest.fixture(autouse=True)
def _provider_running(console: Console) -> None:
    if "APIKEYS_OIDC_ISSUER" not in console.env:
        pytest.fail(f"the shared console has no single sign-on: {oidc.missing()}")


def _set_cookies(response: httpx.Response) -> dict[str, SimpleCookie]:
    found = {}
    for header in response.headers.get_list("set-cookie"):
        cookie = SimpleCookie()
        cookie.load(header)
        found.update({name: cookie for name in cookie})
    return found


def _at_provider(browser: httpx.Client, url: str, email: str, action: str = "login", person: str = "") -> str:
    """Follow the provider's redirects, post its login form; the callback URL it sends us to.
    `person`: who the provider says it is (its `sub`), by default the one person of `email`."""
    response = browser.get(url)
    while response.status_code in (302, 303):
        response = browser.get(urljoin(str(response.url), response.headers["location"]))
    uid = re.search(r'action="/interaction/([^"]+)"', response.text)
    assert uid, response.text[:500]
    form = {"email": email, "verified": "1", "action": action, **({"person": person} if person else {})}
    response = browser.post(urljoin(str(response.url), f"/interaction/{uid.group(1)}"), data=form)
    while response.status_code in (302, 303) and CALLBACK not in response.headers["location"]:
        response = browser.get(urljoin(str(response.url), response.headers["location"]))
    return response.headers["location"]


def _start(console: Console, browser: httpx.Client) -> httpx.Response:
    """The sign-in page's link; the browser sends the page as Referer (Referrer-Policy same-origin)."""
    page = {"Referer": f"{console.base_url}/sign-in"}
    started = browser.get(f"{console.base_url}/api/v1/auth/oidc/start", headers=page)
    assert started.status_code == 303, started.text
    return started


def _error(response: httpx.Response) -> str:
    return parse_qs(urlsplit(response.headers["location"]).query).get("error", [""])[0]


def test_two_factor_is_still_asked_after_the_provider(console: Console) -> None:
    email = console.new_user()
    secret, _codes = _turn_on(console, email)
    with httpx.Client(timeout=20) as browser:
        started = _start(console, browser)
        flow = _set_cookies(started)["apikeys_oidc"]["apikeys_oidc"]
        assert flow["httponly"] and flow["samesite"] == "lax" and flow["path"] == "/api/v1/auth/oidc"
        assert "." in flow.value and "state" not in flow.value  # sealed
        location = started.headers["location"]
        query = parse_qs(urlsplit(location).query)
        assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
        callback = _at_provider(browser, location, email.upper())
        answered = browser.get(callback)
        assert answered.status_code == 303
        assert urlsplit(answered.headers["location"]).path == "/sign-in"
        assert parse_qs(urlsplit(answered.headers["location"]).query)["step"] == ["code"]
        cookies = _set_cookies(answered)
        assert "apikeys_session" not in cookies and "apikeys_pending" in cookies
        # the code step completes it, as after a password
        code = browser.post(
            f"{console.base_url}/api/v1/auth/sign-in/code",
            data={"code": pyotp.TOTP(secret).now()},
            headers={"Origin": console.base_url},
        )
        assert code.status_code == 303 and "apikeys_session" in _set_cookies(code)
        # the same answer again: its request cookie is spent, so it signs nobody in
        again = browser.get(callback)
        assert _error(again) == "sso_state" and "apikeys_session" not in _set_cookies(again)


def test_the_providers_refusal_and_made_up_errors_sign_nobody_in(console: Console) -> None:
    with httpx.Client(timeout=20) as browser:
        started = _start(console, browser)
        callback = _at_provider(browser, started.headers["location"], "someone@example.com", action="cancel")
        assert "error=access_denied" in callback
        refused = browser.get(callback)
        assert _error(refused) == "sso_cancelled" and "apikeys_session" not in _set_cookies(refused)
    for query in ("error=server_error&state=x", "code=x", "", "state=" + "x" * 600, "error=%3Cscript%3E"):
        made_up = httpx.get(f"{console.base_url}{CALLBACK}?{query}", timeout=20)
        assert made_up.status_code in (303, 422), made_up.text
        assert "apikeys_session" not in _set_cookies(made_up)
        assert "<script>" not in made_up.headers.get("location", "") + made_up.text


def _sso(console: Console, email: str, person: str) -> httpx.Response:
    """One whole single sign-on in a new browser, as `person` at the provider with `email`."""
    with httpx.Client(timeout=20) as browser:
        started = _start(console, browser)
        return browser.get(_at_provider(browser, started.headers["location"], email, person=person))


def test_an_address_handed_on_at_the_provider_does_not_hand_on_the_account(console: Console) -> None:
    email = console.new_user()
    first = _sso(console, email, "the-owner")
    assert first.status_code == 303 and "apikeys_session" in _set_cookies(first)
    newcomer = _sso(console, email, "a-newcomer")
    assert _error(newcomer) == "sso_other_person" and "apikeys_session" not in _set_cookies(newcomer)
    again = _sso(console, email, "the-owner")  # the owner still signs in
    assert "apikeys_session" in _set_cookies(again)
    console.cli("sso-unlink", email)  # the operator: the newcomer is the owner now
    taken = _sso(console, email, "a-newcomer")
    assert "apikeys_session" in _set_cookies(taken)
    refused = _sso(console, email, "the-owner")
    assert _error(refused) == "sso_other_person"
