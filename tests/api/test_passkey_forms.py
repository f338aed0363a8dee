"""Passkey sign-in over the form API (rxapp/api/passkey_forms.py), with a software authenticator:
a passkey alone signs in once per challenge; a forged or replayed challenge, a foreign origin and a
removed passkey are refused; as the second step it needs the pending sign-in."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import httpx

from tests.api.test_two_factor_forms import PENDING, SESSION, _cookies, _password_step, _post
from tests.conftest import ROOT, Console
from tests.soft_authenticator import SoftPasskey, b64

_REGISTER = """
import json, sys
from rxapp.db import session_scope
from rxapp.services import passkeys, users
ask = json.loads(sys.stdin.read())
with session_scope() as session:
    user = users.find_user(session, ask["email"])
    if ask["step"] == "options":
        print(passkeys.registration_options(session, user.id, ask["origin"]))
    elif ask["step"] == "finish":
        print(passkeys.finish_registration(session, user.id, "Soft key", ask["credential"], ask["origin"]).id)
    else:
        passkeys.remove(session, user.id, int(ask["id"]))
"""


def _service(console: Console, **ask: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", _REGISTER],
        cwd=ROOT,
        env=console.env,
        input=json.dumps(ask),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout.strip()


def _register(console: Console, email: str) -> tuple[SoftPasskey, str]:
    device = SoftPasskey(console.base_url)
    options = _service(console, step="options", email=email, origin=console.base_url)
    passkey_id = _service(
        console, step="finish", email=email, origin=console.base_url, credential=device.create(options)
    )
    return device, passkey_id


def _options(console: Console, purpose: str, cookies: dict[str, str] | None = None) -> httpx.Response:
    return _post(console, "passkey/options", {"purpose": purpose}, cookies)


def _answer(console: Console, credential: str, **extra: str) -> httpx.Response:
    cookies = {PENDING: extra.pop("pending")} if "pending" in extra else None
    return _post(console, "passkey/sign-in", {"credential": credential, **extra}, cookies)


def test_sign_in_with_a_passkey_alone_once_per_challenge(console: Console) -> None:
    email = console.new_user()
    device, _ = _register(console, email)
    options = _options(console, "sign_in")
    assert options.status_code == 200 and options.headers["cache-control"] == "no-store"
    assert options.json()["rpId"] == "localhost" and options.json()["userVerification"] == "required"
    answer = device.get(options.text)

    signed = _answer(console, answer, next="/activity")
    assert signed.status_code == 303 and signed.headers["location"] == f"{console.base_url}/activity"
    assert _cookies(signed).get(SESSION)

    replayed = _answer(console, answer)
    assert replayed.headers["location"] == f"{console.base_url}/sign-in?error=passkey_refused"
    assert SESSION not in _cookies(replayed)

    forged = _answer(console, device.sign(b64(b"a challenge the server never made"), "localhost"))
    assert forged.headers["location"].endswith("error=passkey_refused")
    assert SESSION not in _cookies(forged)

    phished = _answer(console, device.get(_options(console, "sign_in").text, origin="https://evil.example"))
    assert SESSION not in _cookies(phished)

    events = [
        tuple(r) for r in console.rows("select action, detail from audit_events where actor = :e", e=email)
    ]
    assert ("user.sign_in", "passkey: Soft key") in events
    assert ("user.sign_in_failed", "passkey refused") in events


def test_a_removed_passkey_no_longer_signs_in(console: Console) -> None:
    email = console.new_user()
    device, passkey_id = _register(console, email)
    _service(console, step="remove", email=email, id=passkey_id)
    refused = _answer(console, device.get(_options(console, "sign_in").text))
    assert refused.headers["location"].endswith("error=passkey_refused")
    assert SESSION not in _cookies(refused)


def test_as_the_second_step_it_needs_the_pending_sign_in(console: Console) -> None:
    email = console.new_user()
    device, _ = _register(console, email)
    assert _options(console, "second_factor").status_code == 409  # no password step yet
    pending = _password_step(console, email)  # a passkey makes the password ask for more
    options = _options(console, "second_factor", {PENDING: pending})
    assert options.status_code == 200 and options.json()["allowCredentials"]
    answer = device.get(options.text)
    without = _answer(console, answer, step="second_factor")
    assert without.headers["location"] == f"{console.base_url}/sign-in?error=code_expired"
    signed = _answer(console, answer, step="second_factor", pending=pending)
    assert re.fullmatch(re.escape(console.base_url) + r"/w/ws_\w+/keys", signed.headers["location"])
    assert _cookies(signed).get(SESSION)


def test_options_need_the_consoles_origin(console: Console) -> None:
    response = httpx.post(
        f"{console.base_url}/api/v1/auth/passkey/options",
        data={"purpose": "sign_in"},
        headers={"Origin": "https://evil.example"},
        timeout=30,
    )
    assert response.status_code == 403
    assert _options(console, "register").status_code == 400
