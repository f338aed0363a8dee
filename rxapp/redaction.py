"""No credential in any log line, whoever writes it (our code, Reflex, Granian, a traceback).

Reflex logs whole events in some cases (an unknown event name, a malformed payload), with the
connection's router data. The websocket no longer carries the cookie into Reflex (see
session_guard), but a log line is the last place a secret should be able to reach, so every
record is scrubbed when it is created: session cookies, Authorization / X-API-Key values, API
keys and management tokens (by their prefix, in any case), webhook signing secrets (`whsec_`),
Reflex client tokens (UUIDs), the password in a URL (`smtp://user:password@host`), and the value
of anything named like a password, secret, token, pepper or cookie. rxapp/logs.py's formatters
call `redact` too, so there is one list of patterns.

Installed through `logging.setLogRecordFactory`, so it applies to every logger and handler,
including those configured later, and to the text of exceptions attached to a record.
"""

from __future__ import annotations

import logging
import re
import traceback

REDACTED = "[REDACTED]"
_installed = False


def _patterns(key_prefixes: tuple[str, ...]) -> list[tuple[re.Pattern[str], str]]:
    prefixes = "|".join(re.escape(prefix) for prefix in key_prefixes if prefix)
    patterns = [
        # Cookie headers and Set-Cookie values, in any quoting: keep the name, drop the value.
        (
            re.compile(r"(?i)(apikeys_session|apikeys_device|apikeys_pending|apikeys_oidc)=[^;,\s'\"]*"),
            rf"\1={REDACTED}",
        ),
        (
            re.compile(r"(?i)(['\"]?(?:cookie|set-cookie)['\"]?\s*[:=]\s*)(['\"])(?:(?!\2).)*\2"),
            rf"\1\2{REDACTED}\2",
        ),
        (
            re.compile(
                r"(?i)(['\"]?(?:authorization|proxy-authorization|x-api-key)['\"]?\s*[:=]\s*)(['\"])(?:(?!\2).)*\2"
            ),
            rf"\1\2{REDACTED}\2",
        ),
        (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+"), rf"\1 {REDACTED}"),
        # `password=…`, `"token": "…"` and the like, in messages, form dumps and JSON: a quoted
        # value up to its closing quote (it may hold spaces), else up to the next separator.
        (
            re.compile(
                r"(?i)(password|passwd|secret|token|pepper|cookie)(['\"]?\s*[=:]\s*)(['\"])(?:(?!\3).)*\3"
            ),
            rf"\1\2\3{REDACTED}\3",
        ),
        (
            re.compile(r"(?i)(password|passwd|secret|token|pepper|cookie)(\"?\s*[=:]\s*\"?)[^\s\"',;&]+"),
            rf"\1\2{REDACTED}",
        ),
        # A password in a URL (smtp://user:password@host, redis://:password@host): keep the user.
        (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/?#@]*:)[^\s/?#@]+@"), rf"\1{REDACTED}@"),
        # Webhook signing secrets (Standard Webhooks: whsec_ + base64), whatever they are next to.
        (re.compile(r"(?i)whsec_[A-Za-z0-9+/=_-]{8,}"), f"whsec_{REDACTED}"),
        # Reflex client tokens and socket ids' tokens are UUIDs, also glued to a state's name
        # (Reflex's lock warning: "token <uuid>_reflex___state…", where `\b` finds no boundary).
        (
            re.compile(
                r"(?i)(?<![0-9a-f])[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![0-9a-f])"
            ),
            REDACTED,
        ),
    ]
    if prefixes:
        patterns.append((re.compile(rf"(?i)({prefixes})_[A-Za-z0-9_-]{{8,}}"), rf"\1_{REDACTED}"))
    return patterns


_rules: list[tuple[re.Pattern[str], str]] = _patterns(("bpk", "bpm"))


def redact(text: str) -> str:
    for pattern, replacement in _rules:
        text = pattern.sub(replacement, text)
    return text


def install(key_prefixes: tuple[str, ...] = ("bpk", "bpm")) -> None:
    """Scrub every log record this process creates from now on (idempotent)."""
    global _installed, _rules
    _rules = _patterns(tuple(dict.fromkeys((*key_prefixes, "bpk", "bpm"))))
    if _installed:
        return
    _installed = True
    make_record = logging.getLogRecordFactory()

    def scrubbed_record(*args, **kwargs) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        if record.exc_info and record.exc_info[0] is not None:
            message += "\n" + "".join(traceback.format_exception(*record.exc_info))
            record.exc_info = None
            record.exc_text = None
        if record.stack_info:
            message += "\n" + record.stack_info
            record.stack_info = None
        record.msg = redact(message)
        record.args = None
        return record

    logging.setLogRecordFactory(scrubbed_record)
