"""`rx.App` with the fast path placed in front of Reflex's own top-level ASGI stack.

Reflex builds its ASGI app in `App.__call__` (Granian calls it as a factory) and wraps whatever
`api_transformer` returns in its own Starlette. Subclassing is the one hook that runs outside it.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from rxapp.hotpath import direct_fast_path, fast_path_middleware, outermost
from rxapp.logs import access_logging_enabled, request_context_middleware


class FastPathApp(rx.App):
    """Pass `security_middleware` so the early answers carry the same headers as every response."""

    def __init__(self, *args: Any, security_middleware: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fast_path_security = security_middleware

    def __call__(self) -> Any:
        reflex_asgi = super().__call__()
        if access_logging_enabled():  # JSON access lines (request id, status, duration) for verify too
            fast = request_context_middleware(fast_path_middleware(reflex_asgi))
            return outermost(reflex_asgi, self._fast_path_security(fast))
        return outermost(reflex_asgi, direct_fast_path())
