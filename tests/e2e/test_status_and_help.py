"""Seed section "API Key Status" (and the Best Practices), shown by the console."""

from __future__ import annotations

import datetime as dt
import time

from playwright.sync_api import Page, expect

from tests.conftest import Console
from tests.e2e.conftest import only_key_id, sign_up

T = 15_000
LIFETIME = 12  # seconds until the key's end date


def test_key_turns_expired_in_the_table_without_reload(page: Page, console: Console) -> None:
    email = sign_up(page, console)
    ends = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=LIFETIME)
    secret = console.create_key(email, "short-lived", "--expires-at", ends.isoformat())
    key_id = only_key_id(console, email)
    status = page.locator(f"#status-{key_id}")
    page.reload()
    expect(page.locator(f"#row-{key_id}")).to_be_visible(timeout=T)
    # Only claim ACTIVE while there is clearly time left (slow machines).
    if (ends - dt.datetime.now(dt.UTC)).total_seconds() > 4:
        expect(status).to_have_text("ACTIVE", timeout=2_000)
    expect(page.locator(f"#expires-{key_id}")).not_to_have_text("Never")

    expect(status).to_have_text("EXPIRED", timeout=LIFETIME * 1000 + T)
    assert dt.datetime.now(dt.UTC) >= ends
    assert console.verify(secret).json() == {"valid": False, "code": "EXPIRED"}

    page.click(f"#edit-{key_id}")
    expect(page.locator("#edit-dialog")).to_be_visible(timeout=T)
    expect(page.locator("#edit-expired-reason")).to_contain_text("reached its end date")
    expect(page.locator("#edit-dialog")).to_contain_text("EXPIRED")
    expect(page.locator("#edit-status")).to_have_count(0)  # read-only: no status picker

    # The expiry job also writes EXPIRED to the database (the CLI reads the stored row).
    deadline = time.monotonic() + 15
    while "EXPIRED" not in console.cli("list-keys", email).stdout and time.monotonic() < deadline:
        time.sleep(1)
    assert "\tEXPIRED\t" in console.cli("list-keys", email).stdout


def test_help_dialog_shows_status_table_and_best_practices(page: Page, console: Console) -> None:
    sign_up(page, console)
    page.click("#open-help")
    dialog = page.locator("#help-dialog")
    expect(dialog).to_be_visible(timeout=T)
    expect(page.locator("#help-status-table thead th")).to_have_text(["Status", "Description"])
    expect(page.locator("#help-status-table tbody tr")).to_have_text(
        [
            "ACTIVEKey is working and can make API calls",
            "INACTIVEKey is temporarily disabled",
            "EXPIREDKey has reached its end date",
        ]
    )
    expect(dialog).to_contain_text("Your API keys can have the following statuses:")
    expect(dialog.get_by_text("Best Practices", exact=True)).to_be_visible()
    for heading in ["1. Regular Rotation", "2. Access Control", "3. Security"]:
        expect(dialog.get_by_text(heading, exact=True)).to_be_visible()
    for line in [
        "Rotate keys periodically for security",
        "Create new keys before deleting old ones",
        "Update applications with new keys gradually",
        "Use different keys for different applications",
        "Assign appropriate Bias Profiles to each key",
        "Monitor “Last Used” timestamps regularly",
        "Never share API keys publicly",
        "Store keys in secure environment variables",
        "Delete unused or compromised keys immediately",
    ]:
        expect(dialog.get_by_text(line, exact=True)).to_be_visible()
    for bullets in dialog.locator("ul").all():
        expect(bullets).to_have_css("list-style-type", "disc")
    assert dialog.locator("ul").count() == 3
    page.click("#help-close")
    expect(dialog).to_have_count(0, timeout=T)
