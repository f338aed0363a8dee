"""Performance smoke test: a user with 10,000 keys can still open, search and page the keys table."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import Console
from tests.e2e.conftest import seed_keys, sign_up, table_rows

KEY_COUNT = 10_000
T = 10_000  # generous: this is a smoke test, not a timing assertion


def test_ten_thousand_keys_open_search_and_page(
    page: Page, console: Console, capsys: pytest.CaptureFixture[str]
) -> None:
    email = sign_up(page, console)
    started = time.perf_counter()
    seed_keys(console, email, [f"load-{index:05d}" for index in range(KEY_COUNT)])
    seeded = time.perf_counter() - started

    started = time.perf_counter()
    page.reload()
    expect(page.locator("#keys-total")).to_have_text(f"{KEY_COUNT} keys", timeout=T)
    expect(page.locator("#page-indicator")).to_have_text("Page 1 of 400", timeout=T)
    expect(table_rows(page)).to_have_count(25, timeout=T)
    opened = time.perf_counter() - started
    expect(table_rows(page).first.locator("td").nth(1)).to_have_text("load-09999")

    started = time.perf_counter()
    page.fill("#search-keys", "load-0424")
    expect(page.locator("#keys-total")).to_have_text("10 keys", timeout=T)
    expect(table_rows(page)).to_have_count(10, timeout=T)
    searched = time.perf_counter() - started  # includes the 300 ms input debounce

    page.fill("#search-keys", "")
    expect(page.locator("#keys-total")).to_have_text(f"{KEY_COUNT} keys", timeout=T)
    started = time.perf_counter()
    page.click("#page-next")
    expect(page.locator("#page-indicator")).to_have_text("Page 2 of 400", timeout=T)
    expect(table_rows(page).first.locator("td").nth(1)).to_have_text("load-09974", timeout=T)
    paged = time.perf_counter() - started

    with capsys.disabled():
        print(
            f"\n[scale] {KEY_COUNT} keys: seed {seeded:.2f}s, open {opened:.2f}s, "
            f"search {searched:.2f}s, next page {paged:.2f}s"
        )
