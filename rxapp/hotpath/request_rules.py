"""The request rules verify and authorize share, read straight from the ASGI scope.

`decide_request` applies them in a fixed order: a key in the URL (400), the per-client rate limit
(429), the credential headers (400 too long, 401 missing). It returns the secret to check, or the
`Decision` that refuses the request before any key is looked at. What follows (the key's format,
the lookup, the row rules) is rxapp/hotpath/pipeline.py's business.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from rxapp.client_address import client_address_from
from rxapp.context import app_context
from rxapp.services.keys import Verification

MAX_CREDENTIAL_HEADER = 256
QUERY_KEY_NAMES = frozenset({"key", "api_key", "apikey", "api-key", "token", "access_token", "secret"})


# ---------------------------------------------------------------- the answer, before rendering


@dataclass(frozen=True, slots=True)
class Decision:
    """What the pipeline concluded, before rendering (answers.py): `code` is "" for a valid key,
    `http_status` is verify's status. The request rules' refusals below are Decisions too."""

    http_status: int
    code: str
    message: str = ""
    retry_after: int = 0
    verification: Verification | None = None
    # programmable keys (hotpath/program.py): what the answer adds (credits, meta, permissions,
    # identity, ratelimits); None for every other answer, which renders exactly as before
    extra: dict[str, Any] | None = None


KEY_IN_URL = Decision(
    400, "KEY_IN_URL", "Never send an API key in the URL; it ends up in logs. Use the Authorization header."
)
AUTHORIZATION_TOO_LARGE = Decision(400, "HEADER_TOO_LARGE", "The Authorization header is too long.")
X_API_KEY_TOO_LARGE = Decision(400, "HEADER_TOO_LARGE", "The X-API-Key header is too long.")
BAD_AUTHORIZATION = Decision(401, "MISSING_KEY", "Use 'Authorization: Bearer <key>' or the X-API-Key header.")
NO_CREDENTIAL = Decision(401, "MISSING_KEY", "Send the key in 'Authorization: Bearer <key>' or X-API-Key.")


# ---------------------------------------------------------------- the rules, in order


def decide_request(scope: Any) -> str | Decision:
    """The secret this request carries, or the Decision that refuses it. Never reads the body."""
    authorization = x_api_key = forwarded_for = None
    for name, value in scope["headers"]:  # first occurrence wins, as in Starlette's Headers.get
        if name == b"authorization":
            if authorization is None:
                authorization = value.decode("latin-1")
        elif name == b"x-api-key":
            if x_api_key is None:
                x_api_key = value.decode("latin-1")
        elif name == b"x-forwarded-for" and forwarded_for is None:
            forwarded_for = value.decode("latin-1")
    query_string = scope.get("query_string")
    if query_string and query_carries_key(query_string):
        return KEY_IN_URL
    wait = app_context.verify_limiter.retry_after(client_address_from(scope.get("client"), forwarded_for))
    if wait:
        return Decision(429, "RATE_LIMITED", "Too many verification requests.", retry_after=wait)
    return credential(authorization, x_api_key)


# ---------------------------------------------------------------- 1. a key in the URL


def query_carries_key(query_string: bytes) -> bool:
    """A credential-like parameter name, or a name or value that starts with the key prefix.

    Case-insensitive and blind to surrounding whitespace: `?x=%20bpk_…` and `?x=BPK_…` are refused.
    """
    prefix = app_context.settings.key_prefix.lower() + "_"
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        name = name.strip().lower()
        if name in QUERY_KEY_NAMES or name.startswith(prefix) or value.strip().lower().startswith(prefix):
            return True
    return False


# ---------------------------------------------------------------- 2. the credential headers


def credential(authorization: str | None, x_api_key: str | None) -> str | Decision:
    """The key from `Authorization: Bearer` (which wins) or X-API-Key, or why there is none."""
    if authorization is not None:
        if len(authorization) > MAX_CREDENTIAL_HEADER:
            return AUTHORIZATION_TOO_LARGE
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return BAD_AUTHORIZATION
        return value.strip()
    if x_api_key is not None:
        if len(x_api_key) > MAX_CREDENTIAL_HEADER:
            return X_API_KEY_TOO_LARGE
        if x_api_key.strip():
            return x_api_key.strip()
    return NO_CREDENTIAL
