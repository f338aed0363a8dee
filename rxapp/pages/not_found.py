"""The 404 page: says what happened and offers a way back (Reflex serves it for unknown paths)."""

from __future__ import annotations

import reflex as rx

from rxapp import routes
from rxapp.components.layout import auth_card


def not_found_page() -> rx.Component:
    return auth_card(
        rx.heading("Page not found", size="5", as_="h1", id="not-found-heading"),
        rx.text("There is nothing at this address. It may have been mistyped or removed.", size="2"),
        rx.link(
            rx.button("Back to your API keys", size="3", width="100%"),
            href=routes.HOME,  # the home route sends a signed-in user to the keys, others to sign-in
            id="not-found-home",
            width="100%",
        ),
    )
