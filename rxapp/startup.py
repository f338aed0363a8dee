"""Checks every process runs before it touches keys (the server at import, the CLI per command)."""

from __future__ import annotations

import gc

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


# The verify hot path allocates a few dozen containers per call (the scope, header lists, messages,
# futures), nearly all freed by reference counting before the call ends. At Python's default
# first-generation threshold (700) the collector still ran every few calls, to find almost nothing:
# 6 % of a valid verification's instructions (callgrind, in process, 64 calls per loop turn:
# 261,439 -> 245,343 at 10,000). Cyclic garbage waits a little longer, bounded by the same count.
GC_FIRST_GENERATION = 10_000


def tune_garbage_collector() -> None:
    """Collect the youngest generation less often, and freeze what the import made (the app, its
    pages, settings, libraries): full collections in the workers forked from this process skip
    it, and do not write to the memory those workers share (another 1 % of a verification)."""
    _, second, third = gc.get_threshold()
    gc.set_threshold(GC_FIRST_GENERATION, second, third)
    gc.freeze()
