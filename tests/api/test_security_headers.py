"""Cross-site websocket hijacking and HTTP hardening, attacked over real sockets."""

from __future__ import annotations

import base64
import os
import socket
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import Console


def _handshake(console: Console, origin: str | None, host: str = "") -> str:
    """Send a raw websocket upgrade to Reflex's event endpoint; return the HTTP status line."""
    parts = urlsplit(console.base_url)
    lines = [
        "GET /_event/?EIO=4&transport=websocket HTTP/1.1",
        f"Host: {host or parts.netloc}",
        "Connection: Upgrade",
        "Upgrade: websocket",
        "Sec-WebSocket-Version: 13",
        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}",
    ]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as connection:
        connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return connection.recv(4096).decode(errors="replace").split("\r\n", 1)[0]


@pytest.mark.parametrize("origin", ["http://evil.example", "null", None, "http://localhost:1"])
def test_websocket_handshake_from_a_foreign_or_missing_origin_is_refused(console: Console, origin) -> None:
    status_line = _handshake(console, origin)
    assert " 101 " not in status_line
    assert " 403 " in status_line


def test_websocket_handshake_from_the_console_origin_is_accepted(console: Console) -> None:
    assert " 101 " in _handshake(console, console.base_url)


def test_websocket_handshake_from_its_own_origin_under_another_name_is_accepted(console: Console) -> None:
    """Same origin is always safe (as Socket.IO and Django decide it): the Origin is the Host the
    browser connected to, whatever name or port the console is reached by."""
    port = urlsplit(console.base_url).port
    assert " 101 " in _handshake(
        console, f"http://console.internal.test:{port}", host=f"console.internal.test:{port}"
    )
    assert " 403 " in _handshake(console, "http://evil.example", host=f"console.internal.test:{port}")


def test_event_endpoint_over_plain_http_needs_an_allowed_origin(console: Console) -> None:
    response = httpx.get(f"{console.base_url}/_event/?EIO=4&transport=polling", timeout=10)
    assert response.status_code == 403


@pytest.mark.parametrize("path", ["/sign-in", "/keys", "/api/v1/health"])
def test_security_headers_on_every_response(console: Console, path: str) -> None:
    response = httpx.get(f"{console.base_url}{path}", timeout=10, follow_redirects=True)
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "same-origin"
    policy = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert "default-src 'self'" in policy
    assert "form-action 'self'" in policy
    assert "strict-transport-security" not in headers  # plain HTTP here; HSTS only over HTTPS


def test_cors_is_not_a_wildcard(console: Console) -> None:
    response = httpx.options(
        f"{console.base_url}/api/v1/verify",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
        timeout=10,
    )
    assert response.headers.get("access-control-allow-origin") not in ("*", "http://evil.example")


def test_oversized_body_is_refused_without_a_server_error(console: Console) -> None:
    response = httpx.post(
        f"{console.base_url}/api/v1/verify",
        content=b"x" * (256 * 1024),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 413
    assert response.json()["error"] == "PAYLOAD_TOO_LARGE"
