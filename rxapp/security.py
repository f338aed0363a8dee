"""ASGI middleware around the whole app (UI, websocket and API).

- The Reflex websocket (`/_event`) is refused unless its Origin is the console's own (the Host
  the browser connected to, as Socket.IO and Django decide it) or in the extra allowlist: a page
  on another site cannot open a socket that carries the user's cookie (cross-site websocket
  hijacking). A handshake without an Origin header is refused too: browsers always send one.
- Every HTTP response gets security headers; HSTS only when the request came over HTTPS, and
  `X-Forwarded-Proto` counts only when a trusted proxy is configured (REFLEX_TRUSTED_PROXY_HOPS).
- Request bodies are capped so a client cannot make a worker buffer megabytes.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from rxapp.context import get_settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

EVENT_PATH = "/_event"
MAX_BODY_BYTES = 64 * 1024
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        # Reflex's prerendered pages carry inline bootstrap scripts (colour mode, hydration), and
        # its event runtime evaluates server-sent calls (toasts, clipboard) with eval(). Data from
        # the server is rendered by React, which escapes it; connect-src and form-action stay 'self'.
        "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
BASE_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),  # no-referrer would make form posts send Origin: null
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
]
# Built once at import: a response only filters these against the headers it already has.
HTTP_HEADERS = (*BASE_HEADERS, (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()))
HTTPS_HEADERS = (*HTTP_HEADERS, (b"strict-transport-security", b"max-age=31536000; includeSubDomains"))


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return ""


def _is_https(scope: Scope) -> bool:
    if scope.get("scheme") in ("https", "wss"):
        return True
    if not get_settings().trusted_proxy_hops:
        return False  # anyone can send X-Forwarded-Proto; only our proxy's word counts
    return _header(scope, b"x-forwarded-proto").split(",")[-1].strip().lower() == "https"


is_https = _is_https  # also the single sign-on redirect URI's scheme (api/sso_forms.py)


def is_allowed_origin(
    origin: str, host: str, allowed: set[str] | tuple[str, ...], forwarded_host: str = ""
) -> bool:
    """Same origin (the Origin's host:port is the Host the request was sent to, or the
    X-Forwarded-Host a trusted proxy passed on) or allowlisted."""
    origin = origin.strip().rstrip("/")
    if not origin or origin == "null":
        return False
    if origin in allowed:
        return True
    scheme, _, authority = origin.partition("://")
    if scheme not in ("http", "https"):
        return False
    hosts = {h.strip().lower() for h in (host, trusted_forwarded_host(forwarded_host)) if h.strip()}
    return authority.lower() in hosts


def trusted_forwarded_host(value: str) -> str:
    """X-Forwarded-Host counts only behind a trusted proxy (REFLEX_TRUSTED_PROXY_HOPS); the last
    entry is the one our proxy added."""
    if not value or not get_settings().trusted_proxy_hops:
        return ""
    return value.split(",")[-1].strip()


def socket_origin_check(origin: str | None, environ: dict[str, Any] | None = None) -> bool:
    """For Socket.IO's own Origin check: the same rule as the middleware (own origin or allowlist)."""
    environ = environ or {}
    return is_allowed_origin(
        origin or "",
        environ.get("HTTP_HOST", ""),
        set(get_settings().allowed_origins),
        environ.get("HTTP_X_FORWARDED_HOST", ""),
    )


async def _reject_http(send: Send, status: int, error: str, message: str) -> None:
    body = json.dumps({"error": error, "message": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def body_too_large(scope: Scope) -> bool:
    """A declared Content-Length over the cap (a body without one is counted as it arrives)."""
    declared = _header(scope, b"content-length")
    return declared.isdigit() and int(declared) > MAX_BODY_BYTES


async def refuse_too_large(send: Send) -> None:
    await _reject_http(send, 413, "PAYLOAD_TOO_LARGE", "The request body is too large.")


def response_headers(scope: Scope) -> tuple[tuple[bytes, bytes], ...]:
    """The security headers every HTTP response gets (HSTS over HTTPS only)."""
    return HTTPS_HEADERS if _is_https(scope) else HTTP_HEADERS


def add_missing(headers: list[tuple[bytes, bytes]], extra: tuple[tuple[bytes, bytes], ...]) -> None:
    """Append each of `extra` whose name the response does not set already."""
    present = {key.lower() for key, _ in headers}
    headers.extend(item for item in extra if item[0] not in present)


def security_middleware(app: ASGIApp) -> ASGIApp:
    allowed = set(get_settings().allowed_origins)

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        path = scope.get("path", "")
        socket_like = kind == "websocket" or (kind == "http" and path.startswith(EVENT_PATH))
        if socket_like and not is_allowed_origin(
            _header(scope, b"origin"),
            _header(scope, b"host"),
            allowed,
            _header(scope, b"x-forwarded-host"),
        ):
            if kind == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            else:
                await _reject_http(send, 403, "FORBIDDEN_ORIGIN", "Origin not allowed.")
            return
        if kind != "http":
            await app(scope, receive, send)
            return

        if body_too_large(scope):
            await refuse_too_large(send)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > MAX_BODY_BYTES:
                    raise ValueError("request body too large")
            return message

        extra = response_headers(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                add_missing(headers, extra)
                message["headers"] = headers
            await send(message)

        await app(scope, limited_receive, send_with_headers)

    return middleware
