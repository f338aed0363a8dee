"""The one clock of the app: aware UTC moments, and stored ones read back as aware UTC."""

from __future__ import annotations

import datetime as dt
from typing import overload


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@overload
def as_utc(moment: dt.datetime) -> dt.datetime: ...
@overload
def as_utc(moment: None) -> None: ...
@overload
def as_utc(moment: dt.datetime | None) -> dt.datetime | None: ...


def as_utc(moment: dt.datetime | None) -> dt.datetime | None:
    """A stored moment as an aware UTC datetime (a naive one is taken to be UTC already)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
