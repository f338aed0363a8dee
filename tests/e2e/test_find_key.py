"""Finding a key from the key, as a person does when one leaks: paste the whole secret (or type the
last four shown in the table) into the keys search, on a desktop and on a phone. The secret is
looked up by its digest and then dropped: not in the field, the URL, the page or the log."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import Console
from tests.e2e.conftest import sign_up, table_rows

T = 15_000
VIEWPORTS = {"desktop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(params=list(VIEWPORTS))
def device_page(request: pytest.FixtureRequest, browser: Browser):
    context = browser.new_context(viewport=VIEWPORTS[request.param])
    page = context.new_page()
    page.set_default_timeout(T)
    yield page
    context.close()


def _key_id_of(console: Console, secret: str) -> str:
    masked = secret[:4] + "••••••••" + secret[-4:]
    rows = console.rows("SELECT key_id FROM api_keys WHERE masked = :masked", masked=masked)
    assert len(rows) == 1, rows
    return rows[0][0]


def test_a_pasted_secret_finds_its_key_and_is_kept_nowhere(device_page: Page, console: Console) -> None:
    page = device_page
    email = sign_up(page, console)
    secret = console.create_key(email, "leaked-one")
    for number in range(3):
        console.create_key(email, f"other-{number}")
    key_id = _key_id_of(console, secret)
    page.reload()
    expect(page.locator("#keys-total")).to_have_text("4 keys", timeout=T)

    page.fill("#search-keys", secret)
    expect(page.locator("#secret-search-note")).to_have_text(
        f"Found by its secret: {key_id} (the secret was not stored)", timeout=T
    )
    expect(table_rows(page)).to_have_count(1)
    expect(page.locator(f"#row-{key_id}")).to_be_visible()
    expect(page.locator("#keys-total")).to_have_text("1 key")
    # The field now holds the key ID, not the secret; neither the URL nor the page holds it.
    expect(page.locator("#search-keys")).to_have_value(key_id)
    assert secret not in page.url
    assert secret not in page.content()
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]  # type: ignore[index]

    # Another workspace's secret (or none at all) finds nothing, and says so the same way.
    stranger = console.new_user()
    strangers_secret = console.create_key(stranger, "not-yours")
    page.fill("#search-keys", strangers_secret)
    expect(page.locator("#secret-search-note")).to_have_text(
        "No key in this workspace has that secret (the secret was not stored)", timeout=T
    )
    expect(table_rows(page)).to_have_count(0)
    expect(page.locator("#search-keys")).to_have_value("")
    assert strangers_secret not in page.content()

    # The last four shown in the table find it too, typed bare or copied with the dots.
    for shape in (secret[-4:], "•" + secret[-4:]):
        page.fill("#search-keys", shape)
        expect(page.locator(f"#row-{key_id}")).to_be_visible(timeout=T)
        expect(page.locator("#secret-search-note")).to_have_count(0)

    log = console.log_path.read_text(errors="replace")
    assert secret not in log
    assert strangers_secret not in log
