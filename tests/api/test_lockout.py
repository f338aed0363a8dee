"""An attacker cannot keep a user locked out, nor flood the audit trail (the report's attack #3)."""

from __future__ import annotations

import threading
import time

import httpx

from tests.conftest import PASSWORD, Console

SIGN_IN = "/api/v1/auth/sign-in"


def _sign_in(client: httpx.Client, console: Console, email: str, password: str) -> httpx.Response:
    return client.post(
        f"{console.base_url}{SIGN_IN}",
        data={"email": email, "password": password},
        headers={"Origin": console.base_url},
        follow_redirects=False,
    )


def test_the_real_user_keeps_signing_in_while_an_attacker_hammers_the_account(console: Console) -> None:
    email = console.new_user()
    real_browser = httpx.Client(timeout=30)
    first = _sign_in(real_browser, console, email, PASSWORD)
    assert first.headers["location"].endswith("/keys")
    assert real_browser.cookies.get("apikeys_device"), "a successful sign-in remembers the browser"

    stop = threading.Event()
    attacker_answers: list[str] = []

    def attack() -> None:
        with httpx.Client(timeout=30) as attacker:
            while not stop.is_set():
                answer = _sign_in(attacker, console, email, "wrong-password-guess")
                attacker_answers.append(answer.headers.get("location", ""))
                time.sleep(0.25)

    thread = threading.Thread(target=attack)
    thread.start()
    try:
        time.sleep(3)  # the attacker has locked out strangers by now
        results = []
        for _ in range(8):
            results.append(_sign_in(real_browser, console, email, PASSWORD).headers.get("location", ""))
            time.sleep(1)
        with httpx.Client(timeout=30) as new_browser:  # the right password from a browser never used
            stranger = _sign_in(new_browser, console, email, PASSWORD).headers["location"]
    finally:
        stop.set()
        thread.join()

    assert all(location.endswith("/keys") for location in results), results
    assert stranger.endswith("/sign-in?error=throttled")  # no exact re-arm time handed out
    refused = [answer for answer in attacker_answers if "error=throttled" in answer]
    assert len(refused) > len(attacker_answers) // 2
    assert all("wait=" not in answer for answer in attacker_answers)

    rows = console.rows(
        "SELECT occurrences FROM audit_events WHERE action = 'user.sign_in_throttled' AND target_id = :email",
        email=email,
    )
    # One event for the window, counting every refusal (the stranger's included), not a row each.
    assert len(rows) == 1
    assert rows[0][0] == len(refused) + 1
