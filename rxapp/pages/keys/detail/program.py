"""The key page's programmable facts (issue 24): credits and the next refill, named rate limits
(with what is left of each now: detail/limit_use.py), permissions and roles, metadata, IP rules and
identity. `program_facts` turns a key into the page's values;
`program_section` shows them (each list one item a line)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import reflex as rx

from rxapp.components.timefmt import exact_utc, iso, local_time
from rxapp.models import ApiKeyPublic
from rxapp.pages.keys.program_form import duration_text
from rxapp.services.keys.refill import period_start

LABEL_COLOUR = rx.color("gray", 11)


def next_refill(now: dt.datetime, interval: str, day: int | None) -> dt.datetime:
    """When the refill job next sets the balance (the start of the next period)."""
    start = period_start(now, interval, day)
    if interval == "day":
        return start + dt.timedelta(days=1)
    # the next monthly day is at most 31 days after this one, the one after it at least 59
    return period_start(start + dt.timedelta(days=32), interval, day)


def program_facts(key: ApiKeyPublic, now: dt.datetime) -> dict[str, Any]:
    refill = key.refill
    when = next_refill(now, str(refill["interval"]), refill.get("day")) if refill else None
    every = ""
    if refill:
        every = (
            f"{refill['amount']:,} every day"
            if refill["interval"] == "day"
            else (f"{refill['amount']:,} every month on day {refill.get('day') or 1}")
        )
    return {
        "credits": f"{key.credits:,}" if key.credits is not None else "Unlimited",
        "refill": every or "No refill",
        "next_refill": iso(when),
        "next_refill_exact": exact_utc(when),
        "limits": [
            f"{item['name']}: {item['limit']:,} per {duration_text(item['duration'])}"
            for item in key.ratelimits
        ],
        "permissions": list(key.permissions),
        "roles": list(key.roles),
        "meta": json.dumps(key.meta, indent=2, ensure_ascii=False) if key.meta is not None else "",
        "ip_rules": list(key.ip_allow),
        "identity": key.identity or "",
    }


class KeyProgramState(rx.State, mixin=True):
    """Mixed into KeyDetailState."""

    credits: str = ""
    refill: str = ""
    next_refill: str = ""
    next_refill_exact: str = ""
    limits: list[str] = []
    limit_rows: list[dict[str, str]] = []  # id, text, left, reset (ISO, "" when no window is open)
    limits_note: str = ""  # where the counts live (limit_use.counted_where)
    permissions: list[str] = []
    roles: list[str] = []
    meta: str = ""
    ip_rules: list[str] = []
    identity: str = ""

    def show_program(self, key: ApiKeyPublic, now: dt.datetime) -> None:
        for name, value in program_facts(key, now).items():
            if getattr(self, name) != value:
                setattr(self, name, value)


def _fact(label: str, value: rx.Component, fact_id: str) -> rx.Component:
    return rx.el.div(
        rx.el.dt(label, font_size="var(--font-size-1)", color=LABEL_COLOUR, font_weight="500"),
        rx.el.dd(value, id=fact_id, margin="0", overflow_wrap="anywhere"),
        display="flex",
        flex_direction="column",
        gap="4px",
        min_width="0",
    )


def _lines(items: rx.Var, empty: str) -> rx.Component:
    return rx.cond(
        items.length() > 0,
        rx.el.ul(
            rx.foreach(items, lambda item: rx.el.li(rx.text(item, size="2"))),
            margin="0",
            padding_left="1.2em",
        ),
        rx.text(empty, size="2"),
    )


def _limit_row(row: Any) -> rx.Component:
    return rx.el.li(
        rx.text(row["text"], size="2"),
        rx.text(
            row["left"],
            rx.cond(
                row["reset"] != "", rx.fragment(" · resets ", local_time(row["reset"], row["reset_exact"]))
            ),
            size="1",
            color=LABEL_COLOUR,
            id=row["id"],
        ),
    )


def _limit_lines(state: Any) -> rx.Component:
    return rx.cond(
        state.limit_rows.length() > 0,
        rx.vstack(
            rx.el.ul(rx.foreach(state.limit_rows, _limit_row), margin="0", padding_left="1.2em"),
            rx.text(state.limits_note, size="1", color=LABEL_COLOUR, id="key-page-limits-note"),
            spacing="1",
        ),
        rx.text("None", size="2"),
    )


def program_section(state: Any) -> rx.Component:
    return rx.vstack(
        rx.heading("Limits and permissions", size="4", as_="h2"),
        rx.el.dl(
            _fact("Credits left", rx.text(state.credits, size="2"), "key-page-credits"),
            _fact(
                "Refill",
                rx.vstack(
                    rx.text(state.refill, size="2"),
                    rx.cond(
                        state.next_refill != "",
                        rx.text("Next: ", local_time(state.next_refill, state.next_refill_exact), size="2"),
                    ),
                    spacing="1",
                ),
                "key-page-refill",
            ),
            _fact("Named rate limits", _limit_lines(state), "key-page-ratelimits"),
            _fact("Permissions", _lines(state.permissions, "None"), "key-page-permissions"),
            _fact("Roles", _lines(state.roles, "None"), "key-page-roles"),
            _fact("IP allowlist", _lines(state.ip_rules, "Every address"), "key-page-ip-allow"),
            _fact(
                "Identity",
                rx.cond(state.identity != "", rx.code(state.identity), rx.text("None", size="2")),
                "key-page-identity",
            ),
            _fact(
                "Metadata",
                rx.cond(
                    state.meta != "",
                    rx.el.pre(state.meta, font_size="12px", white_space="pre-wrap", margin="0"),
                    rx.text("None", size="2"),
                ),
                "key-page-meta",
            ),
            display="grid",
            grid_template_columns="repeat(auto-fill, minmax(11rem, 1fr))",
            gap="16px 24px",
            width="100%",
            margin="0",
        ),
        width="100%",
        id="key-page-program",
    )
