"""`Client` and `AsyncClient`: one verify call each, with timeouts and careful retries.

Retries: only when no connection could be made (connection refused, connect timeout), never after
a request reached the console: a verification may spend a credit or a rate-limit slot, so a call
that timed out while reading, or any HTTP answer, is not repeated.

When the console gives no verdict (unreachable after the retries, a read timeout, or an answer that
is not a verdict such as a 502 from a proxy in front of it), `on_unreachable` decides:

- `"raise"` (default): raise `ConsoleUnreachable`; the integrations answer 503. Fail closed.
- `"deny"`: return `Verification(valid=False, code="UNREACHABLE")`. Fail closed.
- `"allow"`: return `Verification(valid=True, code="UNREACHABLE", unverified=True)`. Fail open:
  only for services that would rather serve unverified callers than stop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import httpx

from keyconsole.result import MALFORMED, MISSING_KEY, PERMISSIONS_NOT_CHECKED, Verification

VERIFY_PATH = "/api/v1/verify"
OnUnreachable = Literal["raise", "deny", "allow"]
RateLimitRequest = str | Mapping[str, Any]  # a name, or {"name": ..., "cost": ...}
_POLICIES = ("raise", "deny", "allow")
_RETRYABLE = (httpx.ConnectError, httpx.ConnectTimeout)  # the request never reached the console
_VERDICT_STATUSES = (400, 401, 429)  # the console's own refusals, JSON {"error": CODE, ...}


class KeyConsoleError(Exception):
    """Base of this package's errors."""


class ConsoleUnreachable(KeyConsoleError):
    """The console gave no verdict: no connection, a timeout, or an answer that is not a verdict."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


def verify_body(
    permissions: str | None, cost: int, ratelimits: Sequence[RateLimitRequest] | None
) -> dict[str, Any] | None:
    """The JSON body, or None when every option is at its default: a console that does not know
    programmable keys is sent exactly what it knows (no body at all)."""
    body: dict[str, Any] = {}
    if cost != 1:
        body["cost"] = cost
    if permissions is not None:
        body["permissions"] = permissions
    if ratelimits is not None:
        body["ratelimits"] = [{"name": r} if isinstance(r, str) else dict(r) for r in ratelimits]
    return body or None


def local_refusal(key: str | None) -> Verification | None:
    """Keys that cannot be sent in a header at all are refused here, as the console would."""
    if key is None or not key.strip():
        return Verification(valid=False, code=MISSING_KEY)
    if not key.strip().isascii() or not key.strip().isprintable():
        return Verification(valid=False, code=MALFORMED)
    return None


def read_answer(response: httpx.Response, asked_permissions: bool = False) -> Verification:
    """A verdict from the console's answer, or ConsoleUnreachable for anything else."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code == 200 and isinstance(body, dict) and "valid" in body:
        if asked_permissions and body["valid"] is True and "permissions" not in body:
            return Verification(valid=False, code=PERMISSIONS_NOT_CHECKED, raw=body)
        return Verification.from_json(body)
    if response.status_code in _VERDICT_STATUSES and isinstance(body, dict) and "error" in body:
        retry = response.headers.get("retry-after", "")
        return Verification(
            valid=False,
            code=str(body["error"]),
            retry_after=int(retry) if retry.isdigit() else None,
            raw=body,
        )
    raise ConsoleUnreachable(
        f"the console answered HTTP {response.status_code}, not a verdict", response.status_code
    )


class _Base:
    def __init__(
        self,
        base_url: str,
        *,
        timeout: float | httpx.Timeout,
        retries: int,
        backoff: float,
        on_unreachable: OnUnreachable,
    ) -> None:
        if on_unreachable not in _POLICIES:
            raise ValueError(f"on_unreachable must be one of {_POLICIES}, not {on_unreachable!r}")
        if retries < 0:
            raise ValueError("retries must be 0 or more")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.on_unreachable: OnUnreachable = on_unreachable

    def _request(
        self,
        key: str,
        permissions: str | None,
        cost: int,
        ratelimits: Sequence[RateLimitRequest] | None,
    ) -> dict[str, Any]:
        request: dict[str, Any] = {"headers": {"Authorization": f"Bearer {key.strip()}"}}
        body = verify_body(permissions, cost, ratelimits)
        if body is not None:
            request["json"] = body
        return request

    def _no_verdict(self, error: Exception) -> Verification:
        if self.on_unreachable == "raise":
            if isinstance(error, ConsoleUnreachable):
                raise error
            raise ConsoleUnreachable(f"the API key console at {self.base_url} gave no verdict: {error!r}")
        return Verification.unreachable(allow=self.on_unreachable == "allow")

    def _pause(self, attempt: int) -> float:
        return self.backoff * (2**attempt)


class Client(_Base):
    """Blocking client. Reuse one per process (it keeps connections open); thread-safe."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float | httpx.Timeout = 2.0,
        retries: int = 2,
        backoff: float = 0.05,
        on_unreachable: OnUnreachable = "raise",
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(
            base_url, timeout=timeout, retries=retries, backoff=backoff, on_unreachable=on_unreachable
        )
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)

    def verify(
        self,
        key: str | None,
        permissions: str | None = None,
        cost: int = 1,
        ratelimits: Sequence[RateLimitRequest] | None = None,
    ) -> Verification:
        """Ask the console about `key`. `permissions` is a query such as
        "documents.read AND (documents.write OR admin)"; `cost` is what the call spends of the key's
        credits (0 checks without spending); `ratelimits` names the limits to apply."""
        refused = local_refusal(key)
        if refused is not None or key is None:
            return refused or Verification(valid=False, code=MISSING_KEY)
        request = self._request(key, permissions, cost, ratelimits)
        attempt = 0
        while True:
            try:
                response = self._http.post(VERIFY_PATH, **request)
            except _RETRYABLE as error:
                if attempt >= self.retries:
                    return self._no_verdict(error)
                time.sleep(self._pause(attempt))
                attempt += 1
                continue
            except httpx.HTTPError as error:  # reached the console (or may have): never repeated
                return self._no_verdict(error)
            try:
                return read_answer(response, permissions is not None)
            except ConsoleUnreachable as error:
                return self._no_verdict(error)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncClient(_Base):
    """The same for asyncio code (FastAPI, Starlette, any ASGI app)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float | httpx.Timeout = 2.0,
        retries: int = 2,
        backoff: float = 0.05,
        on_unreachable: OnUnreachable = "raise",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(
            base_url, timeout=timeout, retries=retries, backoff=backoff, on_unreachable=on_unreachable
        )
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout, transport=transport)

    async def verify(
        self,
        key: str | None,
        permissions: str | None = None,
        cost: int = 1,
        ratelimits: Sequence[RateLimitRequest] | None = None,
    ) -> Verification:
        """See `Client.verify`."""
        refused = local_refusal(key)
        if refused is not None or key is None:
            return refused or Verification(valid=False, code=MISSING_KEY)
        request = self._request(key, permissions, cost, ratelimits)
        attempt = 0
        while True:
            try:
                response = await self._http.post(VERIFY_PATH, **request)
            except _RETRYABLE as error:
                if attempt >= self.retries:
                    return self._no_verdict(error)
                await asyncio.sleep(self._pause(attempt))
                attempt += 1
                continue
            except httpx.HTTPError as error:
                return self._no_verdict(error)
            try:
                return read_answer(response, permissions is not None)
            except ConsoleUnreachable as error:
                return self._no_verdict(error)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
