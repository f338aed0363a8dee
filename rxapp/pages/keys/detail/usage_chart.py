"""The key's calls by outcome over 24 hours, 7 or 30 days (local hours and days), with totals."""

from __future__ import annotations

import reflex as rx

from rxapp.pages.keys.detail.state import OUTCOME_COLOURS, WINDOW_LABELS, KeyDetailState


def usage_chart() -> rx.Component:
    state = KeyDetailState
    bars = [
        rx.recharts.bar(data_key=outcome, stack_id="calls", fill=colour, name=outcome.replace("_", " "))
        for outcome, colour in OUTCOME_COLOURS.items()
    ]
    return rx.vstack(
        rx.hstack(
            rx.heading("Calls", size="4", as_="h2"),
            rx.spacer(),
            rx.segmented_control.root(
                *[rx.segmented_control.item(label, value=value) for value, label in WINDOW_LABELS.items()],
                value=state.window,
                on_change=state.set_window,
                id="usage-window",
            ),
            width="100%",
            align="center",
        ),
        rx.hstack(
            *[
                rx.badge(
                    outcome.replace("_", " ").capitalize() + ": ",
                    state.totals[outcome].to_string(),
                    variant="soft",
                    id=f"usage-total-{outcome}",
                )
                for outcome in OUTCOME_COLOURS
            ],
            wrap="wrap",
        ),
        rx.recharts.bar_chart(
            *bars,
            rx.recharts.x_axis(data_key="label"),
            rx.recharts.y_axis(allow_decimals=False),
            rx.recharts.tooltip(),
            rx.recharts.legend(),
            data=state.chart,
            width="100%",
            height=260,
        ),
        width="100%",
        id="usage-chart",
    )
