"""The permission query verify accepts: names joined by AND / OR, with parentheses.

`documents.read AND (documents.write OR admin)`. AND binds tighter than OR; the keywords are
case-insensitive; a name is letters, digits and `_ . : - / *` (matched literally, no wildcards).
`parse` turns the text into a small tree once, `satisfied` checks it against a key's permissions.
A malformed query is a `ValidationError` with code INVALID_PERMISSION_QUERY (verify answers 400).
"""

from __future__ import annotations

import re
from functools import lru_cache

from rxapp.services.errors import ValidationError

QUERY_MAX_LENGTH = 1000
DEPTH_MAX = 16
CODE = "INVALID_PERMISSION_QUERY"
NAME = re.compile(r"[A-Za-z0-9_.:/*-]+")
_TOKEN = re.compile(r"\s*(?:(\()|(\))|([A-Za-z0-9_.:/*-]+))")

# A tree: a permission name, or ("AND" | "OR", child, child, ...)
Query = str | tuple


def _bad(message: str) -> ValidationError:
    return ValidationError(f"Invalid permission query: {message}", field="permissions", code=CODE)


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise _bad(f"unexpected character {text[position:].lstrip()[:1]!r}.")
        tokens.append(match.group(match.lastindex or 0))
        position = match.end()
    return tokens


@lru_cache(maxsize=1024)
def parse(text: str) -> Query:
    """The query's tree; ValidationError (INVALID_PERMISSION_QUERY) when it is malformed."""
    if not isinstance(text, str) or not text.strip():
        raise _bad("it is empty.")
    if len(text) > QUERY_MAX_LENGTH:
        raise _bad(f"it is longer than {QUERY_MAX_LENGTH} characters.")
    tokens = _tokens(text)
    tree, position = _expression(tokens, 0, 0)
    if position != len(tokens):
        raise _bad(f"unexpected {tokens[position]!r}.")
    return tree


def _keyword(token: str) -> str:
    upper = token.upper()
    return upper if upper in ("AND", "OR") else ""


def _expression(tokens: list[str], position: int, depth: int) -> tuple[Query, int]:
    children = []
    term, position = _term(tokens, position, depth)
    children.append(term)
    while position < len(tokens) and _keyword(tokens[position]) == "OR":
        term, position = _term(tokens, position + 1, depth)
        children.append(term)
    return (children[0] if len(children) == 1 else ("OR", *children)), position


def _term(tokens: list[str], position: int, depth: int) -> tuple[Query, int]:
    children = []
    factor, position = _factor(tokens, position, depth)
    children.append(factor)
    while position < len(tokens) and _keyword(tokens[position]) == "AND":
        factor, position = _factor(tokens, position + 1, depth)
        children.append(factor)
    return (children[0] if len(children) == 1 else ("AND", *children)), position


def _factor(tokens: list[str], position: int, depth: int) -> tuple[Query, int]:
    if position >= len(tokens):
        raise _bad("it ends where a permission name was expected.")
    word = tokens[position]
    if word == "(":
        if depth >= DEPTH_MAX:
            raise _bad(f"more than {DEPTH_MAX} nested parentheses.")
        inner, position = _expression(tokens, position + 1, depth + 1)
        if position >= len(tokens) or tokens[position] != ")":
            raise _bad("a parenthesis is not closed.")
        return inner, position + 1
    if word == ")":
        raise _bad("unexpected ')'.")
    if _keyword(word):
        raise _bad(f"{word!r} where a permission name was expected.")
    return word, position + 1


def satisfied(query: Query, permissions: frozenset[str]) -> bool:
    """Does a key with `permissions` satisfy the query?"""
    if isinstance(query, str):
        return query in permissions
    operator, *children = query
    if operator == "AND":
        return all(satisfied(child, permissions) for child in children)
    return any(satisfied(child, permissions) for child in children)
