"""Optimistic concurrency shared by keys and profiles: a row's `version` as read by the caller."""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session, col

from rxapp.services.errors import ConflictError

STALE_CODE = "STALE"  # changed since the caller read it (pages offer "Reload", the API answers 412)


def rows_matched(result: sa.Result[Any]) -> int:
    """The rows an UPDATE or DELETE matched. `Session.execute()` is typed to return a plain `Result`,
    which has no `rowcount`; for these statements it returns a `CursorResult`, which has."""
    return cast("sa.CursorResult[Any]", result).rowcount


def delete_row(
    session: Session, model: Any, row_id: int, expected_version: int | None, stale_message: str
) -> None:
    """DELETE the row; with `expected_version`, only if it is still that version (WHERE version =
    :v), so a change committed between the caller's read and this delete is a STALE conflict."""
    statement = sa.delete(model).where(col(model.id) == row_id)
    if expected_version is None:
        session.execute(statement)
        return
    result = session.execute(statement.where(col(model.version) == expected_version))
    if rows_matched(result) != 1:
        raise ConflictError(stale_message, code=STALE_CODE)
