"""The Webhooks page in a real browser (issue 26 part 1): add an endpoint (its signing secret shown
once), a key change reaches a real receiver on 127.0.0.1 that checks the signature, the delivery
log shows it, Redeliver sends it again; axe finds no serious violation on the page and its
dialogs, on a desktop and on a phone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import Console
from tests.e2e.axe import serious_violations
from tests.e2e.conftest import sign_up
from tests.webhook_receiver import Receiver

T = 30_000
VIEWPORTS = {"desktop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


def _no_violations(page: Page, label: str) -> None:
    expect(page.locator("[data-sonner-toast]")).to_have_count(0, timeout=T)
    page.wait_for_timeout(300)
    page.mouse.move(0, 0)
    assert serious_violations(page) == [], label


@pytest.mark.parametrize("screen", ["desktop", "phone"])
def test_add_an_endpoint_see_a_delivery_and_redeliver(
    page: Page, console: Console, receiver: Receiver, screen: str
) -> None:
    page.set_viewport_size(VIEWPORTS[screen])
    email = sign_up(page, console)
    workspace = page.url.split("/w/", 1)[1].split("/", 1)[0]
    page.goto(f"{console.base_url}/w/{workspace}/webhooks")
    expect(page.locator("#webhooks-empty")).to_be_visible(timeout=T)
    _no_violations(page, "empty page")

    page.click("#webhooks-add")
    page.fill("#webhook-url", receiver.url)
    expect(page.locator("#webhook-events")).to_be_visible(timeout=T)
    _no_violations(page, "add dialog")
    page.click("#webhook-save")
    secret_field = page.locator("#webhook-secret")
    expect(secret_field).not_to_have_value("", timeout=T)
    secret = secret_field.input_value()
    assert secret.startswith("whsec_")
    receiver.secret = secret
    _no_violations(page, "secret shown")
    if screen == "phone":
        box = page.locator("#copy-webhook-secret").bounding_box()
        assert box is not None and box["x"] + box["width"] <= 390 and box["height"] >= 44
    page.click("#copy-webhook-secret")
    page.click("#webhook-done")
    expect(page.locator("#webhook-dialog")).to_have_count(0, timeout=T)
    assert secret not in page.content()  # shown once: gone with the dialog

    row = page.locator("[id^=webhook-row-whep_]").first
    expect(row).to_contain_text(receiver.url, timeout=T)
    endpoint_id = (row.get_attribute("id") or "").removeprefix("webhook-row-")
    console.create_key(email, "watched")
    [delivered] = receiver.wait_for(lambda r: r.deliveries)
    assert delivered.verified and delivered.event_type == "key.created"
    delivery_id = delivered.headers["webhook-id"]

    page.click(f"#webhook-deliveries-{endpoint_id}")
    status = page.locator(f"#webhook-delivery-status-{delivery_id}")
    for _ in range(20):  # the log is written right after the receiver answered
        if "Delivered" in (status.text_content(timeout=T) or ""):
            break
        page.click("#webhook-deliveries-refresh")
        page.wait_for_timeout(500)
    expect(status).to_contain_text("Delivered", timeout=T)
    expect(page.locator(f"#webhook-delivery-{delivery_id}")).to_contain_text("200")
    _no_violations(page, "delivery log")
    if screen == "phone":
        box = page.locator(f"#webhook-redeliver-{delivery_id}").bounding_box()
        assert box is not None and box["height"] >= 44
    page.click(f"#webhook-redeliver-{delivery_id}")
    receiver.wait_for(lambda r: len(r.deliveries) >= 2)
    assert [d.headers["webhook-id"] for d in receiver.deliveries] == [delivery_id, delivery_id]
    assert all(d.verified for d in receiver.deliveries)


def test_the_nav_leads_to_webhooks(page: Page, console: Console) -> None:
    sign_up(page, console)
    page.click("#nav-webhooks")
    page.wait_for_url("**/webhooks", timeout=T)
    expect(page.locator("#webhooks-add")).to_be_visible(timeout=T)
