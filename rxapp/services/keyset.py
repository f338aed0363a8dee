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

BAD_CURSOR_CODE = "BAD_CURSOR"
Row = TypeVar("Row")


def bad_cursor() -> ValidationError:
    return ValidationError("This cursor does not belong to this query.", field="cursor", code=BAD_CURSOR_CODE)


def parse_time(value: Any) -> dt.datetime:
    """A position's time (ISO 8601, as `isoformat` wrote it); anything else is a bad cursor."""
    try:
        return dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise bad_cursor() from None


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
