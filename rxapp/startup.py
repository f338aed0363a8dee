"""Checks every process runs before it touches keys (the server at import, the CLI per command)."""

from __future__ import annotations

import sqlalchemy as sa

from rxapp.context import get_settings
from rxapp.db import get_engine, session_scope
from rxapp.services import instance


def ensure_same_pepper() -> None:
    """Raises PepperMismatchError; does nothing on a database that is not migrated yet.

    The server runs this at import, in Granian's supervisor, before it forks the workers: the
    pool is emptied afterwards, so no worker inherits (and shares with its siblings) a live
    database connection. Two processes on one PostgreSQL socket corrupt each other's protocol.
    """
    engine = get_engine()
    try:
        if not sa.inspect(engine).has_table("app_meta"):
            return
        with session_scope() as session:
            instance.check_pepper(session, get_settings().pepper)
    finally:
        engine.dispose()
