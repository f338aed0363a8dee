"""docs/deploy/nginx.conf, run for real: nginx terminates TLS on loopback in front of the console.

Chromium signs up, creates a key and the key verifies, all through nginx (HTTPS page, websocket
upgrade on /_event, form posts). The console trusts one proxy hop (REFLEX_TRUSTED_PROXY_HOPS=1), so
audit addresses come from X-Forwarded-For: nginx connects from 127.0.0.3 (proxy_bind, added by the
test) while the browser is 127.0.0.1, and the audit must say 127.0.0.1. The session cookie is
Secure because nginx sends X-Forwarded-Proto: https.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, expect

from rxapp import __version__
from tests.conftest import PASSWORD, ROOT, Console
from tests.nginx_site import Proxy, running_site, skip_unless_runnable

SITE = ROOT / "docs" / "deploy" / "nginx.conf"
T = 30_000


@pytest.fixture(scope="module")
def nginx(console: Console, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    skip_unless_runnable()
    console_port = int(console.base_url.rsplit(":", 1)[1])
    upstream = [(r"server 127\.0\.0\.1:3000;", f"server 127.0.0.1:{console_port};")]
    # the test's own addition: nginx's upstream connections come from another address
    bind = [(r"proxy_http_version 1\.1;", "proxy_http_version 1.1;\n    proxy_bind 127.0.0.3;")]
    with running_site(SITE, tmp_path_factory.mktemp("nginx"), upstream, bind) as proxy:
        yield proxy


def test_seed_walk_through_nginx_with_tls(nginx: Proxy, browser: Browser, console: Console) -> None:
    base, http_port, tls = nginx.base, nginx.http_port, nginx.tls
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    sockets: list[str] = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    email = f"nginx-{int(time.time() * 1000)}@example.com"
    try:
        page.goto(f"{base}/sign-up")
        page.fill("#sign-up-email", email)
        page.fill("#sign-up-password", PASSWORD)
        page.fill("#sign-up-confirm", PASSWORD)
        page.click("#sign-up-submit")
        page.wait_for_url(re.compile(r"^https://localhost/w/ws_\w+/keys/?$"), timeout=T)
        expect(page.locator("#signed-in-email")).to_have_text(email, timeout=T)
        expect(page.locator("#app-version")).to_have_text(f"Key Console {__version__}")

        page.locator("#create-key-button").click()
        expect(page.locator("#create-dialog")).to_be_visible(timeout=T)
        page.fill("#create-name", "behind-nginx")
        page.get_by_role("button", name="Create API Key", exact=True).click()
        secret_box = page.locator("#new-key-secret")
        expect(secret_box).to_have_value(re.compile(r"^bpk_[0-9A-Za-z]{38}$"), timeout=T)
        secret = secret_box.input_value()
        page.click("#create-done")
        expect(page.locator("#keys-table tbody tr")).to_have_count(1, timeout=T)

        cookies = {cookie["name"]: cookie for cookie in context.cookies()}
    finally:
        context.close()

    assert any(url.startswith("wss://localhost/_event") for url in sockets), sockets
    session_cookie = cookies["apikeys_session"]
    assert session_cookie["secure"] and session_cookie["httpOnly"]

    # The key verifies through nginx; a client-supplied X-Forwarded-For is not believed.
    answer = httpx.post(
        f"{base}/api/v1/verify",
        headers={"Authorization": f"Bearer {secret}", "X-Forwarded-For": "198.51.100.7"},
        verify=tls,
        timeout=10,
    )
    assert answer.status_code == 200 and answer.json()["valid"] is True
    assert answer.headers["strict-transport-security"].startswith("max-age=")
    assert answer.headers["x-request-id"]

    # Plain HTTP redirects to HTTPS; metrics are not served through the public proxy.
    redirect = httpx.get(f"http://127.0.0.1:{http_port}/keys", headers={"Host": "localhost"}, timeout=10)
    assert redirect.status_code == 301 and redirect.headers["location"] == "https://localhost/keys"
    assert httpx.get(f"{base}/metrics", verify=tls, timeout=10).status_code == 404

    addresses = console.rows(
        "SELECT action, client_address FROM audit_events WHERE actor = :email "
        "AND action IN ('user.sign_up', 'key.create')",
        email=email,
    )
    assert {action for action, _ in addresses} == {"user.sign_up", "key.create"}, addresses
    # the browser's address (localhost: 127.0.0.1 or ::1), never nginx's own 127.0.0.3
    assert all(address in {"127.0.0.1", "::1"} for _, address in addresses), addresses

    log = console.log_path.read_text(errors="replace")
    assert secret not in log and secret[4:24] not in log
    assert '"client":"127.0.0.3"' not in log
