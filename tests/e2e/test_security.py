"""Attacks through the browser: the secret sweep and the revocation race."""

from __future__ import annotations

import hashlib
import hmac
import re
import sqlite3
import threading
import time
from pathlib import Path

import httpx
from playwright.sync_api import Page, WebSocket, expect

from tests.conftest import Console
from tests.e2e.conftest import choose, sign_up


def _digest(console: Console, secret: str) -> str:
    return hmac.new(console.env["APIKEYS_PEPPER"].encode(), secret.encode(), hashlib.sha256).hexdigest()


def test_secret_sweep_only_the_one_time_reveal_carries_the_secret(page: Page, console: Console) -> None:
    frames: list[tuple[str, str]] = []

    def watch(socket: WebSocket) -> None:
        socket.on("framereceived", lambda payload: frames.append(("in", str(payload))))
        socket.on("framesent", lambda payload: frames.append(("out", str(payload))))

    page.on("websocket", watch)
    sign_up(page, console)
    page.click("#create-key-button")
    page.fill("#create-name", "canary")
    page.click("#create-submit")
    secret_box = page.locator("#new-key-secret")
    expect(secret_box).to_have_value(re.compile(r"^bpk_"))
    secret = secret_box.input_value()
    digest = _digest(console, secret)
    page.click("#copy-new-key")
    page.click("#create-done")
    expect(page.locator("#create-dialog")).to_have_count(0)
    reveal_frames = len(frames)
    # keep using the page: auto-refresh, edit dialog, reload
    page.wait_for_timeout(4000)
    key_id = (
        console.cli("list-keys", page.locator("#signed-in-email").inner_text())
        .stdout.splitlines()[1]
        .split()[0]
    )
    page.click(f"#edit-{key_id}")
    page.click("#edit-cancel")
    page.reload()
    expect(page.locator(f"#row-{key_id}")).to_be_visible()
    page.wait_for_timeout(3500)

    carrying = [index for index, (direction, text) in enumerate(frames) if secret in text]
    assert carrying, "the reveal itself must have reached the browser"
    assert all(index < reveal_frames for index in carrying), "secret seen again after the reveal closed"
    assert all(frames[index][0] == "in" for index in carrying), "the browser never sends the secret back"
    assert not any(digest in text for _, text in frames)

    storage = page.evaluate("JSON.stringify({...localStorage}) + JSON.stringify({...sessionStorage})")
    assert secret not in storage and digest not in storage
    assert secret not in page.content()

    log_text = Path(console.log_path).read_text(errors="replace")
    assert secret not in log_text and digest not in log_text

    if console.database_url.startswith("sqlite:///"):
        database = Path(console.database_url.removeprefix("sqlite:///"))
        for path in (database, Path(f"{database}-wal")):
            if path.exists():
                assert secret.encode() not in path.read_bytes(), f"secret found in {path.name}"
        with sqlite3.connect(database) as connection:
            audit_rows = " ".join(str(row) for row in connection.execute("SELECT * FROM audit_events"))
        assert secret not in audit_rows and digest not in audit_rows

    for response in (
        httpx.get(f"{console.base_url}/no-such-page/{secret}", timeout=10),
        httpx.post(f"{console.base_url}/api/v1/verify?api_key={secret}", timeout=10),
        httpx.post(
            f"{console.base_url}/api/v1/verify", headers={"Authorization": f"Bearer {secret}x"}, timeout=10
        ),
    ):
        assert secret not in response.text and digest not in response.text


def test_revocation_race_no_success_after_inactive_is_acknowledged(page: Page, console: Console) -> None:
    email = sign_up(page, console)
    secret = console.create_key(email, "race-target")
    key_id = console.cli("list-keys", email).stdout.splitlines()[1].split()[0]
    page.reload()
    expect(page.locator(f"#status-{key_id}")).to_have_text("ACTIVE")

    results: list[tuple[float, float, bool]] = []
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(timeout=10) as client:
            while not stop.is_set():
                started = time.monotonic()
                body = client.post(
                    f"{console.base_url}/api/v1/verify", headers={"Authorization": f"Bearer {secret}"}
                ).json()
                results.append((started, time.monotonic(), body["valid"]))

    threads = [threading.Thread(target=hammer) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.0)
        page.click(f"#edit-{key_id}")
        choose(page, "#edit-status", "INACTIVE")
        page.click("#edit-save")
        expect(page.locator(f"#status-{key_id}")).to_have_text("INACTIVE")
        acknowledged = time.monotonic()
        time.sleep(1.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(15)
    before = [valid for started, _, valid in results if started < acknowledged]
    after = [valid for started, _, valid in results if started > acknowledged]
    assert any(before), "the key verified before it was turned off"
    assert after, "verification kept running after the change"
    assert not any(after), (
        f"{sum(after)} of {len(after)} verifications succeeded after INACTIVE was acknowledged"
    )
