"""Text that displays as what it is: no bidi overrides, no zero-width or other invisible characters.

`\u202egnp.exe-rtl` would render as "ltr-exe.png", and a zero-width space makes two names look
identical. Names and descriptions refuse every format character (Unicode category Cf, which holds
the bidi embeddings, overrides and isolates, LRM/RLM, ZWSP/ZWJ/ZWNJ, word joiner and BOM) and
control characters other than the tab and newlines that a description may hold.
"""

from __future__ import annotations

import unicodedata

_ALLOWED_IN_TEXT = {"\t", "\n", "\r"}


def hidden_character(text: str, *, multiline: bool = False) -> str | None:
    """The first character that would not display as itself, or None."""
    for char in text:
        if multiline and char in _ALLOWED_IN_TEXT:
            continue
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            return char
    return None


def storable(text: str) -> bool:
    """Whether a database text column can hold (or be compared with) `text`: PostgreSQL refuses
    NUL, and no driver encodes a lone surrogate. A search or cursor holding one matches nothing."""
    if "\x00" in text:
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
