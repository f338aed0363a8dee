"""Flask: `@require_key` verifies the request's key before the view runs and puts the
`Verification` on `flask.g.key_verification`; refusals are answered as the console's forward auth
does (401/403/429/503, JSON `{"valid": false, "code": CODE}`).

    app.config["KEYCONSOLE_URL"] = "http://console:3000"

    @app.get("/documents")
    @require_key(permissions="documents.read")   # or bare: @require_key
    def documents(): return {"key_id": g.key_verification.key_id}
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast, overload

from flask import Response, current_app, g, request

from keyconsole.answers import REQUEST_ATTRIBUTE, Guard, key_from_headers, refusal
from keyconsole.client import Client, RateLimitRequest

View = TypeVar("View", bound=Callable[..., Any])


def _app_client() -> Client:
    """One Client per Flask app, made from its config on first use."""
    clients = current_app.extensions.setdefault("keyconsole", {})
    if "client" not in clients:
        config = current_app.config
        clients["client"] = Client(
            config["KEYCONSOLE_URL"],
            timeout=config.get("KEYCONSOLE_TIMEOUT", 2.0),
            retries=config.get("KEYCONSOLE_RETRIES", 2),
            on_unreachable=config.get("KEYCONSOLE_ON_UNREACHABLE", "raise"),
        )
    return cast(Client, clients["client"])


@overload
def require_key(view: View) -> View: ...
@overload
def require_key(
    view: None = None,
    *,
    client: Client | str | None = None,
    permissions: str | None = None,
    cost: int = 1,
    ratelimits: Sequence[RateLimitRequest] | None = None,
) -> Callable[[View], View]: ...
def require_key(
    view: View | None = None,
    *,
    client: Client | str | None = None,
    permissions: str | None = None,
    cost: int = 1,
    ratelimits: Sequence[RateLimitRequest] | None = None,
) -> View | Callable[[View], View]:
    """Decorate a view; `client` defaults to one made from `app.config["KEYCONSOLE_URL"]`."""
    guard = Guard(permissions, cost, ratelimits)
    own = Client(client) if isinstance(client, str) else client

    def decorate(function: View) -> View:
        @functools.wraps(function)
        def checked(*args: Any, **kwargs: Any) -> Any:
            key = key_from_headers(request.headers.get("Authorization"), request.headers.get("X-API-Key"))
            verification = guard.check(own or _app_client(), key)
            setattr(g, REQUEST_ATTRIBUTE, verification)
            refused = refusal(verification)
            if refused is not None:
                headers = [(n, v) for n, v in refused.headers if n != "content-type"]
                return Response(refused.body, refused.status, headers, mimetype="application/json")
            return function(*args, **kwargs)

        return cast(View, checked)

    return decorate(view) if view is not None else decorate
