"""The verify and authorize fast path: answered in raw ASGI, before FastAPI's routing.

`POST /api/v1/verify` and `/api/v1/authorize` (any method, and any path below it for Envoy's
`path_prefix`) are answered here, on the event loop: no routing, no dependency resolution, no
threadpool hop. The FastAPI routes of the same paths (rxapp/api/verify.py) stay as their documented
twins and call `answer` too, so both run one code path. Everything else passes through untouched.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from rxapp import metrics, routes, security
from rxapp.hotpath.answers import Answer, authorize_answer, verify_answer
from rxapp.hotpath.pipeline import decide
from rxapp.hotpath.program import BODY_MAX_BYTES

log = logging.getLogger("rxapp.hotpath")

Shape = Callable[[Any], Answer]
INTERNAL_ERROR = Answer(
    500, (), b'{"error":"INTERNAL_ERROR","message":"The request could not be processed."}'
)
_JSON = (b"content-type", b"application/json")
_AUTHORIZE_BELOW = routes.API_AUTHORIZE + "/"


def observe(endpoint: str, code: str, seconds: float) -> None:
    """Called once per answered request (verify and authorize alike): outcome code ("VALID" for a
    valid key, else the code sent, refusals included) and time spent. An in-memory increment."""
    metrics.record_verification(code, seconds)


async def answer(scope: Any, shape: Shape, endpoint: str, body: bytes = b"") -> Answer:
    """Decide once (the pipeline, pipeline.py), render in the caller's shape, report to `observe`.

    A failure (database down) fails closed: 500 with no internals, logged once here.
    """
    started = time.perf_counter()
    try:
        decision = await decide(scope, body)
    except Exception:
        log.exception("%s failed; answered 500", endpoint)
        observe(endpoint, "INTERNAL_ERROR", time.perf_counter() - started)
        return INTERNAL_ERROR
    observe(endpoint, decision.code or "VALID", time.perf_counter() - started)
    return shape(decision)


async def _send(send: Any, reply: Answer, extra: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    """The reply, plus `extra` headers it does not carry already (the security headers)."""
    headers = [_JSON, (b"content-length", str(len(reply.body)).encode()), *reply.headers]
    if extra:
        if reply.headers:
            security.add_missing(headers, extra)
        else:  # content-type and content-length are never among them
            headers.extend(extra)
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body})


def fast_path_middleware(app: Any) -> Any:
    """ASGI transformer for `rx.App(api_transformer=[api, fast_path_middleware, ...])`."""

    async def middleware(scope: Any, receive: Any, send: Any) -> None:
        if _is_fast_path(scope):
            await _respond(scope, receive, send)
        else:
            await app(scope, receive, send)

    return middleware


async def _respond(
    scope: Any, receive: Any, send: Any, extra: tuple[tuple[bytes, bytes], ...] = (), cap: int = 0
) -> None:
    """Answer a request `_is_fast_path` accepted: verify (its optional body read first, refused
    past `cap`) or authorize; `extra` headers added to the reply."""
    if scope["path"] == routes.API_VERIFY:
        body = await read_body(scope, receive, cap) if _has_body(scope) else b""
        reply = await answer(scope, verify_answer, "verify", body)
    else:
        reply = await answer(scope, authorize_answer, "authorize")
    await _send(send, reply, extra)


def _has_body(scope: Any) -> bool:
    """Does verify's request carry a body (the optional JSON of programmable keys)? Read from the
    headers, so a call without one never waits on `receive`."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return value.strip() != b"0"
        if name == b"transfer-encoding":
            return True
    return False


async def read_body(scope: Any, receive: Any, cap: int = 0) -> bytes:
    """The whole body, up to a bound (a longer one is cut there and refused by `parse_body`);
    past `cap` bytes received (when given), ValueError, as security_middleware's receive raises."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        if size <= BODY_MAX_BYTES:
            chunks.append(chunk)
        size += len(chunk)
        if cap and size > cap:
            raise ValueError("request body too large")
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _is_fast_path(scope: Any) -> bool:
    if scope["type"] != "http":
        return False
    path = scope["path"]
    if path == routes.API_VERIFY:
        return scope["method"] == "POST"
    return path == routes.API_AUTHORIZE or path.startswith(_AUTHORIZE_BELOW)


def direct_fast_path() -> Any:
    """`security_middleware(fast_path_middleware(...))` for the requests `outermost` sends it,
    in one call: security.py's rules for HTTP (the body cap, the same headers on the answer), then
    the answer. The middleware's per-request closures and extra `send` layer cost about 8 % of a
    valid verification's instructions. tests/api/test_fast_path_http.py checks the headers and
    the cap over real HTTP; FastPathApp uses the layered form when access logging is on."""

    async def direct(scope: Any, receive: Any, send: Any) -> None:
        if security.body_too_large(scope):
            await security.refuse_too_large(send)
            return
        await _respond(scope, receive, send, security.response_headers(scope), security.MAX_BODY_BYTES)

    return direct


def outermost(reflex_asgi: Any, secured_fast_path: Any) -> Any:
    """Answer verify/authorize ahead of Reflex's own top-level stack (its Starlette, context and
    CORS middleware, router): about a third of a verification's server CPU on its own.

    `secured_fast_path` is the security middleware around `fast_path_middleware`, so these answers
    get exactly the headers and limits every other response gets. A request with an Origin header
    (a browser, maybe a CORS preflight) takes the normal road, so CORS behaves as before.
    """

    async def entry(scope: Any, receive: Any, send: Any) -> None:
        if _is_fast_path(scope) and not any(name == b"origin" for name, _ in scope["headers"]):
            await secured_fast_path(scope, receive, send)
        else:
            await reflex_asgi(scope, receive, send)

    return entry
