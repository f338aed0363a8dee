"""The attacks that once found a live secret and session cookies in Reflex state, logs and disk.

Each test replays one reproduction from the security report against the production build and
checks, on the wire (every websocket frame the server sends), in the server log and in the state
storage, that nothing leaks.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, WebSocket, WebSocketRoute, expect

from tests.conftest import ROOT, Console
from tests.e2e.conftest import choose, sign_up

T = 15_000


class FrameRecorder:
    """Every frame the server sends to one page's websockets."""

    def __init__(self, page: Page) -> None:
        self.frames: list[str] = []
        page.on("websocket", self._attach)

    def _attach(self, socket: WebSocket) -> None:
        socket.on("framereceived", lambda payload: self.frames.append(str(payload)))

    def text(self) -> str:
        return "\n".join(self.frames)


def _create_key_in_ui(page: Page, name: str) -> str:
    page.click("#create-key-button")
    page.fill("#create-name", name)
    page.click("#create-submit")
    secret_box = page.locator("#new-key-secret")
    expect(secret_box).to_have_value(re.compile(r"^bpk_\w{38}$"), timeout=T)
    return secret_box.input_value()


def _client_token(page: Page) -> str:
    return page.evaluate("() => window.sessionStorage.getItem('token')")


def _session_cookie(context: BrowserContext) -> str:
    return next(c["value"] for c in context.cookies() if c["name"] == "apikeys_session")


def test_a_stale_client_token_without_the_cookie_gets_an_empty_signed_out_page(
    browser: Browser, console: Console
) -> None:
    alice_context = browser.new_context()
    alice = alice_context.new_page()
    email = sign_up(alice, console)
    for index in range(3):
        console.create_key(email, f"alice-row-{index}")
    alice.reload()
    expect(alice.locator("#keys-table tbody tr")).to_have_count(3, timeout=T)
    secret = _create_key_in_ui(alice, "alice-secret-holder")
    token = _client_token(alice)
    alice.close()  # the tab closes with the reveal still open

    thief_context = browser.new_context()  # no cookie at all
    thief_context.add_init_script(f"window.sessionStorage.setItem('token', {token!r})")
    thief = thief_context.new_page()
    recorder = FrameRecorder(thief)
    thief.goto(f"{console.base_url}/keys")
    thief.wait_for_url(re.compile(r".*/sign-in"), timeout=T)
    thief.wait_for_timeout(1500)  # let every reply arrive
    assert _client_token(thief) == token  # the attack really reused Alice's tab state
    received = recorder.text()
    assert received, "the page must have talked to the server"
    for leaked in (secret, secret[4:], "alice-row-", "alice-secret-holder", email):
        assert leaked not in received
    thief_context.close()
    alice_context.close()
    assert console.verify(secret).json()["valid"] is True  # the key itself is fine, just not leaked


def test_reload_new_tab_and_reconnect_never_show_a_revealed_secret_again(
    page: Page, console: Console
) -> None:
    sign_up(page, console)
    secret = _create_key_in_ui(page, "shown-once")
    recorder = FrameRecorder(page)
    page.reload()
    expect(page.locator("#keys-table")).to_be_visible(timeout=T)
    expect(page.locator("#create-dialog")).to_have_count(0)
    assert secret not in page.content()
    second = page.context.new_page()  # a new tab of the same signed-in browser
    second_recorder = FrameRecorder(second)
    second.goto(f"{page.url}")
    expect(second.locator("#keys-table")).to_be_visible(timeout=T)
    second.wait_for_timeout(1000)
    assert secret not in second.content()
    for received in (recorder.text(), second_recorder.text()):
        assert secret not in received and secret[4:] not in received


def test_an_invitation_link_is_shown_once_and_never_comes_back(page: Page, console: Console) -> None:
    """Issue 21 item 7: the link lives only in the browser, like a key's secret: no state var holds
    it, so hydration after F5, a new tab or a reconnect never sends it again."""
    owner = sign_up(page, console)
    console.cli("create-workspace", owner, "Link team")
    choose(page, "#workspace-switcher", "Link team (owner)")
    expect(page.locator("#workspace-switcher")).to_have_text("Link team (owner)", timeout=T)
    page.click("#nav-members")
    page.click("#invite-open")
    page.click("#invite-submit")
    link_box = page.locator("#invite-link")
    expect(link_box).to_have_value(re.compile(r"/invite\?token=inv_"), timeout=T)
    token = link_box.input_value().split("token=", 1)[1]
    recorder = FrameRecorder(page)
    page.reload()  # F5 with the link still shown
    expect(page.locator("#invite-open")).to_be_visible(timeout=T)
    expect(page.locator("#invite-link")).to_have_count(0)
    page.click("#invite-open")  # the dialog opens on a new invitation, not the old link
    expect(page.locator("#invite-submit")).to_be_visible(timeout=T)
    expect(page.locator("#invite-link")).to_have_count(0)
    second = page.context.new_page()
    second_recorder = FrameRecorder(second)
    second.goto(page.url)
    expect(second.locator("#invite-open")).to_be_visible(timeout=T)
    second.wait_for_timeout(1000)
    for received in (recorder.text(), second_recorder.text()):
        assert received and token not in received
    assert token not in page.content() and token not in second.content()


