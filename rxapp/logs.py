"""Application logging: text or one JSON object per line (APIKEYS_LOG_FORMAT=json), never a secret.

- `configure_logging()` gives the `rxapp` loggers one handler with the chosen formatter. In JSON
  mode it also switches Reflex's own log pipeline to JSON lines (REFLEX_LOG_JSON), so a log
  collector sees JSON from the framework and Granian too.
- `request_context_middleware` (ASGI, outermost) gives every HTTP request an id (the caller's
  X-Request-ID when it is sane, else a new one, echoed in the response), the client address
  (X-Forwarded-For behind REFLEX_TRUSTED_PROXY_HOPS trusted proxies, like the API), its start time
  for the verify latency metric, and in JSON mode one access line per API call: method, path
  (never the query string), status and duration.
- Both formatters mask secrets with rxapp.redaction.redact (keys, management tokens, bearer
  credentials, cookies, password-like fields) in every message and traceback, as a last line of
  defence: no code path logs them on purpose.

Filters (for example one that redacts Reflex's event logs) can be added beside this with
`logging.getLogger(...).addFilter(...)`; configure_logging() leaves other filters alone.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from typing import Any

from rxapp import metrics
from rxapp.client_address import scope_client_address
from rxapp.context import app_context
from rxapp.redaction import redact

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

APP_LOGGER = "rxapp"
ACCESS_LOGGER = "rxapp.access"
REQUEST_ID_HEADER = b"x-request-id"
_REQUEST_ID_OK = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,63}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

request_id: ContextVar[str] = ContextVar("request_id", default="")
client: ContextVar[str] = ContextVar("client", default="")


class RedactingFormatter(logging.Formatter):
    """Plain text with the request id, and secrets masked."""

    def format(self, record: logging.LogRecord) -> str:
        rid = request_id.get()
        prefix = f"[{rid}] " if rid else ""
        return redact(prefix + super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request id, client, and extras."""

    EXTRA_FIELDS = ("method", "path", "status", "duration_ms")

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
            "request_id": getattr(record, "request_id", None) or request_id.get() or None,
            "client": getattr(record, "client", None) or client.get() or None,
        }
        for name in self.EXTRA_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                payload[name] = redact(value) if isinstance(value, str) else value
        if record.exc_info and record.exc_info[0] is not None:
            payload["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


class _AppHandler(logging.StreamHandler):
    """The one handler configure_logging installs (found again by its class, not a global)."""


def configure_logging(log_format: str | None = None, stream: Any = None) -> None:
    """Idempotent: one handler on the `rxapp` logger (stdout unless `stream`), INFO and up."""
    if log_format is None:
        log_format = app_context.settings.log_format
    logger = logging.getLogger(APP_LOGGER)
    for old in [handler for handler in logger.handlers if isinstance(handler, _AppHandler)]:
        logger.removeHandler(old)
    handler = _AppHandler(stream or sys.stdout)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
        os.environ["REFLEX_LOG_JSON"] = "true"  # Reflex's and Granian's own lines (and subprocesses)
    else:
        handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    _access_enabled[0] = log_format == "json"


_access_enabled = [False]


def access_logging_enabled() -> bool:
    return _access_enabled[0]


_access_log = logging.getLogger(ACCESS_LOGGER)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return ""


def accepted_request_id(incoming: str) -> str:
    """The caller's X-Request-ID when it is a plain id, else a new one.

    Plain: letters, digits, '.' and '-' (no '_': every key and token is <prefix>_<random>), at most
    64, and nothing the log scrubber would mask. UUIDs are kept (Envoy and Traefik send them; the
    scrubber masks UUIDs only as Reflex client tokens, which never travel in this header).
    """
    if _REQUEST_ID_OK.fullmatch(incoming) and (_UUID.fullmatch(incoming) or redact(incoming) == incoming):
        return incoming
    return uuid.uuid4().hex


def request_context_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = accepted_request_id(_header(scope, REQUEST_ID_HEADER))
        tokens = (
            request_id.set(rid),
            client.set(scope_client_address(scope)),
            metrics.request_started.set(started),
        )
        path = scope.get("path", "")
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (REQUEST_ID_HEADER, rid.encode())]
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            if _access_enabled[0] and (path.startswith("/api/") or path == metrics.METRICS_PATH):
                _access_log.info(
                    "%s %s %d",
                    scope.get("method", ""),
                    path,
                    status,
                    extra={
                        "method": scope.get("method", ""),
                        "path": path[:200],
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                    },
                )
            request_id.reset(tokens[0])
            client.reset(tokens[1])
            metrics.request_started.reset(tokens[2])

    return middleware
