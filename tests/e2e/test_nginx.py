"""docs/deploy/nginx.conf, run for real: nginx terminates TLS on loopback in front of the console.

Chromium signs up, creates a key and the key verifies, all through nginx (HTTPS page, websocket
upgrade on /_event, form posts). The console trusts one proxy hop (REFLEX_TRUSTED_PROXY_HOPS=1), so
audit addresses come from X-Forwarded-For: nginx connects from 127.0.0.3 (proxy_bind, added by the
test) while the browser is 127.0.0.1, and the audit must say 127.0.0.1. The session cookie is
Secure because nginx sends X-Forwarded-Proto: https.
"""

from __future__ import annotations

import re
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from rxapp import __version__
from tests.conftest import PASSWORD, ROOT, Console, free_port
from tests.harness import exclusive

SITE = ROOT / "docs" / "deploy" / "nginx.conf"
TLS_PORT = 443  # the compiled frontend reaches the backend on the page's own https port (no port)
T = 30_000
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as nginx does: TIME_WAIT is fine
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _render_site(console_port: int, http_port: int, cert: Path, key: Path, logs: Path) -> str:
    """The documented site with test ports and paths; every substitution must still match the doc."""
    text = SITE.read_text()
    replacements = [
        (r"server 127\.0\.0\.1:3000;", f"server 127.0.0.1:{console_port};"),
        (r"listen 80;", f"listen 127.0.0.1:{http_port};"),
        (r"listen \[::\]:80;", f"listen [::1]:{http_port};"),
        (r"listen 443 ssl http2;", f"listen 127.0.0.1:{TLS_PORT} ssl http2;"),
        (r"listen \[::\]:443 ssl http2;", f"listen [::1]:{TLS_PORT} ssl http2;"),  # localhost may be ::1
        (r"keys\.example\.com", "localhost"),
        (r"ssl_certificate +/\S+;", f"ssl_certificate {cert};"),
        (r"ssl_certificate_key +/\S+;", f"ssl_certificate_key {key};"),
        (r"access_log /var/log/nginx/\S+;", f"access_log {logs / 'access.log'};"),
        # the test's own addition: nginx's upstream connections come from another address
        (r"proxy_http_version 1\.1;", "proxy_http_version 1.1;\n    proxy_bind 127.0.0.3;"),
    ]
    for pattern, replacement in replacements:
        text, count = re.subn(pattern, replacement.replace("\\", "\\\\"), text)
        assert count, f"docs/deploy/nginx.conf no longer contains {pattern!r}"
    return text


@dataclass(frozen=True)
class Proxy:
    base: str
    http_port: int
    tls: ssl.SSLContext  # trusts the test's self-signed certificate, nothing else


@pytest.fixture(scope="module")
def nginx(console: Console, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    if NGINX is None:
        pytest.skip("nginx is not installed (scripts/test installs Debian's nginx when run as root)")
    with exclusive(f"port-{TLS_PORT}"):  # the other backend's pass may be using it right now
        yield from _nginx_in_front(console, tmp_path_factory)


def _nginx_in_front(console: Console, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    if not _port_free(TLS_PORT):
        pytest.skip(f"127.0.0.1:{TLS_PORT} is taken; the nginx test needs it for the HTTPS origin")
    folder = tmp_path_factory.mktemp("nginx")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    console_port = int(console.base_url.rsplit(":", 1)[1])
    http_port = free_port()
    (folder / "site.conf").write_text(_render_site(console_port, http_port, cert, key, folder))
    (folder / "nginx.conf").write_text(
        f"""user root;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
daemon off;
events {{ worker_connections 256; }}
http {{
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {folder}/site.conf;
}}
"""
    )
    command = [NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"https://localhost:{TLS_PORT}" if TLS_PORT != 443 else "https://localhost"
    tls = ssl.create_default_context(cafile=str(cert))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", verify=tls, timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, (folder / "error.log").read_text()
            assert time.monotonic() < deadline, "nginx did not come up"
            time.sleep(0.2)
        yield Proxy(base, http_port, tls)
    finally:
        process.terminate()
        process.wait(15)


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
