"""How an audit event reads on screen, the same on the Activity page and on a key's page.

`name='x' rate_limit_per_minute=5` reads `Name: x · Rate limit per minute: 5`; a roll names the
other key of the pair, which the key page turns into a link. Plain text: pages render it as text,
never as HTML.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

_PAIR = re.compile(r"""(\w+)=('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\S+)""")
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
        if value[:1] in "'\"":
            try:
                value = str(ast.literal_eval(value))
            except (ValueError, SyntaxError):
                value = value[1:-1]
        label = key.replace("_", " ").capitalize()
        if key == "categories":
            value = value.replace(",", ", ")
        parts.append(f"{label}: {'none' if value == 'None' else value}")
    return " · ".join(parts)


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
