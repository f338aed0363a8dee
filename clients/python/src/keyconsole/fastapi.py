"""FastAPI: `RequireKey` is a dependency that verifies the request's key and returns the
`Verification` (also on `request.state.key_verification`), or answers 401/403/429/503 as the
console's forward auth does (FastAPI puts the JSON `{"valid": false, "code": CODE}` under "detail").

    keys = RequireKey("http://console:3000", permissions="documents.read")

    @app.get("/documents")
    async def documents(verification: Verification = Depends(keys)) -> dict: ...
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import HTTPException, Request

from keyconsole.answers import REQUEST_ATTRIBUTE, Guard, key_from_headers, refusal
from keyconsole.client import AsyncClient, RateLimitRequest
from keyconsole.result import Verification


class RequireKey:
    """A dependency: `Depends(RequireKey(client_or_url, permissions=..., cost=..., ratelimits=...))`."""

    def __init__(
        self,
        client: AsyncClient | str,
        *,
        permissions: str | None = None,
        cost: int = 1,
        ratelimits: Sequence[RateLimitRequest] | None = None,
    ) -> None:
        self.client = AsyncClient(client) if isinstance(client, str) else client
        self.guard = Guard(permissions, cost, ratelimits)

    async def __call__(self, request: Request) -> Verification:
        key = key_from_headers(request.headers.get("authorization"), request.headers.get("x-api-key"))
        verification = await self.guard.acheck(self.client, key)
        setattr(request.state, REQUEST_ATTRIBUTE, verification)
        refused = refusal(verification)
        if refused is not None:
            headers = {name: value for name, value in refused.headers if name != "content-type"}
            raise HTTPException(refused.status, {"valid": False, "code": refused.code}, headers)
        return verification
