"""Two-factor sign-in and re-authentication ("sudo mode") in Chromium, on a desktop and a phone:
set up with the secret as text (codes computed with pyotp), sign in with a code, a wrong code's
error next to the field, a replayed code refused, a recovery code once, turning it off; a
session older than the re-authentication window is asked for the password before creating a
management token, deleting a workspace, making an invitation link or changing a role."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid

import pyotp
from playwright.sync_api import Browser, Page, expect

from tests.conftest import PASSWORD, ROOT, Console
from tests.e2e.axe import serious_violations
from tests.e2e.conftest import choose, sign_up

PHONE = {"width": 390, "height": 844}
_AGE_SESSIONS = """
import datetime as dt, sys
import sqlalchemy as sa
from rxapp.db import session_scope
from rxapp.models import User, UserSession, utc_now
email = sys.stdin.read().strip()
with session_scope() as session:
    user_id = session.exec(sa.select(User.id).where(User.email == email)).scalar_one()
    session.execute(
        sa.update(UserSession)
        .where(UserSession.user_id == user_id)
        .values(authenticated_at=utc_now() - dt.timedelta(minutes=11))
    )
"""

_MORE_FAILURES = """
import sys
from rxapp.db import session_scope
from rxapp.models import utc_now
from rxapp.services import throttle
email = sys.stdin.read().strip()
with session_scope() as session:
    for _ in range(5):
        throttle.record_failure(session, email, "", "", utc_now())
