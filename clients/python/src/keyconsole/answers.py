"""What every integration shares: where the key is read from, and how a refusal is answered.

The statuses are those of the console's forward auth (`/api/v1/authorize`): a missing, malformed
or unknown key 401 with `WWW-Authenticate: Bearer`; INACTIVE, EXPIRED, FORBIDDEN,
INSUFFICIENT_PERMISSIONS and USAGE_EXCEEDED 403; RATE_LIMITED 429 with `Retry-After`. The client's
own UNREACHABLE (the console gave no verdict) is 503. Any other code is refused with 403.
Every refusal has the tiny JSON body `{"valid": false, "code": CODE}` and `Cache-Control: no-store`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from keyconsole.client import AsyncClient, Client, ConsoleUnreachable, RateLimitRequest
from keyconsole.result import MISSING_KEY, UNREACHABLE, Verification

MAX_CREDENTIAL_HEADER = 256
REQUEST_ATTRIBUTE = "key_verification"  # request.state.key_verification, request.key_verification, g.…

_STATUS = {
    "MISSING_KEY": 401,
    "MALFORMED": 401,
    "NOT_FOUND": 401,
    "INACTIVE": 403,
    "EXPIRED": 403,
    "FORBIDDEN": 403,
    "INSUFFICIENT_PERMISSIONS": 403,
    "USAGE_EXCEEDED": 403,
    "PERMISSIONS_NOT_CHECKED": 403,
    "RATE_LIMITED": 429,
    "KEY_IN_URL": 400,
    "HEADER_TOO_LARGE": 400,
    UNREACHABLE: 503,
}


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    code: str


def key_from_headers(authorization: str | None, x_api_key: str | None) -> str | None:
    """The key from `Authorization: Bearer` (which wins) or `X-API-Key`, as the console reads it."""
    if authorization is not None:
        scheme, _, value = authorization.strip().partition(" ")
        return (value.strip() or None) if scheme.lower() == "bearer" else None
    if x_api_key is not None:
        return x_api_key.strip() or None
    return None


def refusal(verification: Verification) -> Refusal | None:
    """None when the request may go on; else the answer that stops it."""
    if verification.valid:
        return None
    code = verification.code or "NOT_FOUND"
    status = _STATUS.get(code, 403)
    headers = [("cache-control", "no-store"), ("content-type", "application/json")]
    if status == 401:
        challenge = 'Bearer realm="api"' + ("" if code == "MISSING_KEY" else ', error="invalid_token"')
        headers.append(("www-authenticate", challenge))
    if status == 429 and verification.retry_after:
        headers.append(("retry-after", str(verification.retry_after)))
    body = json.dumps({"valid": False, "code": code}, separators=(",", ":")).encode()
    return Refusal(status, headers, body, code)


@dataclass(frozen=True, slots=True)
class Guard:
    """What an integration asks of every request's key (the arguments of `verify`)."""

    permissions: str | None = None
    cost: int = 1
    ratelimits: Sequence[RateLimitRequest] | None = None

    def check(self, client: Client, key: str | None) -> Verification:
        if key is None:
            return Verification(valid=False, code=MISSING_KEY)
        try:
            return client.verify(key, self.permissions, self.cost, self.ratelimits)
        except ConsoleUnreachable:  # on_unreachable="raise": the request is refused with 503
            return Verification.unreachable(allow=False)

    async def acheck(self, client: AsyncClient, key: str | None) -> Verification:
        if key is None:
            return Verification(valid=False, code=MISSING_KEY)
        try:
            return await client.verify(key, self.permissions, self.cost, self.ratelimits)
        except ConsoleUnreachable:
            return Verification.unreachable(allow=False)
