"""Two answer shapes for one `Decision`: verify's JSON (code reads `valid`) and authorize's status
codes with identity headers (gateways read the status: 2xx lets a request through, 401/403 stop it).

Both are plain bytes, built the same way whether the fast path or the documented FastAPI twin
sends them, so the two cannot drift apart.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

import orjson

from rxapp.hotpath.request_rules import Decision
from rxapp.services.keys import Verification

# Upper bounds of the identity headers, from the model's limits: a profile name of 80 characters
# (at most 4 UTF-8 bytes each, 3 characters per percent-encoded byte) and settings of at most the
# 8 known categories, a 4-digit sensitivity and a 16-character action (base64url JSON).
MAX_BIAS_PROFILE_HEADER = 960
MAX_BIAS_PROFILE_SETTINGS_HEADER = 512

_DENIED_STATUS = {
    "MISSING_KEY": 401,
    "MALFORMED": 401,
    "NOT_FOUND": 401,
    "INACTIVE": 403,
    "EXPIRED": 403,
    "RATE_LIMITED": 429,
    "USAGE_EXCEEDED": 403,
    "INSUFFICIENT_PERMISSIONS": 403,
    "FORBIDDEN": 403,
}  # anything else (KEY_IN_URL, HEADER_TOO_LARGE) keeps verify's 400
_NO_STORE = (b"cache-control", b"no-store")


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: tuple[tuple[bytes, bytes], ...]  # besides content-type and content-length
    body: bytes


# Rendered valid answers, by the identity of the Verification they render. That object is immutable
# and services/keys/verification.py hands out one per distinct key row (fetched fresh on every
# call), so a key verified again is answered with bytes already made, and a changed row is a new
# object that misses. Each entry holds its Verification, so its id cannot be reused while the entry
# lives. Bounded: cleared when full (a miss only costs the rendering).
_RENDERED: dict[tuple[int, bool], tuple[Verification, Answer]] = {}
_RENDERED_MAX = 8192


def _remembered(outcome: Verification, gateway: bool, render: Callable[[], Answer]) -> Answer:
    entry = _RENDERED.get((id(outcome), gateway))
    if entry is not None and entry[0] is outcome:
        return entry[1]
    made = render()
    if len(_RENDERED) >= _RENDERED_MAX:
        _RENDERED.clear()
    _RENDERED[(id(outcome), gateway)] = (outcome, made)
    return made


def _json(content: object) -> bytes:
    """Byte for byte what Starlette's JSONResponse renders for these answers (compact, UTF-8; they
    hold only strings, ints, a 0–1 float, booleans and nulls), at a fifteenth of json.dumps' cost."""
    return orjson.dumps(content)


def _retry_after(decision: Decision) -> tuple[tuple[bytes, bytes], ...]:
    return ((b"retry-after", str(decision.retry_after).encode()),) if decision.retry_after else ()


def verify_answer(decision: Decision) -> Answer:
    """`POST /api/v1/verify`: 200 with `valid`, or a JSON error for requests that never reached a key."""
    outcome = decision.verification
    if outcome is None:
        body = _json({"error": decision.code, "message": decision.message})
        return Answer(decision.http_status, _retry_after(decision), body)
    if decision.extra is not None:  # a programmable key: never remembered (credits change per call)
        if outcome.valid:
            return Answer(200, (), _json({**_valid_body(outcome), **decision.extra}))
        return Answer(200, (), _json({"valid": False, "code": outcome.code, **decision.extra}))
    if not outcome.valid:
        if decision.retry_after:  # the key's own rate limit (the endpoint's own limit is a 429)
            return Answer(
                200, (), _json({"valid": False, "code": outcome.code, "retry_after": decision.retry_after})
            )
        return Answer(200, (), _json({"valid": False, "code": outcome.code}))
    return _remembered(outcome, False, lambda: Answer(200, (), _json(_valid_body(outcome))))


