"""What every table module shares (rxapp/models.py re-exports it; callers import from there)."""

from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import SQLModel


def core_table(model: type[SQLModel]) -> sa.Table:
    """A table model's Core `Table`, for bulk statements without per-row ORM work. Typed here once:
    SQLModel sets `__table__` when the class is made, and its type does not declare it."""
    table = sa.inspect(model).local_table
    if not isinstance(table, sa.Table):
        raise TypeError(f"{model.__name__} is not a table model")
    return table


class KeyStatus(StrEnum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    EXPIRED = "EXPIRED"


class ProfileAction(StrEnum):
    FLAG = "flag"
    BLOCK = "block"
    REWRITE = "rewrite"
