"""Search, status filter, sort and pages on a table with 30 keys."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.conftest import Console
from tests.e2e.conftest import choose, seed_keys, sign_up, table_rows

T = 15_000


def first_name(page: Page):
    return table_rows(page).first.locator("td").nth(1)


def test_search_filter_sort_and_pages(page: Page, console: Console) -> None:
    email = sign_up(page, console)
    names = [f"svc-{index:02d}" for index in range(30)]
    statuses = ["INACTIVE" if index % 3 == 0 else "ACTIVE" for index in range(30)]
    seed_keys(console, email, names, statuses=statuses)
    page.reload()

    expect(page.locator("#keys-total")).to_have_text("30 keys", timeout=T)
    expect(page.locator("#page-indicator")).to_have_text("Page 1 of 2")
    expect(table_rows(page)).to_have_count(25)
    expect(first_name(page)).to_have_text("svc-29")  # newest first
    expect(page.locator("#page-prev")).to_be_disabled()

    page.click("#page-next")
    expect(page.locator("#page-indicator")).to_have_text("Page 2 of 2", timeout=T)
    expect(table_rows(page)).to_have_count(5)
    expect(first_name(page)).to_have_text("svc-04")
    expect(page.locator("#page-next")).to_be_disabled()
    page.click("#page-prev")
    expect(page.locator("#page-indicator")).to_have_text("Page 1 of 2", timeout=T)

    # Search by name narrows the rows (and starts again on page 1).
    page.click("#page-next")
    expect(page.locator("#page-indicator")).to_have_text("Page 2 of 2", timeout=T)
    page.fill("#search-keys", "svc-07")
    expect(page.locator("#keys-total")).to_have_text("1 key", timeout=T)
    expect(table_rows(page)).to_have_count(1)
    expect(first_name(page)).to_have_text("svc-07")
    expect(page.locator("#page-indicator")).to_have_text("Page 1 of 1")
    page.fill("#search-keys", "svc-1")
    expect(page.locator("#keys-total")).to_have_text("10 keys", timeout=T)
    page.fill("#search-keys", "no-such-key")
    expect(page.locator("#no-matches")).to_be_visible(timeout=T)
    expect(table_rows(page)).to_have_count(0)
    page.fill("#search-keys", "")
    expect(page.locator("#keys-total")).to_have_text("30 keys", timeout=T)

    # Status filter.
    choose(page, "#status-filter", "Inactive")
    expect(page.locator("#keys-total")).to_have_text("10 keys", timeout=T)
    for status in table_rows(page).locator("td:nth-child(4)").all_inner_texts():
        assert status == "INACTIVE"
    choose(page, "#status-filter", "Active")
    expect(page.locator("#keys-total")).to_have_text("20 keys", timeout=T)
    choose(page, "#status-filter", "Expired")
    expect(page.locator("#no-matches")).to_be_visible(timeout=T)
    choose(page, "#status-filter", "All statuses")
    expect(page.locator("#keys-total")).to_have_text("30 keys", timeout=T)

    # Profile filter: none of them has a profile.
    choose(page, "#profile-filter", "No profile")
    expect(page.locator("#keys-total")).to_have_text("30 keys", timeout=T)
    choose(page, "#profile-filter", "All profiles")

    # Sort by name (ascending first), then flip the direction.
    choose(page, "#sort-keys", "Name")
    expect(first_name(page)).to_have_text("svc-00", timeout=T)
    page.click("#sort-direction")
    expect(first_name(page)).to_have_text("svc-29", timeout=T)
    page.click("#page-next")
    expect(page.locator("#page-indicator")).to_have_text("Page 2 of 2", timeout=T)
    expect(first_name(page)).to_have_text("svc-04")