def _valid_body(outcome: Verification) -> dict[str, object]:
    return {
        "valid": True,
        "key_id": outcome.key_id,
        "status": outcome.status,
        "expires_at": outcome.expires_at.isoformat() if outcome.expires_at else None,
        "bias_profile": outcome.bias_profile,
        "workspace_id": outcome.workspace_id,
        "workspace_name": outcome.workspace_name,
    }


def identity_headers(decision: Decision) -> tuple[tuple[bytes, bytes], ...]:
    """X-Key-Id, X-Workspace-Id (the workspace's public id), X-Bias-Profile (percent-encoded UTF-8
    name) and X-Bias-Profile-Settings (unpadded base64url of compact JSON: id, categories,
    sensitivity, action).

    The profile headers are always sent, empty for a key without a profile, so a gateway that
    copies them always overwrites what a client sent (Caddy 2.6 would otherwise forward its own
    unexpanded placeholder text).
    """
    outcome = decision.verification
    assert outcome is not None and outcome.valid
    profile = outcome.bias_profile
    name = settings = b""
    if profile is not None:
        compact = {
            "id": profile["id"],
            "categories": profile["categories"],
            "sensitivity": profile["sensitivity"],
            "action": profile["action"],
        }
        name = quote(profile["name"], safe="").encode("ascii")
        settings = base64.urlsafe_b64encode(_json(compact)).rstrip(b"=")
    return (
        (b"x-key-id", outcome.key_id.encode("ascii")),
        (b"x-workspace-id", outcome.workspace_id.encode("ascii")),
        (b"x-bias-profile", name),
        (b"x-bias-profile-settings", settings),
        *program_headers(decision.extra),
    )


_NO_PROGRAM_HEADERS = ((b"x-key-credits", b""), (b"x-key-identity", b""), (b"x-key-meta", b""))


def program_headers(extra: dict[str, object] | None) -> tuple[tuple[bytes, bytes], ...]:
    """Programmable keys' headers, always sent (empty when not applicable, so a gateway that copies
    them overwrites whatever a client sent): X-Key-Credits (the balance after this call, when the
    key has credits), X-Key-Identity (the identity's external id, percent-encoded UTF-8) and
    X-Key-Meta (unpadded base64url of the key's meta as compact JSON, at most ~5.5 KB)."""
    if extra is None:
        return _NO_PROGRAM_HEADERS
    credits = extra.get("credits")
    identity = extra.get("identity")
    meta = extra.get("meta")
    return (
        (b"x-key-credits", str(credits).encode() if credits is not None else b""),
        (
            b"x-key-identity",
            quote(str(identity["external_id"]), safe="").encode("ascii")
            if isinstance(identity, dict)
            else b"",
        ),
        (b"x-key-meta", base64.urlsafe_b64encode(_json(meta)).rstrip(b"=") if meta is not None else b""),
    )


def _authorized(decision: Decision) -> Answer:
    outcome = decision.verification
    assert outcome is not None
    body = _json({"valid": True, "key_id": outcome.key_id})
    return Answer(200, (*identity_headers(decision), _NO_STORE), body)


def authorize_answer(decision: Decision) -> Answer:
    """`/api/v1/authorize` (forward auth): 200 + identity headers, 401, 403, 429 or 400; tiny body."""
    if decision.code == "":
        outcome = decision.verification
        assert outcome is not None
        if decision.extra is not None:
            return _authorized(decision)
        return _remembered(outcome, True, lambda: _authorized(decision))
    status = _DENIED_STATUS.get(decision.code, decision.http_status)
    headers: tuple[tuple[bytes, bytes], ...] = (*_retry_after(decision), _NO_STORE)
    if status == 401:
        challenge = b'Bearer realm="api"'
        if decision.code != "MISSING_KEY":
            challenge += b', error="invalid_token"'
        headers = ((b"www-authenticate", challenge), *headers)
    return Answer(status, headers, _json({"valid": False, "code": decision.code}))
