"""The request rules verify and authorize share, read straight from the ASGI scope.

One function, `decide`, applies them in a fixed order: key in the URL (400), the per-client rate
limit (429), the credential headers (400 too long, 401 missing), then the key itself (format and
checksum, one indexed lookup, status and end date at call time). Verify and authorize only differ
in how they render the `Decision` (see answers.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from rxapp.context import app_context
from rxapp.db import get_engine
from rxapp.models import utc_now
from rxapp.services import keys as key_service
from rxapp.services.key_lookup import PostgresDigestLookup, SqliteDigestLookup, libpq_url
from rxapp.services.last_used import buffer as last_used_buffer
from rxapp.services.usage import buffer as usage_buffer

MAX_CREDENTIAL_HEADER = 256
QUERY_KEY_NAMES = frozenset({"key", "api_key", "apikey", "api-key", "token", "access_token", "secret"})
POSTGRES_POOL_SIZE = 4  # connections per worker; verification holds one for a single SELECT


# ---------------------------------------------------------------- the answer, before rendering


@dataclass(frozen=True, slots=True)
class Decision:
    """What the rules concluded. `code` is "" for a valid key; `http_status` is verify's status."""

    http_status: int
    code: str
    message: str = ""
    retry_after: int = 0
    verification: key_service.Verification | None = None


KEY_IN_URL = Decision(
    400, "KEY_IN_URL", "Never send an API key in the URL; it ends up in logs. Use the Authorization header."
)
AUTHORIZATION_TOO_LARGE = Decision(400, "HEADER_TOO_LARGE", "The Authorization header is too long.")
X_API_KEY_TOO_LARGE = Decision(400, "HEADER_TOO_LARGE", "The X-API-Key header is too long.")
BAD_AUTHORIZATION = Decision(401, "MISSING_KEY", "Use 'Authorization: Bearer <key>' or the X-API-Key header.")
NO_CREDENTIAL = Decision(401, "MISSING_KEY", "Send the key in 'Authorization: Bearer <key>' or X-API-Key.")
_INVALID = {
    "MALFORMED": Decision(200, "MALFORMED", verification=key_service.MALFORMED),
    "NOT_FOUND": Decision(200, "NOT_FOUND", verification=key_service.NOT_FOUND),
}


# ---------------------------------------------------------------- the calling client


def client_address_from(peer: Any, forwarded_for: str | None) -> str:
    """The peer address, or X-Forwarded-For's entry written by the trusted proxy in front of us.

    The hop count is Reflex's own REFLEX_TRUSTED_PROXY_HOPS (app_context.proxy_hops), so the
    websocket and the API agree.
    """
    hops = app_context.proxy_hops
    if hops and forwarded_for:
        forwarded = [part.strip() for part in forwarded_for.split(",") if part.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops][:64]
    return peer[0] if peer else ""


def scope_client_address(scope: Any) -> str:
    """`client_address_from` for an ASGI scope (first X-Forwarded-For header, as Starlette reads it)."""
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-for":
            return client_address_from(scope.get("client"), value.decode("latin-1"))
    return client_address_from(scope.get("client"), None)


# ---------------------------------------------------------------- keys where they must not be


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


# ---------------------------------------------------------------- the lookup behind the rules


class EngineLookup:
    """Any other database (or an in-memory SQLite): SQLAlchemy, one connection checkout per call."""

    is_async = False

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def __call__(self, digest: str) -> tuple | None:
        with self.engine.connect() as connection:
            return key_service.fetch_row(connection, digest)


def current_lookup() -> Any:
    """The leanest lookup for the configured database, built once per worker (and per engine).

    Kept in app_context.verify_lookup as (engine, lookup).
    """
    engine = get_engine()
    built = app_context.verify_lookup
    if built is not None and built[0] is engine:
        return built[1]
    name, path = engine.dialect.name, engine.url.database
    if name == "sqlite" and path not in (None, "", ":memory:"):
        lookup: Any = SqliteDigestLookup(str(path))
    elif name == "postgresql":
        url = engine.url.render_as_string(hide_password=False)
        lookup = PostgresDigestLookup(libpq_url(url), size=POSTGRES_POOL_SIZE)
    else:
        lookup = EngineLookup(engine)
    app_context.verify_lookup = (engine, lookup)
    return lookup


# ---------------------------------------------------------------- the rules, in order


async def decide(scope: Any) -> Decision:
    """Apply every verify rule to one HTTP request scope. Never reads the body."""
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
    secret = credential(authorization, x_api_key)
    if isinstance(secret, Decision):
        return secret
    digest = key_service.digest_for(secret)
    if digest is None:
        return _INVALID["MALFORMED"]
    lookup = current_lookup()
    row = await lookup(digest) if lookup.is_async else lookup(digest)
    now = utc_now()
    outcome = key_service.decide(row, now)
    if outcome.key_row_id is None:
        return _INVALID[outcome.code]
    if not outcome.valid:  # INACTIVE or EXPIRED: a known key, counted in its usage
        usage_buffer.count(outcome.key_row_id, outcome.code, now)
        return Decision(200, outcome.code, verification=outcome)
    if outcome.rate_limit is not None:  # only keys with a limit pay for the check
        wait = await app_context.key_limiter.retry_after(outcome.key_row_id, outcome.rate_limit)
        if wait:
            usage_buffer.count(outcome.key_row_id, "RATE_LIMITED", now)
            limited = key_service.Verification(
                valid=False, code="RATE_LIMITED", key_row_id=outcome.key_row_id, key_id=outcome.key_id
            )
            return Decision(200, "RATE_LIMITED", "This key's rate limit is reached.", wait, limited)
    last_used_buffer.record(outcome.key_row_id, now)
    usage_buffer.count(outcome.key_row_id, "", now)
    return Decision(200, "", verification=outcome)
