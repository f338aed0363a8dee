"""Badges: a key's status in its colour (green ACTIVE, grey INACTIVE, red EXPIRED)."""

from __future__ import annotations

from typing import Any

import reflex as rx


def status_badge(status: Any) -> rx.Component:
    return rx.badge(
        status,
        color_scheme=rx.match(status, ("ACTIVE", "green"), ("INACTIVE", "gray"), ("EXPIRED", "red"), "gray"),
        variant="soft",
        size="2",
    )
