"""Help: what each key status means, and best practices (rotation, access control, security)."""

from __future__ import annotations

import reflex as rx

from rxapp.components.badges import status_badge


def help_dialog() -> rx.Component:
    def practice(title: str, *items: str) -> rx.Component:
        return rx.vstack(
            rx.text(title, weight="bold"),
            rx.el.ul(*[rx.el.li(item) for item in items], class_name="bulleted"),
            spacing="1",
        )

    return rx.dialog.root(
        rx.dialog.trigger(
            rx.button(
                rx.icon("circle-help", size=16), "Help", variant="soft", color_scheme="gray", id="open-help"
            )
        ),
        rx.dialog.content(
            rx.dialog.title("API Key Status and Best Practices"),
            rx.heading("API Key Status", size="3", margin_top="2"),
            rx.text("Your API keys can have the following statuses:", size="2"),
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        rx.table.column_header_cell("Status"), rx.table.column_header_cell("Description")
                    )
                ),
                rx.table.body(
                    rx.table.row(
                        rx.table.cell(status_badge("ACTIVE")),
                        rx.table.cell("Key is working and can make API calls"),
                    ),
                    rx.table.row(
                        rx.table.cell(status_badge("INACTIVE")), rx.table.cell("Key is temporarily disabled")
                    ),
                    rx.table.row(
                        rx.table.cell(status_badge("EXPIRED")), rx.table.cell("Key has reached its end date")
                    ),
                ),
                size="1",
                id="help-status-table",
            ),
            rx.heading("Best Practices", size="3", margin_top="4"),
            rx.vstack(
                practice(
                    "1. Regular Rotation",
                    "Rotate keys periodically for security",
                    "Create new keys before deleting old ones",
                    "Update applications with new keys gradually",
                ),
                practice(
                    "2. Access Control",
                    "Use different keys for different applications",
                    "Assign appropriate Bias Profiles to each key",
                    "Monitor “Last Used” timestamps regularly",
                ),
                practice(
                    "3. Security",
                    "Never share API keys publicly",
                    "Store keys in secure environment variables",
                    "Delete unused or compromised keys immediately",
                ),
                spacing="3",
                margin_top="2",
            ),
            rx.hstack(rx.dialog.close(rx.button("Close", id="help-close")), justify="end", margin_top="4"),
            max_width="600px",
            id="help-dialog",
        ),
    )
