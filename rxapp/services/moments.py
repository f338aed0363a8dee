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
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rxapp.services.errors import ValidationError

LATEST = dt.datetime(9999, 12, 30, 23, 59, 59, tzinfo=dt.UTC)
OUT_OF_RANGE = "DATE_OUT_OF_RANGE"
BAD_DATE = "BAD_DATE"
_BARE_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def is_bare_date(text: str) -> bool:
    """YYYY-MM-DD and nothing else: a day, which as an end date means the end of that day."""
    return bool(_BARE_DATE.fullmatch((text or "").strip()))


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


PAST_END_DATE = "PAST_END_DATE"
BAD_END_DATE = "BAD_END_DATE"
_ZONE_MAX_LENGTH = 64
_OFFSET_MAX_MINUTES = 14 * 60


def reader_zone(zone: str | None, offset_minutes: int | None = None) -> dt.tzinfo:
    """The browser's zone: its IANA name, else its UTC offset (minutes east), else UTC.

    Both come from the browser, so anything odd (unknown name, absurd offset) falls back
    rather than failing: the worst case is the day ending in UTC, as it did before.
    """
    name = (zone or "").strip()
    if name and len(name) <= _ZONE_MAX_LENGTH:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    if offset_minutes is not None and abs(int(offset_minutes)) <= _OFFSET_MAX_MINUTES:
        return dt.timezone(dt.timedelta(minutes=int(offset_minutes)))
    return dt.UTC


def end_of_local_day(day: dt.date, zone: dt.tzinfo) -> dt.datetime:
    """The last second of `day` in `zone`, as UTC: one second before the next local midnight.

    Going through the next midnight (not 23:59:59 on the day itself) keeps DST days right:
    a 23- or 25-hour day still ends exactly when the local calendar turns over.
    """
    next_midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    return next_midnight.astimezone(dt.UTC) - dt.timedelta(seconds=1)


def local_end_date(
    value: str, zone: dt.tzinfo, now: dt.datetime, *, field: str = "expires_at", label: str = "End date"
) -> dt.datetime:
    """A picked YYYY-MM-DD date: the end of that day in the reader's zone; today or later only.

    THE meaning of an end date for everything that has one (API keys and management tokens):
    it works through that whole day, the person's own day, and stops at its last second."""
    try:
        day = dt.datetime.strptime((value or "").strip(), "%Y-%m-%d").date()
    except ValueError:
        raise ValidationError(f"Enter a valid {label.lower()}.", field=field, code=BAD_END_DATE) from None
    if day < now.astimezone(zone).date():
        raise ValidationError(f"{label} must be today or later.", field=field, code=PAST_END_DATE)
    try:
        end = end_of_local_day(day, zone)
    except OverflowError:  # 9999-12-31 west of UTC ends in year 10000
        end = None
    if end is None or end > LATEST:
        raise ValidationError(
            f"{label} is too far in the future.",
            field=field,
            code=OUT_OF_RANGE,
        )
    return end
