"""Keyset paging, shared by the keys listing and the audit trail.

A page ends at its last row's (sort value, row id); the next page is the rows that sort after that
position. Unlike an offset, it stays put when rows are added or deleted between two pages.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, TypeVar

import sqlalchemy as sa

from rxapp.services.errors import ValidationError
from rxapp.services.text import storable

BAD_CURSOR_CODE = "BAD_CURSOR"
Row = TypeVar("Row")


def bad_cursor() -> ValidationError:
    return ValidationError("This cursor does not belong to this query.", field="cursor", code=BAD_CURSOR_CODE)


def time_position(moment: dt.datetime) -> str:
    """A page's last time, as its cursor carries it: ISO 8601 in UTC (`...+00:00`)."""
    return moment.astimezone(dt.UTC).isoformat()


def parse_time(value: Any) -> dt.datetime:
    """The inverse of `time_position`, and only of it: text that `time_position` writes back
    unchanged. Anything else (no time zone, another offset, a date alone, year 9999 at -14:00)
    is a bad cursor, never a value the database type cannot convert."""
    try:
        moment = dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise bad_cursor() from None
    if moment.utcoffset() != dt.timedelta(0) or moment.isoformat() != value:
        raise bad_cursor()
    return moment


def parse_text(value: Any, max_length: int) -> str:
    """A position's text (a name): what a stored name can be. A NUL, a lone surrogate or an
    overlong value is a bad cursor, not a driver error."""
    if not isinstance(value, str) or len(value) > max_length or not storable(value):
        raise bad_cursor()
    return value


def beyond(column: Any, row_id: Any, value: Any, last_id: Any, *, descending: bool, nullable: bool) -> Any:
    """The rows after (value, last_id) in `column, row_id` order; missing values sort last both ways
    (`nulls_last`), so a page that ended among them continues among them."""
    if not isinstance(last_id, int) or (value is None and not nullable):
        raise bad_cursor()
    tie = row_id < last_id if descending else row_id > last_id
    if value is None:
        return sa.and_(column.is_(None), tie)
    further = column < value if descending else column > value
    clauses = [further, sa.and_(column == value, tie)]
    if nullable:
        clauses.append(column.is_(None))
    return sa.or_(*clauses)


def split_page(rows: Sequence[Row], page_size: int) -> tuple[Sequence[Row], Row | None]:
    """A query fetched `page_size + 1` rows: the page, and its last row when another page follows."""
    if len(rows) > page_size:
        return rows[:page_size], rows[page_size - 1]
    return rows, None
