"""Dates from outside (issue 21, item 6): one range and one set of rules for every end date, expiry
and cursor time, so any value is either accepted in a form every layer can store and show, or a
coded ValidationError naming its field; never an OverflowError or a driver error."""

from __future__ import annotations

import datetime as dt

import hypothesis
import pytest
from hypothesis import strategies as st
from sqlmodel import Session

from rxapp.services import keys as key_service
from rxapp.services import keyset, moments, rolling, tokens
from rxapp.services.errors import ValidationError
from tests.unit.helpers import Person

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
SETTINGS = hypothesis.settings(max_examples=400, deadline=None, database=None, derandomize=True)
# Every offset Python allows (strictly inside ±24 h), to the minute and to the second.
OFFSETS = st.integers(-(24 * 3600 - 1), 24 * 3600 - 1).map(lambda s: dt.timezone(dt.timedelta(seconds=s)))
ANY_AWARE = st.datetimes(timezones=OFFSETS)
READER_ZONES = [dt.timezone(dt.timedelta(hours=h)) for h in (-14, -12, 0, 12, 14)]


@SETTINGS
@hypothesis.given(ANY_AWARE)
def test_an_end_date_is_accepted_in_utc_or_refused_with_its_field(value: dt.datetime) -> None:
    try:
        end = moments.future_end(value, NOW, field="expires_at")
    except ValidationError as error:
        assert error.field == "expires_at"
        assert value <= NOW or value > moments.LATEST
        return
    assert end is not None and end == value and end.utcoffset() == dt.timedelta(0)
    assert NOW < end <= moments.LATEST
    for zone in READER_ZONES:  # any reader can be shown it
        end.astimezone(zone)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("9999-12-31T23:59:59-14:00", moments.OUT_OF_RANGE),  # year 10000 in UTC: the issue's 500
        ("9999-12-31T23:59:59+00:00", moments.OUT_OF_RANGE),  # no reader east of UTC could see it
        ("0001-01-01T00:00:00+14:00", "INVALID"),  # year 0 in UTC: in the past
        ("2030-01-01T00:00:00", "INVALID"),  # naive
    ],
)
def test_the_issue_s_end_dates_are_coded_errors(text: str, code: str) -> None:
    with pytest.raises(ValidationError) as caught:
        moments.future_end(dt.datetime.fromisoformat(text), NOW, field="expires_at")
    assert (caught.value.code, caught.value.field) == (code, "expires_at")


def test_the_last_accepted_end_date_is_latest() -> None:
    assert moments.future_end(moments.LATEST, NOW, field="expires_at") == moments.LATEST
    west = moments.LATEST.astimezone(dt.timezone(dt.timedelta(hours=-14)))
    assert moments.future_end(west, NOW, field="expires_at") == moments.LATEST


@SETTINGS
@hypothesis.given(st.text(max_size=40))
def test_typed_text_is_a_moment_or_a_coded_error(text: str) -> None:
    """The CLI's --expires-at: any text, never an exception other than a ValidationError."""
    try:
        parsed = moments.parse(text, field="expires_at")
    except ValidationError as error:
        assert (error.field, error.code) == ("expires_at", moments.BAD_DATE)
        return
    assert parsed.tzinfo is not None
    try:
        moments.future_end(parsed, NOW, field="expires_at")
    except ValidationError as error:
        assert error.field == "expires_at"


@SETTINGS
@hypothesis.given(st.datetimes(), st.timedeltas(min_value=dt.timedelta(0)))
def test_a_capped_sum_never_overflows(start: dt.datetime, span: dt.timedelta) -> None:
    start = start.replace(tzinfo=dt.UTC)
    hypothesis.assume(start <= moments.LATEST)
    assert moments.capped_after(start, span) <= moments.LATEST


@SETTINGS
@hypothesis.given(ANY_AWARE)
def test_a_cursor_time_is_read_back_exactly_as_written(moment: dt.datetime) -> None:
    written = keyset.time_position(moment.astimezone(dt.UTC)) if _fits_utc(moment) else None
    hypothesis.assume(written is not None)
    assert keyset.parse_time(written) == moment


@SETTINGS
@hypothesis.given(
    st.one_of(
        st.text(max_size=40),
        ANY_AWARE.map(dt.datetime.isoformat),
        st.datetimes().map(dt.datetime.isoformat),  # naive: the issue's other 500
        st.builds(str.upper, ANY_AWARE.map(dt.datetime.isoformat)),
        st.none(),
        st.integers(),
    )
)
def test_a_cursor_time_is_only_what_time_position_writes(value) -> None:
    try:
        moment = keyset.parse_time(value)
    except ValidationError as error:
        assert (error.code, error.field) == (keyset.BAD_CURSOR_CODE, "cursor")
        return
    assert keyset.time_position(moment) == value and moment.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize(
    "value", ["2026-11-27T12:00:00", "2026-11-27T12:00:00Z", "2026-11-27", "2026-11-27T12:00:00-00:00"]
)
def test_other_spellings_of_a_time_are_bad_cursors(value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        keyset.parse_time(value)
    assert caught.value.code == keyset.BAD_CURSOR_CODE


@pytest.mark.parametrize("value", ["a\x00b", "\ud800", "x" * 101, None, 7, ["svc"]])
def test_a_name_position_the_database_cannot_hold_is_a_bad_cursor(value) -> None:
    with pytest.raises(ValidationError) as caught:
        keyset.parse_text(value, 100)
    assert caught.value.code == keyset.BAD_CURSOR_CODE


@pytest.mark.parametrize("offset_hours", [-14, 0, 14])
def test_the_console_s_last_day_is_a_coded_error_in_every_zone(offset_hours: int) -> None:
    zone = dt.timezone(dt.timedelta(hours=offset_hours))
    with pytest.raises(ValidationError) as caught:
        key_service.local_end_date("9999-12-31", zone, NOW)
    assert (caught.value.code, caught.value.field) == (moments.OUT_OF_RANGE, "expires_at")


def test_rolling_a_key_that_ends_at_the_last_moment_keeps_the_last_moment(
    session: Session, alice: Person
) -> None:
    """now + lifetime would be past year 9999: the successor ends at LATEST instead of a 500."""
    created = key_service.create_key(
        session, alice.access, alice.actor, "far", expires_at=moments.LATEST, now=NOW
    )
    later = NOW + dt.timedelta(days=400)
    rolled = rolling.roll_key(
        session, alice.access, alice.actor, created.key.key_id, dt.timedelta(hours=1), now=later
    )
    assert rolled.new.key.expires_at == moments.LATEST
    assert rolled.old_expires_at == later + dt.timedelta(hours=1)


def test_an_end_date_is_stored_in_utc(session: Session, alice: Person) -> None:
    west = dt.datetime(2030, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    created = key_service.create_key(session, alice.access, alice.actor, "west", expires_at=west, now=NOW)
    session.commit()
    stored = key_service.get_key(session, alice.access, created.key.key_id).expires_at
    assert stored == west and stored.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize("text", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "yesterday"])
def test_a_token_expiry_out_of_range_is_a_coded_error(session: Session, alice: Person, text: str) -> None:
    with pytest.raises(ValidationError) as caught:
        tokens.create_token(
            session,
            alice.access,
            alice.actor,
            "ci",
            "keys:read",
            expires_at=moments.parse(text, field="expires_at"),
            now=NOW,
        )
    assert caught.value.field == "expires_at"


def _fits_utc(moment: dt.datetime) -> bool:
    try:
        moment.astimezone(dt.UTC)
    except OverflowError:
        return False
    return True