"""


def _set_up(page: Page, console: Console) -> tuple[pyotp.TOTP, list[str]]:
    page.goto(f"{console.base_url}/account")
    page.click("#totp-setup")
    secret = page.locator("#totp-secret")
    expect(secret).not_to_have_text("", timeout=20_000)
    expect(page.locator("#totp-qr")).to_have_attribute("src", re.compile(r"^data:image/svg\+xml"))
    totp = pyotp.TOTP(secret.inner_text().strip())
    page.fill("#totp-code", totp.now())
    page.click("#totp-confirm")
    shown = page.locator("#recovery-codes")
    expect(shown).not_to_have_text("", timeout=20_000)
    codes = shown.inner_text().split()
    assert len(codes) == 10
    assert serious_violations(page) == []
    page.click("#recovery-codes-done")
    expect(page.locator("#totp-off")).to_be_visible()
    return totp, codes


def _password_step(page: Page, console: Console, email: str) -> None:
    page.context.clear_cookies()  # signed out (the device cookie goes too: a new browser)
    page.goto(f"{console.base_url}/sign-in")
    page.fill("#sign-in-email", email)
    page.fill("#sign-in-password", PASSWORD)
    page.click("#sign-in-submit")
    page.wait_for_url(re.compile(r".*/sign-in/?\?step=code"))
    expect(page.locator("#sign-in-code")).to_be_focused()


def _code_step(page: Page, code: str) -> None:
    page.fill("#sign-in-code", code)
    page.click("#sign-in-code-submit")


def _refused(page: Page) -> None:
    page.wait_for_url(re.compile(r".*step=code&error=code_invalid"))
    expect(page.locator("#sign-in-code-error")).to_contain_text("not valid")
    expect(page.locator("#sign-in-code")).to_have_attribute("aria-invalid", "true")


def _signed_in(page: Page, email: str) -> None:
    page.wait_for_url(re.compile(r".*/keys/?$"))
    expect(page.locator("#signed-in-email")).to_have_text(email)


def test_two_factor_set_up_sign_in_replay_recovery_and_off(page: Page, console: Console) -> None:
    email = sign_up(page, console)
    totp, codes = _set_up(page, console)
    page.click("#sign-out")
    page.wait_for_url(re.compile(r".*/sign-in"))

    _password_step(page, console, email)
    assert serious_violations(page) == []
    _code_step(page, str((int(totp.now()) + 1) % 1_000_000).zfill(6))
    _refused(page)
    code = totp.at(time.time() + 30)  # the next step's code: the setup spent this one's
    _code_step(page, code)
    _signed_in(page, email)

    _password_step(page, console, email)
    _code_step(page, code)  # the same code again: refused
    _refused(page)
    _code_step(page, codes[0])
    _signed_in(page, email)

    _password_step(page, console, email)
    _code_step(page, codes[0])  # a recovery code works once
    _refused(page)
    _code_step(page, codes[1])
    _signed_in(page, email)

    page.goto(f"{console.base_url}/account")
    expect(page.locator("#totp-recovery-left")).to_have_text("8")
    page.fill("#totp-off-code", "000000" if totp.now() != "000000" else "111111")
    page.click("#totp-off")
    expect(page.locator("#totp-off-error")).to_contain_text("not valid")
    page.fill("#totp-off-code", codes[2])
    page.click("#totp-off")
    expect(page.locator("#totp-setup")).to_be_visible()
    page.context.clear_cookies()
    page.goto(f"{console.base_url}/sign-in")
    page.fill("#sign-in-email", email)
    page.fill("#sign-in-password", PASSWORD)
    page.click("#sign-in-submit")
    _signed_in(page, email)  # the password alone again


def test_two_factor_on_a_phone(page: Page, console: Console) -> None:
    page.set_viewport_size(PHONE)
    email = sign_up(page, console)
    totp, _ = _set_up(page, console)
    _password_step(page, console, email)
    for control in ("#sign-in-code", "#sign-in-code-submit"):
        box = page.locator(control).bounding_box()
        assert box is not None and box["height"] >= 44 and box["x"] + box["width"] <= PHONE["width"]
    _code_step(page, totp.at(time.time() + 30))
    _signed_in(page, email)


def test_guessed_codes_are_throttled_in_the_browser(page: Page, console: Console) -> None:
    """A few wrong codes, then the page says to wait, next to the field; even the right code waits."""
    email = sign_up(page, console)
    totp, _ = _set_up(page, console)
    _password_step(page, console, email)
    for attempt in range(12):
        with page.expect_navigation():
            _code_step(page, str((int(totp.now()) + 1 + attempt) % 1_000_000).zfill(6))
        expect(page.locator("#sign-in-code")).to_be_focused()  # the code step again, loaded
        if "error=throttled" in page.url:
            break
        assert "error=code_invalid" in page.url
    assert "error=throttled" in page.url and "step=code" in page.url
    expect(page.locator("#sign-in-code-error")).to_contain_text("Too many wrong codes")
    # The first wait is 2 s, shorter than a busy machine takes to send the next code: five more
    # failures on record (as five more wrong guesses) make it 64 s, so the right code meets it too.
    _run_in_console(console, _MORE_FAILURES, email)
    with page.expect_navigation():
        _code_step(page, totp.at(time.time() + 30))
    assert "error=throttled" in page.url
    expect(page.locator("#sign-in-code-error")).to_contain_text("Too many wrong codes")
    assert "apikeys_session" not in [cookie["name"] for cookie in page.context.cookies()]


def _age_sessions(console: Console, email: str) -> None:
    _run_in_console(console, _AGE_SESSIONS, email)


def _run_in_console(console: Console, script: str, email: str) -> None:
    """A short script against the console's database, given the account's email on stdin."""
    subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=console.env,
        input=email,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def _sudo_mode(page: Page, console: Console) -> None:
    email = sign_up(page, console)
    _age_sessions(console, email)  # signed in more than the window (10 minutes) ago
    page.goto(f"{console.base_url}/tokens")
    page.click("#create-token-button")
    page.fill("#token-name", "needs-sudo")
    page.click("#token-submit")
    expect(page.locator("#reauth-password")).to_be_visible(timeout=20_000)
    assert serious_violations(page) == []
    for control in ("#reauth-password", "#reauth-submit"):
        box = page.locator(control).bounding_box()
        assert box is not None and box["height"] >= 44
    page.fill("#reauth-password", PASSWORD + "-wrong")
    page.click("#reauth-submit")
    expect(page.locator("#reauth-error")).to_contain_text("not right")
    page.fill("#reauth-password", PASSWORD)
    page.click("#reauth-submit")
    expect(page.locator("#reauth-dialog")).to_have_count(0)
    expect(page.locator("#new-token-secret")).not_to_have_value("", timeout=20_000)  # retried
    page.click("#token-done")
    expect(page.locator("#tokens-table")).to_contain_text("needs-sudo")


def test_sudo_mode_asks_for_the_password_before_creating_a_token(page: Page, console: Console) -> None:
    _sudo_mode(page, console)


def test_sudo_mode_on_a_phone(page: Page, console: Console) -> None:
    page.set_viewport_size(PHONE)
    _sudo_mode(page, console)


def test_sudo_mode_before_deleting_a_workspace(page: Page, console: Console) -> None:
    email = sign_up(page, console)
    name = f"Sudo {uuid.uuid4().hex[:6]}"
    console.cli("create-workspace", email, name)
    choose(page, "#workspace-switcher", f"{name} (owner)")
    expect(page.locator("#workspace-switcher")).to_have_text(f"{name} (owner)", timeout=20_000)
    _age_sessions(console, email)
    page.click("#nav-members")
    page.click("#workspace-delete-open")
    page.fill("#workspace-delete-confirm-name", name)  # deleting asks for the workspace's name
    page.click("#workspace-delete-confirm")
    expect(page.locator("#reauth-password")).to_be_visible(timeout=20_000)
    assert serious_violations(page) == []
    page.fill("#reauth-password", PASSWORD)
    page.click("#reauth-submit")
    page.wait_for_url(re.compile(r".*/keys/?$"), timeout=20_000)  # retried: deleted
    expect(page.locator("#workspace-switcher")).to_have_text("Personal (owner)", timeout=20_000)


def _confirm_identity(page: Page) -> None:
    expect(page.locator("#reauth-password")).to_be_visible(timeout=20_000)
    page.fill("#reauth-password", PASSWORD)
    page.click("#reauth-submit")
    expect(page.locator("#reauth-dialog")).to_have_count(0)


def test_sudo_mode_before_an_invitation_link_and_a_role_change(browser: Browser, console: Console) -> None:
    page = browser.new_context().new_page()
    owner = sign_up(page, console)
    name = f"Team {uuid.uuid4().hex[:6]}"
    console.cli("create-workspace", owner, name)
    choose(page, "#workspace-switcher", f"{name} (owner)")
    expect(page.locator("#workspace-switcher")).to_have_text(f"{name} (owner)", timeout=20_000)
    page.click("#nav-members")
    _age_sessions(console, owner)
    page.click("#invite-open")
    page.click("#invite-submit")
    _confirm_identity(page)
    link_box = page.locator("#invite-link")
    expect(link_box).to_have_value(re.compile(r"/invite\?token=inv_"), timeout=20_000)  # retried
    link = link_box.input_value()
    page.click("#invite-done")

    guest = browser.new_context().new_page()
    guest.goto(link)
    guest.click("#invitation-sign-up")
    guest_email = f"mate-{uuid.uuid4().hex[:10]}@example.com"
    guest.fill("#sign-up-email", guest_email)
    guest.fill("#sign-up-password", PASSWORD)
    guest.fill("#sign-up-confirm", PASSWORD)
    guest.click("#sign-up-submit")
    guest.wait_for_url(re.compile(r".*/keys/?\?joined="), timeout=20_000)
    guest_id = console.rows("select id from users where email = :email", email=guest_email)[0][0]

    _age_sessions(console, owner)
    page.reload()
    choose(page, f"#member-role-{guest_id}", "viewer")
    _confirm_identity(page)
    expect(page.locator(f"#member-role-{guest_id}")).to_have_text("viewer", timeout=20_000)  # retried
    role = console.rows(
        "select m.role from memberships m join workspaces w on w.id = m.workspace_id"
        " where m.user_id = :id and w.name = :name",
        id=guest_id,
        name=name,
    )
    assert [row[0] for row in role] == ["viewer"]
