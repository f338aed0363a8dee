"""User-supplied text in tables: one line, cut with an ellipsis, the full value on hover.

A 100-character name without spaces would otherwise widen the table until the row actions
leave the screen. `unicode-bidi: isolate` keeps any direction change inside the cell.
"""

from __future__ import annotations

import reflex as rx


def clipped_text(value: rx.Var | str, max_width: str = "18rem", **props) -> rx.Component:
    return rx.text(
        value,
        title=value,
        max_width=max_width,
        overflow="hidden",
        text_overflow="ellipsis",
        white_space="nowrap",
        unicode_bidi="isolate",
        **props,
    )