@pytest.mark.parametrize("crafted", ["12345", '{"public_id": ["x"]}', "true"])
def test_a_non_string_stored_workspace_is_ignored_without_an_error(
    page: Page, console: Console, crafted: str
) -> None:
    """Issue 21 item 7: a crafted hydration/sync frame carrying a number, object or boolean as the
    stored workspace falls back to the personal workspace; no backend error, no error toast."""
    email = sign_up(page, console)
    console.create_key(email, "row-for-search")
    log_before = console.log_path.stat().st_size

    def handler(route: WebSocketRoute) -> None:
        server = route.connect_to_server()

        def to_server(message: str | bytes) -> None:
            if isinstance(message, str) and '"WS-SENTINEL"' in message:
                message = message.replace('"WS-SENTINEL"', crafted)
            server.send(message)

        route.on_message(to_server)
        server.on_message(lambda message: route.send(message))

    page.route_web_socket("**/_event/**", handler)
    page.evaluate("() => window.localStorage.setItem('apikeys_workspace', 'WS-SENTINEL')")
    page.reload()
    expect(page.locator("#workspace-switcher")).to_have_text("Personal (owner)", timeout=T)
    page.fill("#search-keys", "anything")  # another event after the hydration
    page.wait_for_timeout(1500)
    expect(page.get_by_text("An error occurred.")).to_have_count(0)
    written = console.log_path.read_bytes()[log_before:].decode(errors="replace")
    assert "Traceback" not in written and "Backend Exception" not in written


def test_after_sign_out_the_same_tab_gets_no_rows(page: Page, console: Console) -> None:
    email = sign_up(page, console)
    for index in range(3):
        console.create_key(email, f"private-row-{index}")
    page.reload()
    expect(page.locator("#keys-table tbody tr")).to_have_count(3, timeout=T)
    page.click("#sign-out")
    page.wait_for_url(re.compile(r".*/sign-in"), timeout=T)
    recorder = FrameRecorder(page)
    page.goto(f"{console.base_url}/keys")
    page.wait_for_url(re.compile(r".*/sign-in"), timeout=T)
    page.wait_for_timeout(1500)
    assert recorder.text()
    assert "private-row-" not in recorder.text()
    assert email not in recorder.text()


def _rewrite_next_event(page: Page, rewrite) -> None:
    """Pass the socket through, rewriting the first outgoing event frame after arm() is called."""
    armed = {"on": False}

    def handler(route: WebSocketRoute) -> None:
        server = route.connect_to_server()

        def to_server(message: str | bytes) -> None:
            if armed["on"] and isinstance(message, str) and message.startswith("42"):
                armed["on"] = False
                message = rewrite(message)
            server.send(message)

        route.on_message(to_server)
        server.on_message(lambda message: route.send(message))

    page.route_web_socket("**/_event/**", handler)
    page.arm = lambda: armed.update(on=True)  # type: ignore[attr-defined]


def _state_files_since(start: float) -> list[Path]:
    folder = ROOT / ".states"
    if not folder.exists():
        return []
    return [path for path in folder.rglob("*") if path.is_file() and path.stat().st_mtime >= start]


@pytest.mark.parametrize(
    "rewrite",
    [
        pytest.param(
            lambda m: re.sub(r'"name":"([^"]+)\.(\w+)"', r'"name":"\1.no_such_handler"', m, count=1),
            id="unknown",
        ),
        pytest.param(lambda m: m.replace('"payload":{', '"payload":"{', 1), id="malformed"),
        pytest.param(lambda m: m[:-5], id="truncated"),
    ],
)
def test_unknown_and_malformed_events_leave_no_credential_in_the_log_or_state_storage(
    page: Page, console: Console, rewrite
) -> None:
    start = time.time()
    _rewrite_next_event(page, rewrite)
    sign_up(page, console)
    secret = _create_key_in_ui(page, "log-sweep")
    page.click("#copy-new-key")
    page.click("#create-done")
    cookie = _session_cookie(page.context)
    token = _client_token(page)
    log_before = console.log_path.stat().st_size
    page.arm()  # type: ignore[attr-defined]
    page.fill("#search-keys", "log")  # the next event goes out rewritten
    page.wait_for_timeout(2500)
    log = console.log_path.read_bytes()[log_before:].decode(errors="replace")
    whole_log = console.log_path.read_text(errors="replace")
    for leaked in (cookie, token, secret, secret[4:]):
        assert leaked not in whole_log
    assert log.strip(), "the rewritten event must have made the server log it"
    for path in _state_files_since(start):
        data = path.read_bytes()
        for leaked in (cookie, token, secret[4:]):
            assert leaked.encode() not in data, path
    if console.backend == "postgres":
        import redis

        client = redis.Redis.from_url(console.env["REDIS_URL"])
        for key in client.scan_iter(count=1000):
            dumped = client.dump(key) or b""
            assert cookie.encode() not in dumped and secret[4:].encode() not in dumped, key
