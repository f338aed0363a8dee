"""How an audit event reads on screen, the same on the Activity page and on a key's page.

`name='x' rate_limit_per_minute=5` reads `Name: x · Rate limit per minute: 5`; a roll names the
other key of the pair, which the key page turns into a link. Plain text: pages render it as text,
never as HTML.

Programmable fields (issue 24) are stored as the services wrote them (`ratelimits=['requests=100/
60000ms']`, `permissions=['a', 'b']`, `refill=100/month@1`) and read here as words: `Rate limits:
requests 100 per minute`, `Permissions: a, b`, `Refill: 100 a month on day 1`. Old events read the
same way, since only the reading changed.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

_QUOTED = r"'(?:[^'\\]|\\.)*'|" + r'"(?:[^"\\]|\\.)*"'
_PAIR = re.compile(rf"""(\w+)=({_QUOTED}|\[(?:{_QUOTED}|[^\]'"])*\]|\S+)""")
_LIMIT = re.compile(r"^(.+)=(\d+)/(\d+)ms$")
_REFILL = re.compile(r"^(\d+)/(day|month)(?:@(\d+))?$")
_LABELS = {
    "ratelimits": "Rate limits",
    "ip_allow": "IP allowlist",
    "meta": "Metadata",
    "external_id": "External id",
}
_UNITS = ((86_400_000, "day"), (3_600_000, "hour"), (60_000, "minute"), (1000, "second"))
_ROLLED = re.compile(r"^(rolled (?:from|to) )(\S+?)(;.*)?$", re.DOTALL)


def readable_detail(detail: str) -> str:
    """`name='x' rate_limit_per_minute=5` becomes `Name: x · Rate limit per minute: 5`; any other
    detail is shown as it is."""
    pairs = list(_PAIR.finditer(detail))
    if not pairs or " ".join(m.group(0) for m in pairs) != detail.strip():
        return detail
    parts = []
    for match in pairs:
        key, value = match.group(1), match.group(2)
        if value[:1] == "[":
            value = _list_text(key, value)
        elif value[:1] in "'\"":
            try:
                value = str(ast.literal_eval(value))
            except (ValueError, SyntaxError):
                value = value[1:-1]
        label = _LABELS.get(key) or key.replace("_", " ").capitalize()
        if key == "categories":
            value = value.replace(",", ", ")
        if key == "refill":
            value = refill_words(value)
        parts.append(f"{label}: {'none' if value == 'None' else value}")
    return " · ".join(parts)


def duration_words(milliseconds: int) -> str:
    """60000 → `per minute`, 30000 → `per 30 seconds`, 7200000 → `per 2 hours`."""
    for size, unit in _UNITS:
        if milliseconds >= size and milliseconds % size == 0:
            count = milliseconds // size
            return f"per {unit}" if count == 1 else f"per {count} {unit}s"
    return f"per {milliseconds} ms"


def limit_words(name: str, limit: int, duration_ms: int) -> str:
    """`requests 100 per minute`."""
    return f"{name} {limit} {duration_words(duration_ms)}"


def refill_words(text: str) -> str:
    """`100/month@1` → `100 a month on day 1`, `50/day` → `50 a day`; anything else as it is."""
    match = _REFILL.match(text)
    if match is None:
        return text
    amount, interval, day = match.groups()
    words = f"{int(amount):,} a {interval}"
    return words + (f" on day {day}" if day else "")


def _list_text(key: str, value: str) -> str:
    """A stored Python list (`['requests=100/60000ms']`) as words; `none` when empty."""
    try:
        items = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value
    if not isinstance(items, list):
        return value
    if not items:
        return "none"
    texts = [str(item) for item in items]
    if key == "ratelimits":
        texts = [_limit_item(text) for text in texts]
    return ", ".join(texts)


def _limit_item(text: str) -> str:
    match = _LIMIT.match(text)
    if match is None:
        return text
    return limit_words(match.group(1), int(match.group(2)), int(match.group(3)))


def event_summary(detail: str, occurrences: int = 1) -> str:
    """The readable detail, with the count of a repeated event (`… (×3)`)."""
    text = readable_detail(detail)
    return f"{text} (×{occurrences})" if occurrences > 1 else text


@dataclass(frozen=True)
class LinkedDetail:
    """A detail split around the key it names: `before` + the key (a link) + `after`."""

    before: str
    key_id: str
    after: str


def linked_detail(detail: str, occurrences: int = 1) -> LinkedDetail:
    """A roll's detail ("rolled from key_…", "rolled to key_…; old key ends …") split so the other
    key can be a link; any other detail is all `before`, with no key."""
    match = _ROLLED.match(detail)
    if match is None:
        return LinkedDetail(event_summary(detail, occurrences), "", "")
    before = match.group(1).capitalize()
    after = match.group(3) or ""
    if occurrences > 1:
        after += f" (×{occurrences})"
    return LinkedDetail(before, match.group(2), after)
