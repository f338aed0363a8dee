"""Where the browser reaches the backend's own routes (the form posts, the single sign-on link)."""

from __future__ import annotations

import reflex as rx
from reflex_base.environment import environment


def backend_url(path: str) -> str:
    """Form posts go to the backend: same origin in production, the backend port in dev."""
    if environment.REFLEX_ENV_MODE.get().value == "prod":
        return path
    return rx.config.get_config().api_url.rstrip("/") + path
