"""Issue 22 item 5 and three pieces of item 10, on a desktop (1366x768) and a phone (390x844):

- the key's page lays its facts out as label/value pairs, has Edit (the page then shows the new
  values) and Delete (back to the list, with a toast), and writes its audit trail as the Activity
  page does; a roll is on both keys' trails, each linking the other key;
- the rate limit is set in the create and edit dialogs (an invalid one is refused next to the field);
- a disabled Roll says why; the create dialog suggests the first free "Key N".

The axe audit runs on the key page and on each dialog opened from it.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import Console
from tests.e2e.axe import serious_violations
from tests.e2e.conftest import choose, key_ids, only_key_id, sign_up

T = 20_000
VIEWPORTS = {"desktop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(params=list(VIEWPORTS))
def device(request: pytest.FixtureRequest, browser: Browser):
    context = browser.new_context(viewport=VIEWPORTS[request.param])
    page = context.new_page()
    page.set_default_timeout(T)
    yield page
    context.close()


def _no_violations(page: Page, where: str) -> None:
    """Audit a still screen: no toast over it (mid-fade its text is judged at a fraction of its
    opacity) and no dialog still animating open."""
    expect(page.locator("[data-sonner-toast]")).to_have_count(0, timeout=T)
    page.wait_for_function("() => document.getAnimations().every((a) => a.playState !== 'running')")
    found = serious_violations(page)
    assert found == [], (where, found)


def _thumb_sized(page: Page, *selectors: str) -> None:
    """Controls at least 44 px both ways, and on screen (a phone's too)."""
    width = page.viewport_size["width"]  # type: ignore[index]
    for selector in selectors:
        element = page.locator(selector)
        element.scroll_into_view_if_needed()
        box = element.bounding_box()
        assert box and box["height"] >= 44 and box["width"] >= 44, (selector, box)
        assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1, (selector, box, width)


def _fact(page: Page, label: str) -> str:
    """The value paired with `label` in the key's description list."""
    term = page.locator("#detail-facts dt", has_text=re.compile(rf"^{re.escape(label)}$"))
    expect(term).to_have_count(1)
    return term.locator("xpath=following-sibling::dd[1]").inner_text()


def test_the_key_page_lays_out_its_facts_and_edits_and_deletes_the_key(
    device: Page, console: Console
) -> None:
    page = device
    email = sign_up(page, console)
    console.create_key(email, "checkout-service", "--rate-limit", "60")
    key_id = only_key_id(console, email)
    page.goto(f"{console.base_url}/keys/{key_id}")
    expect(page.locator("#detail-name")).to_have_text("checkout-service")

    # the facts as label/value pairs
    # the limit, then its use now ("· about 60 left now", per worker without Redis)
    expect(page.locator("#detail-rate-limit")).to_have_text(
        re.compile(r"^60 calls per minute( · about \d+ left now)?")
    )
    assert _fact(page, "Name") == "checkout-service"
    assert _fact(page, "Status") == "ACTIVE"
    assert _fact(page, "Bias Profile") == "None"
    assert _fact(page, "Rate limit").startswith("60 calls per minute")
    assert _fact(page, "Key ID") == key_id
    assert _fact(page, "Key").startswith("bpk_")  # masked: the prefix and the last four only
    assert _fact(page, "End date") == "Never"
    for label in ("Created (start)", "Last Used", "Last changed"):
        assert _fact(page, label).strip(), label
    expect(page.locator("#key-events")).to_contain_text("Name: checkout-service")
    _thumb_sized(page, "#key-page-edit", "#detail-roll", "#key-page-delete")
    _no_violations(page, "key page")

    # Edit from the page: a bad rate limit is refused next to its field, then the page shows the new values
    page.click("#key-page-edit")
    expect(page.locator("#edit-dialog")).to_be_visible()
    expect(page.locator("#edit-rate-limit")).to_have_value("60")
    _no_violations(page, "edit dialog on the key page")
    page.fill("#edit-name", "checkout-v2")
    page.fill("#edit-rate-limit", "lots")
    page.click("#edit-save")
    refusal = page.locator("#edit-dialog [role=alert]", has_text="Rate limit must be")
    expect(refusal).to_have_count(1)
    expect(page.locator("#edit-rate-limit")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#edit-rate-limit")).to_be_focused()
    page.fill("#edit-rate-limit", "120")
    expect(refusal).to_have_count(0)
    page.click("#edit-save")
    expect(page.locator("#edit-dialog")).to_have_count(0)
    expect(page.locator("#detail-name")).to_have_text("checkout-v2")
    expect(page.locator("#detail-rate-limit")).to_have_text(re.compile(r"^120 calls per minute"))
    # the trail in the Activity page's words
    expect(page.locator("#key-events")).to_contain_text("Name: checkout-v2 · Rate limit per minute: 120")
    assert console.rows("SELECT rate_limit_per_minute FROM api_keys WHERE key_id = :k", k=key_id)[0][0] == 120

    # a blank rate limit is none
    page.click("#key-page-edit")
    page.fill("#edit-rate-limit", "")
    page.click("#edit-save")
    expect(page.locator("#edit-dialog")).to_have_count(0)
    expect(page.locator("#detail-rate-limit")).to_have_text("None")

    # Delete from the page: back to the list, with a toast
    page.click("#key-page-delete")
    expect(page.locator("#confirm-delete")).to_be_visible()
    _no_violations(page, "delete dialog on the key page")
    page.click("#confirm-delete")
    page.wait_for_url(re.compile(r".*/keys/?$"))
    expect(page.get_by_text("Deleted checkout-v2")).to_be_visible()
    assert key_ids(console, email) == []


def test_a_roll_from_the_key_page_is_on_both_trails_with_links(device: Page, console: Console) -> None:
    page = device
    email = sign_up(page, console)
    console.create_key(email, "billing")
    old_id = only_key_id(console, email)
    page.goto(f"{console.base_url}/keys/{old_id}")
    expect(page.locator("#detail-roll")).to_be_enabled()
    expect(page.locator("#detail-roll-reason")).to_have_count(0)
    page.click("#detail-roll")
    expect(page.locator("#roll-dialog")).to_be_visible()
    _no_violations(page, "roll dialog on the key page")
    choose(page, "#roll-grace", "1 hour")
    page.click("#roll-submit")
    expect(page.locator("#new-key-secret")).to_have_value(re.compile(r"^bpk_\w{38}$"))
    _no_violations(page, "the rolled key's reveal on the key page")
    page.click("#copy-new-key")
    page.click("#create-done")
    expect(page.locator("#create-dialog")).to_have_count(0)
    new_id = next(key for key in key_ids(console, email) if key != old_id)
    expect(page.locator("#rotation-assistant")).to_be_visible()
    _no_violations(page, "the old key's page with the rotation assistant")

    # the old key's trail names the new key, as a link
    old_trail = page.locator("#key-events")
    expect(old_trail).to_contain_text(f"Rolled to {new_id}")
    old_trail.get_by_role("link", name=new_id).click()
    page.wait_for_url(re.compile(rf".*/keys/{new_id}/?$"))
    expect(page.locator("#detail-name")).to_have_text("billing")

    # the new key's trail says where it came from, with a link back
    new_trail = page.locator("#key-events")
    expect(new_trail).to_contain_text(f"Rolled from {old_id}")
    expect(new_trail).to_contain_text("key.create")
    _no_violations(page, "the new key's page")
    new_trail.get_by_role("link", name=old_id).click()
    page.wait_for_url(re.compile(rf".*/keys/{old_id}/?$"))
    expect(page.locator("#key-events")).to_contain_text(f"Rolled to {new_id}")


def test_a_disabled_roll_says_why(device: Page, console: Console) -> None:
    page = device
    email = sign_up(page, console)
    console.create_key(email, "legacy")
    key_id = only_key_id(console, email)
    console.cli("roll-key", email, key_id, "--grace", "0")  # the old key is EXPIRED at once
    page.goto(f"{console.base_url}/keys/{key_id}")
    expect(page.locator("#detail-status")).to_have_text("EXPIRED")
    expect(page.locator("#detail-roll")).to_be_disabled()
    reason = page.locator("#detail-roll-reason")
    expect(reason).to_be_visible()
    expect(reason).to_have_text("An expired key cannot be rolled. Create a new key instead.")
    expect(page.locator("#detail-roll")).to_have_attribute("aria-describedby", "detail-roll-reason")
    _no_violations(page, "an expired key's page")


def test_the_create_dialog_suggests_the_first_free_name_and_takes_a_rate_limit(
    device: Page, console: Console
) -> None:
    page = device
    email = sign_up(page, console)
    console.create_key(email, "Key 1")
    console.create_key(email, "Key 3")
    page.reload()
    page.click("#create-key-button")
    expect(page.locator("#create-name")).to_have_value("Key 2")
    expect(page.locator("#create-rate-limit")).to_have_value("")
    _no_violations(page, "create dialog")
    page.fill("#create-rate-limit", "0")
    page.click("#create-submit")
    refusal = page.locator("#create-dialog [role=alert]", has_text="Rate limit must be between 1 and")
    expect(refusal).to_have_count(1)
    expect(page.locator("#create-rate-limit")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#create-rate-limit")).to_be_focused()
    assert len(key_ids(console, email)) == 2  # nothing created
    page.fill("#create-rate-limit", "30")
    expect(refusal).to_have_count(0)  # the refusal gone, the footer has stopped moving
    page.click("#create-submit")
    expect(page.locator("#new-key-secret")).to_have_value(re.compile(r"^bpk_\w{38}$"))
    page.click("#copy-new-key")
    page.click("#create-done")
    rows = console.rows(
        "SELECT k.name, k.rate_limit_per_minute FROM api_keys AS k JOIN users AS u ON u.id = k.owner_id"
        " WHERE u.email = :e AND k.name = 'Key 2'",
        e=email,
    )
    assert [tuple(row) for row in rows] == [("Key 2", 30)]
