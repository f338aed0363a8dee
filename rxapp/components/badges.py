"""Badges: a key's status in its colour (green ACTIVE, grey INACTIVE, red EXPIRED)."""

from __future__ import annotations

from typing import Any

import reflex as rx


def status_badge(status: Any) -> rx.Component:
    return rx.badge(
        status,
        color_scheme=rx.match(status, ("ACTIVE", "green"), ("INACTIVE", "gray"), ("EXPIRED", "red"), "gray"),
        variant="soft",
        high_contrast=True,  # the soft colours' own text fails WCAG AA contrast (axe)
        size="2",
    )
