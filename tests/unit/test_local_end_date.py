"""A custom end date is the end of that day in the reader's time zone (issue 10, item 7)."""

from __future__ import annotations

import datetime as dt

import pytest

from rxapp.services import keys as key_service
from rxapp.services.errors import ValidationError

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)


def _end(day: str, zone: str | None = None, offset: int | None = None) -> dt.datetime:
    return key_service.local_end_date(day, key_service.reader_zone(zone, offset), NOW)


@pytest.mark.parametrize(
    ("zone", "day", "expected_utc"),
    [
        ("UTC", "2026-12-31", "2026-12-31T23:59:59+00:00"),
        ("America/New_York", "2026-12-31", "2027-01-01T04:59:59+00:00"),  # UTC-5 in winter
        ("America/New_York", "2027-07-01", "2027-07-02T03:59:59+00:00"),  # UTC-4 in summer
        ("Asia/Tokyo", "2026-12-31", "2026-12-31T14:59:59+00:00"),  # UTC+9
        ("Asia/Kolkata", "2026-12-31", "2026-12-31T18:29:59+00:00"),  # UTC+5:30
        ("Pacific/Kiritimati", "2026-12-31", "2026-12-31T09:59:59+00:00"),  # UTC+14
        ("Pacific/Pago_Pago", "2026-12-31", "2027-01-01T10:59:59+00:00"),  # UTC-11
    ],
)
def test_end_of_day_in_the_readers_zone(zone: str, day: str, expected_utc: str) -> None:
    end = _end(day, zone)
    assert end.isoformat() == expected_utc
    assert end.tzinfo == dt.UTC
    local = end.astimezone(key_service.reader_zone(zone))
    assert (local.date().isoformat(), local.time()) == (day, dt.time(23, 59, 59))


@pytest.mark.parametrize(
    ("day", "expected_utc"),
    [
        ("2027-03-14", "2027-03-15T03:59:59+00:00"),  # spring forward: a 23-hour day, ends at EDT
        ("2027-03-13", "2027-03-14T04:59:59+00:00"),  # the day before still ends at EST
        ("2027-11-07", "2027-11-08T04:59:59+00:00"),  # fall back: a 25-hour day, ends at EST
        ("2027-11-06", "2027-11-07T03:59:59+00:00"),  # the day before still ends at EDT
    ],
)
def test_end_of_day_across_dst_changes(day: str, expected_utc: str) -> None:
    assert _end(day, "America/New_York").isoformat() == expected_utc


def test_dst_gap_at_midnight_ends_the_day_at_the_transition() -> None:
    # Chile springs forward at 24:00 on 2027-09-04: midnight of the 5th does not exist locally
    end = _end("2027-09-04", "America/Santiago")
    assert end.isoformat() == "2027-09-05T03:59:59+00:00"
    assert (end + dt.timedelta(seconds=1)).astimezone(key_service.reader_zone("America/Santiago")).date() == (
        dt.date(2027, 9, 5)
    )


@pytest.mark.parametrize(
    ("offset", "expected_utc"),
    [
        (-300, "2027-01-01T04:59:59+00:00"),  # UTC-05:00
        (330, "2026-12-31T18:29:59+00:00"),  # UTC+05:30
        (0, "2026-12-31T23:59:59+00:00"),
    ],
)
def test_offset_when_the_browser_names_no_zone(offset: int, expected_utc: str) -> None:
    assert _end("2026-12-31", None, offset).isoformat() == expected_utc
    assert _end("2026-12-31", "Not/AZone", offset).isoformat() == expected_utc


@pytest.mark.parametrize("zone", ["", "Not/AZone", "../../etc/passwd", "x" * 500])
def test_unknown_zone_and_absurd_offset_fall_back_to_utc(zone: str) -> None:
    assert key_service.reader_zone(zone, 99_999) == dt.UTC
    assert _end("2026-12-31", zone).isoformat() == "2026-12-31T23:59:59+00:00"


def test_past_date_is_refused_with_a_code_and_today_is_allowed() -> None:
    with pytest.raises(ValidationError) as refused:
        _end("2026-11-26", "UTC")
    assert (refused.value.code, refused.value.field) == (key_service.PAST_END_DATE, "expires_at")
    assert _end("2026-11-27", "UTC") > NOW


def test_today_is_the_readers_today() -> None:
    # at 12:00 UTC on the 27th it is already the 28th in Kiritimati (UTC+14): the 27th is past there
    with pytest.raises(ValidationError) as refused:
        _end("2026-11-27", "Pacific/Kiritimati")
    assert refused.value.code == key_service.PAST_END_DATE
    # ...and still the 27th in Pago Pago (UTC-11), where the 27th is today
    assert _end("2026-11-27", "Pacific/Pago_Pago").isoformat() == "2026-11-28T10:59:59+00:00"


@pytest.mark.parametrize("value", ["2026-13-01", "tomorrow", "2026-02-30"])
def test_not_a_date_is_refused_with_a_code(value: str) -> None:
    with pytest.raises(ValidationError) as refused:
        _end(value, "UTC")
    assert refused.value.code == key_service.BAD_END_DATE


def test_custom_preset_uses_the_zone_and_other_presets_do_not() -> None:
    zone = key_service.reader_zone("Asia/Tokyo")
    custom = key_service.end_date_for(key_service.ExpiryPreset.CUSTOM, "2026-12-31", NOW, zone)
    assert custom is not None and custom.isoformat() == "2026-12-31T14:59:59+00:00"
    assert key_service.end_date_for(key_service.ExpiryPreset.DAYS_7, "", NOW, zone) == NOW + dt.timedelta(
        days=7
    )
    assert key_service.end_date_for(key_service.ExpiryPreset.NEVER, "2026-12-31", NOW, zone) is None
    with pytest.raises(ValidationError):
        key_service.end_date_for(key_service.ExpiryPreset.CUSTOM, "", NOW, zone)


def test_date_field_shows_the_local_day_of_the_end() -> None:
    zone = key_service.reader_zone("America/New_York")
    end = _end("2026-12-31", "America/New_York")
    assert key_service.date_field(end, zone) == "2026-12-31"
    assert key_service.date_field(end) == "2027-01-01"  # the same moment, read in UTC
    assert key_service.date_field(None, zone) == ""
