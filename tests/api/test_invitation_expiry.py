"""Invitation lifetimes are what the message says: between 1 hour and 30 days (issue 21, item 7)."""

from __future__ import annotations

import pytest

from tests.conftest import Console


@pytest.mark.parametrize("days", ["0.0001", "0.04", "0", "-1", "30.5", "nan", "inf"])
def test_invite_refuses_lifetimes_outside_one_hour_to_thirty_days(console: Console, days: str) -> None:
    owner = console.new_user()
    refused = console.cli("invite", owner, "Personal", "--days", days, check=False)
    assert refused.returncode == 1 and refused.stdout == ""
    assert (
        refused.stderr.strip().splitlines() == [refused.stderr.strip().splitlines()[-1]]
        and "between 1 hour and 30 days" in refused.stderr
    )
    assert "Traceback" not in refused.stderr


@pytest.mark.parametrize("days", ["0.0417", "1", "30"])
def test_invite_accepts_lifetimes_from_one_hour_to_thirty_days(console: Console, days: str) -> None:
    owner = console.new_user()
    accepted = console.cli("invite", owner, "Personal", "--days", days)
    assert "/invite?token=inv_" in accepted.stdout
