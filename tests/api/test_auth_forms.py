"""The browser's sign-in/up/out form posts: Origin guard, redirects, the session cookie."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from http.cookies import SimpleCookie

import httpx
import pytest

from tests.api.conftest import assert_error, assert_no_traceback
from tests.conftest import EXTRA_ORIGIN, PASSWORD, ROOT, Console

COOKIE = "apikeys_session"
_RESOLVE = """
import sys
from rxapp.db import session_scope
from rxapp.services.users import resolve_session
with session_scope() as session:
    user = resolve_session(session, sys.stdin.read().strip())
    print(user.email if user else "")
"""


def _post(console: Console, path: str, data: dict[str, str] | None = None, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{console.base_url}/api/v1/auth/{path}",
        data=data or {},
        headers=headers,
        timeout=30,
        follow_redirects=False,
    )


def _sign_up(
    console: Console, email: str, password: str = PASSWORD, confirm: str | None = None, **headers: str
) -> httpx.Response:
    confirm = password if confirm is None else confirm
    data = {"email": email, "password": password, "confirm_password": confirm}
    return _post(console, "sign-up", data, **headers)


def _new_email() -> str:
    return f"form-{uuid.uuid4().hex[:12]}@example.com"


def _session_cookie(response: httpx.Response) -> tuple[str, str] | None:
    """(token, raw Set-Cookie header) of the session cookie the response sets, if any."""
    for header in response.headers.get_list("set-cookie"):
        cookie = SimpleCookie()
        cookie.load(header)
        if COOKIE in cookie:
            return cookie[COOKIE].value, header
    return None


def _signed_in_email(console: Console, token: str) -> str:
    """Who the server's session table says this token belongs to ("" when none)."""
    result = subprocess.run(
        [sys.executable, "-c", _RESOLVE],
        cwd=ROOT,
        env=console.env,
        input=token,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout.strip()


def _assert_session_cookie(header: str) -> None:
    attributes = [part.strip().lower() for part in header.split(";")]
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert "path=/" in attributes
    assert "secure" not in attributes  # plain http in tests; https origins get Secure


# ---------------------------------------------------------------- Origin guard


@pytest.mark.parametrize("path", ["sign-up", "sign-in", "sign-out"])
@pytest.mark.parametrize(
    "headers",
    [{}, {"Origin": "https://evil.example"}, {"Origin": "null"}, {"Referer": "https://evil.example/sign-in"}],
    ids=["no-origin", "foreign-origin", "null-origin", "foreign-referer"],
)
def test_form_posts_from_other_origins_are_forbidden(console: Console, path: str, headers: dict) -> None:
    email = _new_email()
    data = {"email": email, "password": PASSWORD, "confirm_password": PASSWORD}
    response = _post(console, path, data, **headers)
    assert_error(response, 403, "FORBIDDEN_ORIGIN")
    assert _session_cookie(response) is None
    assert "location" not in response.headers


def test_forbidden_sign_up_creates_no_account(console: Console) -> None:
    email = _new_email()
    assert_error(_sign_up(console, email), 403, "FORBIDDEN_ORIGIN")
    # The account does not exist: a proper sign-up with the same email now succeeds.
    response = _sign_up(console, email, Origin=console.base_url)
    assert response.status_code == 303
    assert re.fullmatch(re.escape(console.base_url) + r"/w/ws_\w+/keys", response.headers["location"])


# ---------------------------------------------------------------- sign-up


def test_sign_up_redirects_and_sets_a_safe_session_cookie(console: Console) -> None:
    email = _new_email()
    response = _sign_up(console, email, Origin=console.base_url)
    assert response.status_code == 303, response.text
    assert re.fullmatch(re.escape(console.base_url) + r"/w/ws_\w+/keys", response.headers["location"])
    session = _session_cookie(response)
    assert session is not None
    token, header = session
    _assert_session_cookie(header)
    assert len(token) >= 32
    assert _signed_in_email(console, token) == email


def test_signing_up_or_in_through_an_invitation_lands_in_that_workspace(console: Console) -> None:
    """Issue 22 item 1: the answer names the joined workspace (the keys page switches the tab to it
    and says "You joined ..."), for a new account and for an existing one with its password."""
    owner = console.new_user()
    team = f"Team {uuid.uuid4().hex[:6]}"
    console.cli("create-workspace", owner, team)
    public_id = console.rows("SELECT public_id FROM workspaces WHERE name = :name", name=team)[0][0]
    existing = console.new_user()
    for email in (_new_email(), existing):
        link = console.cli("invite", owner, team, "--role", "viewer").stdout.strip()
        form = {
            "email": email,
            "password": PASSWORD,
            "confirm_password": PASSWORD,
            "invitation": link.rsplit("token=", 1)[1],
        }
        response = _post(console, "sign-up", form, Origin=console.base_url)
        assert response.status_code == 303, response.text
        assert response.headers["location"] == f"{console.base_url}/w/{public_id}/keys?joined={public_id}"
        assert _session_cookie(response) is not None


def test_sign_up_accepts_a_same_origin_referer_without_origin(console: Console) -> None:
    response = _sign_up(console, _new_email(), Referer=f"{console.base_url}/sign-up")
    assert response.status_code == 303
    assert re.fullmatch(re.escape(console.base_url) + r"/w/ws_\w+/keys", response.headers["location"])
    assert _session_cookie(response) is not None


@pytest.mark.parametrize(
    ("email", "password", "confirm", "code"),
    [
        ("fresh", PASSWORD, PASSWORD + "x", "mismatch"),
        ("not-an-email", PASSWORD, None, "email_invalid"),
        ("fresh", "short", None, "password_short"),
        ("fresh", "password", None, "password_common"),
    ],
)
def test_sign_up_errors_redirect_back_with_a_fixed_code(
    console: Console, email: str, password: str, confirm: str | None, code: str
) -> None:
    address = _new_email() if email == "fresh" else email
    response = _sign_up(console, address, password, confirm, Origin=console.base_url)
    assert response.status_code == 303
    assert response.headers["location"] == f"{console.base_url}/sign-up?error={code}"
    assert _session_cookie(response) is None


def test_sign_up_with_a_taken_email_does_not_confirm_the_account(console: Console) -> None:
    email = console.new_user()
    response = _sign_up(console, email.upper(), "someone-elses-password-7", Origin=console.base_url)
    assert response.status_code == 303
    assert response.headers["location"] == f"{console.base_url}/sign-up?error=not_created"
    assert "taken" not in response.text and "exists" not in response.text
    assert _session_cookie(response) is None
    # The account's owner, signing up again by mistake, is simply signed in.
    again = _sign_up(console, email, PASSWORD, Origin=console.base_url)
    assert re.fullmatch(re.escape(console.base_url) + r"/w/ws_\w+/keys", again.headers["location"])
    assert _session_cookie(again) is not None


def test_sign_up_does_not_reflect_user_input(console: Console) -> None:
    marker = "<script>alert(1)</script>@example.com"
    response = _sign_up(console, marker, Origin=console.base_url)
    assert response.status_code == 303
    assert "script" not in response.headers["location"]
    assert "script" not in response.text


# ---------------------------------------------------------------- sign-in


def test_sign_in_with_the_right_password(console: Console) -> None:
    email = console.new_user()
    response = _post(console, "sign-in", {"email": email, "password": PASSWORD}, Origin=console.base_url)
    assert response.status_code == 303
    assert re.fullmatch(re.escape(console.base_url) + r"/w/ws_\w+/keys", response.headers["location"])
    session = _session_cookie(response)
    assert session is not None
    _assert_session_cookie(session[1])


def test_wrong_password_and_unknown_email_look_the_same(console: Console) -> None:
    email = console.new_user()
    origin = console.base_url
    wrong = _post(console, "sign-in", {"email": email, "password": PASSWORD + "-wrong"}, Origin=origin)
    unknown = _post(console, "sign-in", {"email": _new_email(), "password": PASSWORD}, Origin=origin)
    assert wrong.status_code == 303
    assert wrong.headers["location"] == f"{console.base_url}/sign-in?error=invalid"
    assert _session_cookie(wrong) is None
    assert (unknown.status_code, unknown.headers["location"], unknown.content) == (
        wrong.status_code,
        wrong.headers["location"],
        wrong.content,
    )
    assert _session_cookie(unknown) is None
    assert unknown.headers.get_list("set-cookie") == wrong.headers.get_list("set-cookie") == []


def test_sign_in_redirects_to_the_posting_origin_only(console: Console) -> None:
    """The redirect target is the allow-listed origin that posted, never a user-supplied URL."""
    email = console.new_user()
    other = EXTRA_ORIGIN
    response = _post(console, "sign-in", {"email": email, "password": PASSWORD}, Origin=other)
    assert response.status_code == 303
    assert re.fullmatch(re.escape(other) + r"/w/ws_\w+/keys", response.headers["location"])


# ---------------------------------------------------------------- sign-out


def test_sign_out_ends_the_session_and_is_harmless_twice(console: Console) -> None:
    email = console.new_user()
    signed_in = _post(console, "sign-in", {"email": email, "password": PASSWORD}, Origin=console.base_url)
    session = _session_cookie(signed_in)
    assert session is not None
    token = session[0]
    assert _signed_in_email(console, token) == email

    cookie_header = f"{COOKIE}={token}"
    response = _post(console, "sign-out", Origin=console.base_url, Cookie=cookie_header)
    assert response.status_code == 303
    assert response.headers["location"] == f"{console.base_url}/sign-in?signed_out=1"
    cleared = _session_cookie(response)
    assert cleared is not None
    attributes = cleared[1].lower()
    assert cleared[0] == "" or "max-age=0" in attributes
    assert "max-age=0" in attributes or "expires=thu, 01 jan 1970" in attributes
    assert _signed_in_email(console, token) == ""

    again = _post(console, "sign-out", Origin=console.base_url, Cookie=cookie_header)
    assert again.status_code == 303
    assert again.headers["location"] == f"{console.base_url}/sign-in?signed_out=1"
    without_cookie = _post(console, "sign-out", Origin=console.base_url)
    assert without_cookie.status_code == 303
    assert_no_traceback(without_cookie)


def test_sign_out_with_a_garbage_cookie_is_harmless(console: Console) -> None:
    response = _post(console, "sign-out", Origin=console.base_url, Cookie=f"{COOKIE}={'x' * 3000}")
    assert response.status_code == 303
    assert_no_traceback(response)


@pytest.mark.parametrize("path", ["sign-in", "sign-up"])
@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b"{not json"),
        ("application/x-www-form-urlencoded", b"email=%ZZ&password=%"),
        ("multipart/form-data; boundary=zzz", b"--zzz\r\nbroken"),
        ("application/x-www-form-urlencoded", b"email=" + b"a" * 2000 + b"&password=x"),
    ],
    ids=["json", "bad-percent", "broken-multipart", "too-long-email"],
)
def test_odd_form_bodies_are_never_a_500(console: Console, path: str, content_type: str, body: bytes) -> None:
    response = httpx.post(
        f"{console.base_url}/api/v1/auth/{path}",
        content=body,
        timeout=30,
        follow_redirects=False,
        headers={"Content-Type": content_type, "Origin": console.base_url},
    )
    assert response.status_code < 500, response.text
    assert_no_traceback(response)
    assert _session_cookie(response) is None


