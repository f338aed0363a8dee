"""The seed document's walk, word for word, with the defaults: create (three clicks, no name typed),
copy, edit, delete, on a desktop and on a 390x844 phone. The console fixture does not list its own
origin in APIKEYS_ALLOWED_ORIGINS (only a foreign extra one) and runs `reflex run --env prod` on an
arbitrary port."""

from __future__ import annotations

import itertools
import re
import uuid

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import Console
from tests.e2e.conftest import choose, only_key_id, sign_up

T = 15_000
VIEWPORTS = {"desktop": {"width": 1400, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(params=["desktop", "phone"])
def device_page(request: pytest.FixtureRequest, browser: Browser):
    context = browser.new_context(
        viewport=VIEWPORTS[request.param], permissions=["clipboard-read", "clipboard-write"]
    )
    page = context.new_page()
    page.set_default_timeout(T)
    yield request.param, page
    context.close()


def _fits(page: Page, selector: str) -> None:
    """Visible and entirely inside the viewport's width (nothing cut off on a phone)."""
    element = page.locator(selector)
    expect(element).to_be_visible()
    box = element.bounding_box()
    width = page.viewport_size["width"]  # type: ignore[index]
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= width + 1, (selector, box, width)


def test_seed_walk(device_page: tuple[str, Page], console: Console) -> None:
    device, page = device_page
    email = sign_up(page, console)
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]  # type: ignore[index]

    # Creating a New API Key: 1. "Create New API Key" 2. (optional profile) 3. "Create API Key"
    _fits(page, "#create-key-button")
    page.get_by_role("button", name="Create New API Key").click()
    expect(page.locator("#create-name")).to_have_value("Key 1")
    _fits(page, "#create-submit")
    page.get_by_role("button", name="Create API Key", exact=True).click()
    secret_box = page.locator("#new-key-secret")
    expect(secret_box).to_have_value(re.compile(r"^bpk_\w{38}$"))
    secret = secret_box.input_value()
    # the reveal focuses Copy; "Copy the API key value by clicking on the Copy Icon"
    expect(page.locator("#copy-new-key")).to_be_focused()
    page.locator("#copy-new-key").click()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    expect(page.locator("#copy-new-key svg")).to_have_class(re.compile("check"))
    page.locator("#create-done").click()
    expect(page.locator("#create-dialog")).to_have_count(0)
    key_id = only_key_id(console, email)

    # Viewing: every seed column is visible, on a phone as a labelled card
    for cell in ("status", "last-used", "profile", "masked"):
        _fits(page, f"#{cell}-{key_id}")
    expect(page.locator(f"#status-{key_id}")).to_have_text("ACTIVE")
    expect(page.locator(f"#last-used-{key_id}")).to_have_text("Never")
    row, table = page.locator(f"#row-{key_id}").bounding_box(), page.locator("#keys-table").bounding_box()
    assert row and table and row["width"] >= table["width"] - 2, (row, table)  # a card spans the page

    # Updating: the pencil icon, change the status, Save (Enter in a field saves too)
    _fits(page, f"#edit-{key_id}")
    page.locator(f"#edit-{key_id}").click()
    expect(page.locator("#edit-dialog")).to_be_visible()
    choose(page, "#edit-status", "INACTIVE")
    _fits(page, "#edit-save")
    page.locator("#edit-name").press("Enter")
    expect(page.locator("#edit-dialog")).to_have_count(0)
    expect(page.locator(f"#status-{key_id}")).to_have_text("INACTIVE")
    expect(page.locator(f"#edit-{key_id}")).to_be_focused()  # focus returns to the opener
    # the "Saved" toast floats over the page but never takes a tap meant for what lies under it
    toast = page.locator("[data-sonner-toast]", has_text="Saved Key 1")
    expect(toast).to_be_visible()
    # where the toast has come to rest: it slides in from below the window (mid-slide, its centre
    # can lie outside the window, where elementFromPoint finds nothing at all)
    expect(toast).to_have_attribute("data-mounted", "true")
    toast.evaluate("t => Promise.all(t.getAnimations({subtree: true}).map(a => a.finished))")
    box = toast.bounding_box()
    assert box
    found = page.evaluate(
        """([x, y]) => {
            const hit = document.elementFromPoint(x, y);
            if (hit === null) return "nothing";
            return hit.closest('[data-sonner-toaster]') === null ? "under" : "toast";
        }""",
        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
    )
    assert found == "under", f"the toast intercepts pointer events ({found} at its centre)"

    # Deleting: the trash icon, the warning, "Delete"
    page.locator(f"#delete-{key_id}").click()
    expect(page.get_by_role("alertdialog")).to_contain_text("permanent")
    page.get_by_role("button", name="Delete", exact=True).click()
    expect(page.locator(f"#row-{key_id}")).to_have_count(0)
    assert console.verify(secret).json()["valid"] is False

    if device == "phone":  # the nav folds behind a menu button and opens on demand
        expect(page.locator("#nav-activity")).to_be_hidden()
        page.locator("#nav-toggle").click()
        _fits(page, "#sign-out")
        page.locator("#nav-activity").click()
        page.wait_for_url(re.compile(r".*/activity/?$"))


def test_the_nav_stays_on_one_line_on_a_laptop_and_folds_below(browser: Browser, console: Console) -> None:
    """1280 px (a common laptop), with a long address: one line, no menu button. 1100 px: the menu."""
    for width, folded in ((1280, False), (1100, True)):
        context = browser.new_context(viewport={"width": width, "height": 800})
        page = context.new_page()
        page.set_default_timeout(T)
        # sign_up checks that #signed-in-email holds the whole address (clipped only on screen)
        sign_up(page, console, email=f"a-rather-long-address-{width}-{uuid.uuid4().hex[:8]}@example.com")
        if folded:
            expect(page.locator("#nav-toggle")).to_be_visible()
            expect(page.locator("#nav-keys")).to_be_hidden()
        else:
            expect(page.locator("#nav-toggle")).to_be_hidden()
            links = [page.locator(f"#nav-{name}").bounding_box() for name in ("keys", "profiles", "activity")]
            assert all(box and box["height"] < 30 for box in links), links  # no label wraps
            assert all(a and b and a["x"] + a["width"] < b["x"] for a, b in itertools.pairwise(links))
            nav = page.get_by_role("navigation", name="Main").bounding_box()
            assert nav and nav["height"] < 70, nav  # one line
        context.close()
