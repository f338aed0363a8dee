"""What the server sends for a time: the ISO instant (the browser shows it locally) and its UTC text."""

from __future__ import annotations

import datetime as dt

from rxapp.components.timefmt import exact_utc, iso
from rxapp.models import ApiKeyPublic
from rxapp.pages.keys.listing import key_row

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)


def _key(**changes) -> ApiKeyPublic:
    fields = {
        "key_id": "key_abc",
        "name": "svc",
        "masked": "bpk_••••abcd",
        "status": "ACTIVE",
        "expires_at": None,
        "last_used_at": None,
        "bias_profile_id": None,
        "bias_profile_name": None,
        "created_at": NOW,
        "updated_at": NOW,
        "version": 1,
    }
    return ApiKeyPublic(**{**fields, **changes})


def test_iso_is_utc_with_its_offset_and_empty_for_none() -> None:
    tokyo = dt.datetime(2027, 1, 1, 8, 59, 59, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    assert iso(tokyo) == "2026-12-31T23:59:59+00:00"
    assert exact_utc(tokyo) == "2026-12-31 23:59:59 UTC"
    assert iso(None) == exact_utc(None) == ""


def test_row_sends_the_instant_and_the_utc_title() -> None:
    end = dt.datetime(2027, 1, 1, 4, 59, 59, tzinfo=dt.UTC)
    row = key_row(_key(expires_at=end, last_used_at=NOW - dt.timedelta(minutes=3)), NOW)
    assert (row.expires_at, row.expires_exact) == ("2027-01-01T04:59:59+00:00", "2027-01-01 04:59:59 UTC")
    assert (row.last_used, row.last_used_exact) == ("3 minutes ago", "2026-11-27 11:57:00 UTC")


def test_row_without_times_says_so_on_hover() -> None:
    row = key_row(_key(), NOW)
    assert (row.expires_at, row.expires_exact) == ("", "No end date")
    assert (row.last_used, row.last_used_exact) == ("Never", "Never used")