@pytest.mark.parametrize(
    ("next_path", "lands_on"),
    [
        ("/activity?key=key_x", "/activity?key=key_x"),
        ("/keys/key_abc", "/keys/key_abc"),
        # refused: the keys of the personal workspace instead
        ("//evil.example/keys", "/w/ws_*/keys"),
        ("https://evil.example/keys", "/w/ws_*/keys"),
        ("/\\evil.example", "/w/ws_*/keys"),
        ("/api/v1/verify", "/w/ws_*/keys"),
    ],
)
def test_sign_in_returns_to_the_page_asked_for_never_elsewhere(
    console: Console, next_path: str, lands_on: str
) -> None:
    email = console.new_user()
    response = _post(
        console, "sign-in", {"email": email, "password": PASSWORD, "next": next_path}, Origin=console.base_url
    )
    assert response.status_code == 303
    expected = re.escape(console.base_url + lands_on).replace(r"ws_\*", r"ws_\w+")
    assert re.fullmatch(expected, response.headers["location"]), response.headers["location"]


def test_failed_sign_in_keeps_a_safe_destination_only(console: Console) -> None:
    email = console.new_user()
    origin = console.base_url
    wrong = {"email": email, "password": PASSWORD + "-wrong"}
    kept = _post(console, "sign-in", {**wrong, "next": "/profiles"}, Origin=origin)
    assert kept.headers["location"] == f"{origin}/sign-in?error=invalid&next=%2Fprofiles"
    dropped = _post(console, "sign-in", {**wrong, "next": "//evil.example"}, Origin=origin)
    assert dropped.headers["location"] == f"{origin}/sign-in?error=invalid"
