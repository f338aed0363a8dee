"""Django: `keyconsole.django.KeyMiddleware` verifies the key of every request (except the
exempt paths) and sets `request.key_verification`; refusals are answered as the console's
forward auth does (401/403/429/503, JSON `{"valid": false, "code": CODE}`).

    MIDDLEWARE = [..., "keyconsole.django.KeyMiddleware"]
    KEYCONSOLE = {
        "URL": "http://console:3000",
        "PERMISSIONS": None, "COST": 1, "RATELIMITS": None,   # optional, as in Client.verify
        "EXEMPT_PATHS": ["/healthz", "/static/"],              # exact, or prefixes ending in "/"
        "TIMEOUT": 2.0, "RETRIES": 2, "ON_UNREACHABLE": "raise",
    }
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from keyconsole.answers import REQUEST_ATTRIBUTE, Guard, key_from_headers, refusal
from keyconsole.client import Client


class KeyMiddleware:
    sync_capable = True
    async_capable = False  # Django adapts: async views still work, the check runs in a thread

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        config: dict[str, Any] = dict(getattr(settings, "KEYCONSOLE", {}))
        self.client = Client(
            config["URL"],
            timeout=config.get("TIMEOUT", 2.0),
            retries=config.get("RETRIES", 2),
            on_unreachable=config.get("ON_UNREACHABLE", "raise"),
        )
        self.guard = Guard(config.get("PERMISSIONS"), config.get("COST", 1), config.get("RATELIMITS"))
        self.exempt_paths = tuple(config.get("EXEMPT_PATHS", ()))

    def _exempt(self, path: str) -> bool:
        return any(path == p or (p.endswith("/") and path.startswith(p)) for p in self.exempt_paths)

    def __call__(self, request: HttpRequest) -> Any:
        if self._exempt(request.path):
            return self.get_response(request)
        key = key_from_headers(request.headers.get("Authorization"), request.headers.get("X-API-Key"))
        verification = self.guard.check(self.client, key)
        setattr(request, REQUEST_ATTRIBUTE, verification)
        refused = refusal(verification)
        if refused is None:
            return self.get_response(request)
        response = HttpResponse(refused.body, status=refused.status, content_type="application/json")
        for name, value in refused.headers:
            if name != "content-type":
                response[name] = value
        return response
