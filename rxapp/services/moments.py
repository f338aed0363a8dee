"""Moments that come from outside (a key's end date, a token's expiry, typed ISO 8601 text): one
place decides which are acceptable, so a value that cannot be stored or shown is a ValidationError
naming its field, never an OverflowError in a driver.

Why a range: `9999-12-31T23:59:59-14:00` is a valid Python datetime, but it is year 10000 in UTC,
and converting it (the database type does, on every write) overflowed into a 500. The last
acceptable moment is a day short of `datetime.max`, so any accepted moment can still be shown in
any reader's zone (at most ±24 h away) and read back in any database session time zone.
"""

from __future__ import annotations

import datetime as dt

from rxapp.services.errors import ValidationError

LATEST = dt.datetime(9999, 12, 30, 23, 59, 59, tzinfo=dt.UTC)
OUT_OF_RANGE = "DATE_OUT_OF_RANGE"
BAD_DATE = "BAD_DATE"


def parse(text: str, *, field: str, label: str = "Date") -> dt.datetime:
    """Typed ISO 8601 text (the CLI's `--expires-at`): an aware moment, UTC when no offset is given.
    Only the form is checked here; `future_end` checks the range."""
    try:
        parsed = dt.datetime.fromisoformat((text or "").strip())
    except ValueError:
        raise ValidationError(
            f"{label} is not an ISO 8601 date and time: {text[:40]!r}.", field=field, code=BAD_DATE
        ) from None
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed


def future_end(
    value: dt.datetime | None, now: dt.datetime, *, field: str, label: str = "End date"
) -> dt.datetime | None:
    """An end date or expiry: with a time zone, after `now`, no later than LATEST; returned in UTC
    (the form every layer below stores, compares and shows). None stays None ("never")."""
    if value is None:
        return None
    offset = value.utcoffset()
    if offset is None:
        raise ValidationError(f"{label} must include a time zone.", field=field)
    # Compared as aware values (Python subtracts the offsets without building a UTC datetime), so
    # these checks never overflow; only an accepted value is converted.
    if value <= now:
        raise ValidationError(f"{label} must be in the future.", field=field)
    if value > LATEST:
        raise ValidationError(
            f"{label} must be no later than {LATEST.isoformat().replace('+00:00', 'Z')}.",
            field=field,
            code=OUT_OF_RANGE,
        )
    return value.astimezone(dt.UTC)


def capped_after(start: dt.datetime, span: dt.timedelta) -> dt.datetime:
    """`start + span`, but never later than LATEST (a rolled key keeps its lifetime only as far as
    an end date may go; `start + span` itself would overflow past year 9999)."""
    return LATEST if span > LATEST - start else start + span
