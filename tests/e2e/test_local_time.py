"""Times in the reader's zone (issue 10, item 7): a browser in New York sees New York times, UTC on
hover; a custom end date ends that day in New York; the picker offers no past day."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import Console
from tests.e2e.conftest import choose, key_ids, only_key_id, sign_up

# Drawn the same on every backend: the PostgreSQL + Redis pass of scripts/test skips it.
pytestmark = pytest.mark.presentation

T = 15_000
ZONE = "America/New_York"


def test_custom_end_date_is_the_end_of_the_local_day_shown_locally(
    browser: Browser, browser_context_args: dict, console: Console
) -> None:
    context = browser.new_context(**{**browser_context_args, "timezone_id": ZONE})
    try:
        page = context.new_page()
        email = sign_up(page, console)
        zone = ZoneInfo(ZONE)
        today = dt.datetime.now(zone).date()
        day = today + dt.timedelta(days=45)

        page.click("#create-key-button")
        choose(page, "#create-expiry", "Custom date")
        picker = page.locator("#create-custom-date")
        # the picker's minimum is the reader's today (New York's, computed in the browser)
        expect(picker).to_have_attribute("min", today.isoformat(), timeout=T)

        # a past day is refused next to the field, with nothing created
        page.fill("#create-custom-date", (today - dt.timedelta(days=1)).isoformat())
        page.click("#create-submit")
        expect(page.get_by_text("End date must be today or later.")).to_be_visible(timeout=T)
        expect(picker).to_have_attribute("aria-invalid", "true")
        assert key_ids(console, email) == []

        # the chosen day ends at 23:59:59 New York time: shown back before creating
        page.fill("#create-custom-date", day.isoformat())
        expect(page.locator("#create-custom-date-end")).to_have_text(f"{day.isoformat()} 23:59", timeout=T)
        page.click("#create-submit")
        expect(page.locator("#new-key-secret")).to_have_value(re.compile(r"^bpk_"), timeout=T)
        page.click("#copy-new-key")
        page.click("#create-done")
        expect(page.locator("#create-dialog")).to_have_count(0, timeout=T)

        key_id = only_key_id(console, email)
        end_utc = (dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone)).astimezone(
            dt.UTC
        ) - dt.timedelta(seconds=1)
        shown = page.locator(f"#expires-at-{key_id}")
        expect(shown).to_have_text(f"{day.isoformat()} 23:59", timeout=T)  # local, not UTC
        expect(shown).to_have_attribute("title", end_utc.strftime("%Y-%m-%d %H:%M:%S UTC"))
        assert end_utc.isoformat() in console.cli("list-keys", email).stdout

        # the edit dialog shows the same local day, and saving it unchanged keeps the instant
        page.click(f"#edit-{key_id}")
        expect(page.locator("#edit-end-date")).to_have_value(day.isoformat(), timeout=T)
        expect(page.locator("#edit-end-date")).to_have_attribute("min", today.isoformat())
        page.click("#edit-save")
        expect(page.locator("#edit-dialog")).to_have_count(0, timeout=T)
        expect(shown).to_have_attribute("title", end_utc.strftime("%Y-%m-%d %H:%M:%S UTC"), timeout=T)

        # the key's page and the Activity page show local times with UTC on hover too
        page.goto(f"{console.base_url}/keys/{key_id}")
        expect(page.locator("#detail-expires")).to_have_text(f"{day.isoformat()} 23:59", timeout=T)
        created = page.locator("#detail-created .local-time")
        expect(created).to_have_attribute("title", re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$"))
        utc_created = dt.datetime.strptime(created.get_attribute("title") or "", "%Y-%m-%d %H:%M:%S UTC")
        local_created = utc_created.replace(tzinfo=dt.UTC).astimezone(zone)
        expect(created).to_have_text(local_created.strftime("%Y-%m-%d %H:%M"))
    finally:
        context.close()


def _shows_local_of_its_title(locator, zone: ZoneInfo, time_format: str = "%Y-%m-%d %H:%M") -> None:
    """The element's text is its UTC title read in `zone`."""
    expect(locator).to_have_attribute("title", re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$"), timeout=T)
    utc = dt.datetime.strptime(locator.get_attribute("title") or "", "%Y-%m-%d %H:%M:%S UTC").replace(
        tzinfo=dt.UTC
    )
    expect(locator).to_have_text(utc.astimezone(zone).strftime(time_format))


def test_roll_note_rolling_hint_and_activity_are_local_with_utc_on_hover(
    browser: Browser, browser_context_args: dict, console: Console
) -> None:
    context = browser.new_context(**{**browser_context_args, "timezone_id": "Asia/Kolkata"})  # UTC+5:30
    try:
        page = context.new_page()
        zone = ZoneInfo("Asia/Kolkata")
        email = sign_up(page, console)
        console.create_key(email, "rolled")
        old_id = only_key_id(console, email)
        page.reload()
        page.click(f"#roll-{old_id}")
        choose(page, "#roll-grace", "1 hour")
        page.click("#roll-submit")
        expect(page.locator("#new-key-secret")).to_have_value(re.compile(r"^bpk_"), timeout=T)
        until = page.locator("#reveal-note .local-time")
        _shows_local_of_its_title(until, zone)
        until_utc = until.get_attribute("title")
        page.click("#copy-new-key")
        page.click("#create-done")
        expect(page.locator("#create-dialog")).to_have_count(0, timeout=T)
        # the relative hint stays relative, with the same instant in UTC on hover
        hint = page.locator(f"#rolling-{old_id} .relative-time")
        expect(hint).to_contain_text("rolling: old key expires in", timeout=T)
        expect(hint).to_have_attribute("title", until_utc or "")
        _shows_local_of_its_title(page.locator(f"#expires-at-{old_id}"), zone)

        page.goto(f"{console.base_url}/activity")
        _shows_local_of_its_title(page.locator(".local-time").first, zone)
    finally:
        context.close()
