"""Any ASGI app (Starlette, FastAPI, Quart, …): `KeyMiddleware` verifies the key of every HTTP and
websocket request before the app sees it, and puts the `Verification` in the scope's state
(`request.state.key_verification` in Starlette). Refusals are answered as the console's forward
auth does: 401/403/429/503 with `{"valid": false, "code": CODE}`; a websocket is closed (1008).

    app = KeyMiddleware(app, "http://console:3000", exclude_paths=("/healthz",))
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from keyconsole.answers import REQUEST_ATTRIBUTE, Guard, key_from_headers, refusal
from keyconsole.client import AsyncClient, RateLimitRequest

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class KeyMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        client: AsyncClient | str,
        *,
        permissions: str | None = None,
        cost: int = 1,
        ratelimits: Sequence[RateLimitRequest] | None = None,
        exclude_paths: Sequence[str] = (),
    ) -> None:
        self.app = app
        self.client = AsyncClient(client) if isinstance(client, str) else client
        self.guard = Guard(permissions, cost, ratelimits)
        self.exclude_paths = tuple(exclude_paths)  # exact paths, or prefixes ending in "/"

    def _excluded(self, path: str) -> bool:
        return any(path == p or (p.endswith("/") and path.startswith(p)) for p in self.exclude_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self._excluded(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        authorization = x_api_key = None
        for name, value in scope.get("headers", ()):
            if name == b"authorization" and authorization is None:
                authorization = value.decode("latin-1")
            elif name == b"x-api-key" and x_api_key is None:
                x_api_key = value.decode("latin-1")
        verification = await self.guard.acheck(self.client, key_from_headers(authorization, x_api_key))
        refused = refusal(verification)
        if refused is None:
            scope.setdefault("state", {})[REQUEST_ATTRIBUTE] = verification
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": refused.code})
        else:
            headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in refused.headers]
            headers.append((b"content-length", str(len(refused.body)).encode()))
            await send({"type": "http.response.start", "status": refused.status, "headers": headers})
            await send({"type": "http.response.body", "body": refused.body})
