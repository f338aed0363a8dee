"""The sign-in's second step over the form API: no session before the code, wrong and replayed
codes refused, a recovery code once, an expired or missing pending step, throttled codes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from http.cookies import SimpleCookie

import httpx
import pyotp

from tests.conftest import PASSWORD, ROOT, Console

SESSION, PENDING = "apikeys_session", "apikeys_pending"
_TURN_ON = """
import datetime as dt, json, sys
import pyotp
from rxapp.db import session_scope
from rxapp.models import utc_now
from rxapp.services import two_factor, users
email = sys.stdin.read().strip()
# confirmed a minute ago: the codes of now and the next step are still unused
earlier = utc_now() - dt.timedelta(seconds=60)
with session_scope() as session:
    user = users.find_user(session, email)
    setup = two_factor.begin_setup(session, user.id)
    codes = two_factor.confirm_setup(session, user.id, pyotp.TOTP(setup.secret).at(earlier), now=earlier)
print(json.dumps({"secret": setup.secret, "codes": codes}))
"""


def _turn_on(console: Console, email: str) -> tuple[str, list[str]]:
    result = subprocess.run(
        [sys.executable, "-c", _TURN_ON],
        cwd=ROOT,
        env=console.env,
        input=email,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    answer = json.loads(result.stdout)
    return answer["secret"], answer["codes"]


def _cookies(response: httpx.Response) -> dict[str, str]:
    found = {}
    for header in response.headers.get_list("set-cookie"):
        cookie = SimpleCookie()
        cookie.load(header)
        found.update({name: morsel.value for name, morsel in cookie.items()})
    return found


def _post(console: Console, path: str, data: dict[str, str], cookies: dict[str, str] | None = None):
    return httpx.post(
        f"{console.base_url}/api/v1/auth/{path}",
        data=data,
        headers={"Origin": console.base_url},
        cookies=cookies or {},
        timeout=30,
        follow_redirects=False,
    )


def _password_step(console: Console, email: str) -> str:
    """The pending token the password step hands out (and no session)."""
    response = _post(console, "sign-in", {"email": email, "password": PASSWORD})
    assert response.status_code == 303
    assert response.headers["location"] == f"{console.base_url}/sign-in?step=code"
    cookies = _cookies(response)
    assert SESSION not in cookies and cookies.get(PENDING)
    return cookies[PENDING]


def _code_step(console: Console, pending: str, code: str) -> httpx.Response:
    return _post(console, "sign-in/code", {"code": code}, {PENDING: pending})


def test_the_session_is_issued_only_after_the_code(console: Console) -> None:
    email = console.new_user()
    secret, codes = _turn_on(console, email)
    pending = _password_step(console, email)

    wrong = _code_step(console, pending, str((int(pyotp.TOTP(secret).now()) + 1) % 1_000_000).zfill(6))
    assert wrong.headers["location"] == f"{console.base_url}/sign-in?step=code&error=code_invalid"
    assert SESSION not in _cookies(wrong)

    code = pyotp.TOTP(secret).now()
    right = _code_step(console, pending, code)
    assert re.fullmatch(re.escape(console.base_url) + r"/w/ws_\w+/keys", right.headers["location"])
    assert _cookies(right).get(SESSION)

    replayed = _code_step(console, _password_step(console, email), code)
    assert replayed.headers["location"].endswith("error=code_invalid")
    assert SESSION not in _cookies(replayed)

    recovery = _code_step(console, _password_step(console, email), codes[0])
    assert _cookies(recovery).get(SESSION)
    again = _code_step(console, _password_step(console, email), codes[0])
    assert again.headers["location"].endswith("error=code_invalid")

    events = console.rows(
        "select action, detail from audit_events where actor = :email order by id", email=email
    )
    assert ("user.sign_in", "second factor: totp") in [tuple(row) for row in events]
    assert ("user.sign_in", "second factor: recovery") in [tuple(row) for row in events]
    stored = console.rows("select secret_sealed from user_totp")
    assert stored and all(secret not in row[0] for row in stored)


def test_a_code_without_a_valid_pending_step_starts_again(console: Console) -> None:
    email = console.new_user()
    secret, _ = _turn_on(console, email)
    for pending in ("", "1.9999999999.forged", _password_step(console, email)[:-3] + "abc"):
        response = _code_step(console, pending, pyotp.TOTP(secret).now())
        assert response.headers["location"] == f"{console.base_url}/sign-in?error=code_expired"
        assert SESSION not in _cookies(response)


def test_wrong_codes_are_throttled(console: Console) -> None:
    email = console.new_user()
    secret, _ = _turn_on(console, email)
    pending = _password_step(console, email)
    locations = []
    for attempt in range(12):
        wrong = str((int(pyotp.TOTP(secret).now()) + 1 + attempt) % 1_000_000).zfill(6)
        locations.append(_code_step(console, pending, wrong).headers["location"])
        if "error=throttled" in locations[-1]:
            break
    assert locations[-1] == f"{console.base_url}/sign-in?error=throttled&step=code"
    assert all("wait=" not in location for location in locations)  # no re-arm time handed out
