"""Times as the reader sees them: the browser's own zone on screen, the exact UTC time on hover.

The server sends ISO instants (`iso`) and the UTC text (`exact_utc`); `local_time` turns the
instant into the reader's local time in the browser (moment), so the server never has to know the
zone. Relative phrases ("in 23 hours", "3 minutes ago") stay server text and get the same tooltip.
"""

from __future__ import annotations

import datetime as dt

import reflex as rx
from reflex_base.vars.base import Var

LOCAL_FORMAT = "YYYY-MM-DD HH:mm"  # moment tokens: the reader's local date and minute

# [IANA zone, minutes east of UTC, today's local YYYY-MM-DD], computed in the reader's browser:
# `rx.call_script(BROWSER_ZONE_SCRIPT, callback=...)` for what the server must compute per zone
# (end of a picked day, chart buckets); plain display needs none of it (`local_time`).
BROWSER_ZONE_SCRIPT = (
    "(() => { const d = new Date(); const p = (n) => String(n).padStart(2, '0');"
    " return [Intl.DateTimeFormat().resolvedOptions().timeZone || '', -d.getTimezoneOffset(),"
    " d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate())]; })()"
)


def browser_zone(values: object) -> tuple[str, int, str]:
    """The browser's answer to BROWSER_ZONE_SCRIPT, bounded: ("", 0, "") for anything odd."""
    if not isinstance(values, list) or len(values) != 3:
        return "", 0, ""
    zone, offset, today = values
    offset = int(offset) if isinstance(offset, int | float) and abs(offset) <= 14 * 60 else 0
    today = str(today or "")[:10]
    try:
        dt.date.fromisoformat(today)
    except ValueError:
        today = ""
    return str(zone or "")[:64], offset, today


def iso(value: dt.datetime | None) -> str:
    """The instant as ISO 8601 with its offset, for the browser to read ("" for none)."""
    return value.astimezone(dt.UTC).isoformat() if value else ""


def local_time(
    instant: Var[str] | str,
    utc_text: Var[str] | str,
    *,
    fallback: str = "Never",
    element_id: Var[str] | str | None = None,
    time_format: str = LOCAL_FORMAT,
    **props,
) -> rx.Component:
    """`instant` (ISO) in the reader's local zone, with `utc_text` as the hover title.

    An empty `instant` shows `fallback` (with the same title, which may say "Never used").
    """
    shown = rx.cond(
        instant != "",
        rx.moment(date=instant, format=time_format, local=True),
        fallback,
    )
    return rx.el.span(
        shown, title=utc_text, id=element_id, data_instant=instant, class_name="local-time", **props
    )


def with_utc_title(text: Var[str] | str, utc_text: Var[str] | str, **props) -> rx.Component:
    """A relative phrase ("in 23 hours") with the exact UTC time as its hover title."""
    return rx.el.span(text, title=utc_text, class_name="relative-time", **props)


def exact_utc(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""


def relative(value: dt.datetime | None, now: dt.datetime, never: str = "Never") -> str:
    if value is None:
        return never
    seconds = (now - value).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 10:
        return "just now"
    for size, unit in (
        (86400 * 365, "year"),
        (86400 * 30, "month"),
        (86400, "day"),
        (3600, "hour"),
        (60, "minute"),
        (1, "second"),
    ):
        if seconds >= size:
            count = int(seconds // size)
            text = f"{count} {unit}{'' if count == 1 else 's'}"
            return f"in {text}" if future else f"{text} ago"
    return "just now"


def short_date(value: dt.datetime | None, never: str = "Never") -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if value else never
