"""The key page's chart: hourly usage rows turned into the window's buckets (services/usage.py)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from rxapp.services import usage
from rxapp.services.usage import chart_points

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)


NEW_OUTCOMES = {"usage_exceeded": 0, "insufficient_permissions": 0, "forbidden": 0}  # issue 24


def _point(hour: dt.datetime, valid: int) -> usage.UsagePoint:
    return usage.UsagePoint(hour=hour, valid=valid, inactive=0, expired=0, rate_limited=0)


def test_chart_hours_are_labelled_in_the_readers_zone() -> None:
    kolkata = ZoneInfo("Asia/Kolkata")  # UTC+5:30
    points = [_point(dt.datetime(2026, 11, 27, 11, tzinfo=dt.UTC), 4)]
    rows = chart_points(points, "24h", NOW, kolkata)
    assert len(rows) == 24 and rows[-1]["label"] == "17:30"  # the 12:00 UTC hour
    assert rows[-2] == {
        "label": "16:30",
        "valid": 4,
        "inactive": 0,
        "expired": 0,
        "rate_limited": 0,
        **NEW_OUTCOMES,
    }
    assert chart_points(points, "24h", NOW)[-2]["label"] == "11:00"  # UTC when no zone is known


def test_chart_days_are_the_readers_local_days() -> None:
    new_york = ZoneInfo("America/New_York")  # 12:00 UTC on the 27th is 07:00 on the 27th there
    points = [
        _point(dt.datetime(2026, 11, 27, 3, tzinfo=dt.UTC), 1),  # 22:00 on the 26th in New York
        _point(dt.datetime(2026, 11, 27, 6, tzinfo=dt.UTC), 2),  # 01:00 on the 27th in New York
    ]
    rows = chart_points(points, "7d", NOW, new_york)
    assert [row["label"] for row in rows[-2:]] == ["26 Nov", "27 Nov"]
    assert [row["valid"] for row in rows[-2:]] == [1, 2]
    utc_rows = chart_points(points, "7d", NOW)  # in UTC both calls were on the 27th
    assert [row["valid"] for row in utc_rows[-2:]] == [0, 3]


def test_every_bucket_of_the_window_is_there_oldest_first_zeros_included() -> None:
    hours = chart_points([], "24h", NOW)
    assert [row["label"] for row in hours[:2]] == ["13:00", "14:00"]  # yesterday 13:00 ... now
    assert len(hours) == 24 and hours[-1]["label"] == "12:00"
    assert all(
        row == {**row, "valid": 0, "inactive": 0, "expired": 0, "rate_limited": 0, **NEW_OUTCOMES}
        for row in hours
    )
    week, month = chart_points([], "7d", NOW), chart_points([], "30d", NOW)
    assert [row["label"] for row in week] == [f"{day} Nov" for day in range(21, 28)]
    assert len(month) == 30 and (month[0]["label"], month[-1]["label"]) == ("29 Oct", "27 Nov")


def test_outcomes_add_up_per_bucket_and_rows_outside_the_window_are_left_out() -> None:
    hour = dt.datetime(2026, 11, 27, 9, tzinfo=dt.UTC)
    points = [
        usage.UsagePoint(hour=hour, valid=2, inactive=1, expired=0, rate_limited=3),
        usage.UsagePoint(hour=hour - dt.timedelta(hours=3), valid=5, inactive=0, expired=4, rate_limited=0),
        usage.UsagePoint(hour=NOW - dt.timedelta(days=2), valid=7, inactive=0, expired=0, rate_limited=0),
    ]
    hours = {row["label"]: row for row in chart_points(points, "24h", NOW)}
    assert hours["09:00"] == {
        "label": "09:00",
        "valid": 2,
        "inactive": 1,
        "expired": 0,
        "rate_limited": 3,
        **NEW_OUTCOMES,
    }
    assert hours["06:00"]["expired"] == 4
    assert sum(row["valid"] for row in hours.values()) == 7  # the row from two days ago is not in 24 h
    days = chart_points(points, "7d", NOW)
    assert days[-1] == {
        "label": "27 Nov",
        "valid": 7,
        "inactive": 1,
        "expired": 4,
        "rate_limited": 3,
        **NEW_OUTCOMES,
    }
    assert days[-3]["valid"] == 7  # the 25th
