"""Roll a key with a grace period, watch the rotation assistant, see the calls on the detail page.
The quiet period and Expire now's confirmation: tests/e2e/test_before_the_click.py."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.conftest import Console
from tests.e2e.conftest import choose, key_ids, only_key_id, sign_up

T = 15_000


def test_roll_switch_expire_with_the_assistant_and_the_chart(page: Page, console: Console) -> None:
    email = sign_up(page, console)
    old_secret = console.create_key(email, "checkout-service")
    old_id = only_key_id(console, email)
    assert console.verify(old_secret).json()["valid"] is True
    page.reload()

    # Roll it from the row, with a 1-hour grace
    page.click(f"#roll-{old_id}")
    expect(page.locator("#roll-dialog")).to_be_visible(timeout=T)
    choose(page, "#roll-grace", "1 hour")
    page.click("#roll-submit")
    secret_box = page.locator("#new-key-secret")
    expect(secret_box).to_have_value(re.compile(r"^bpk_\w{38}$"), timeout=T)
    expect(page.locator("#reveal-note")).to_contain_text(f"Rolled from {old_id}")
    new_secret = secret_box.input_value()
    page.click("#copy-new-key")
    page.click("#create-done")
    expect(page.locator("#create-dialog")).to_have_count(0, timeout=T)
    expect(page.locator(f"#rolling-{old_id}")).to_contain_text("rolling: old key expires in", timeout=T)

    # Both secrets work during the grace period
    assert console.verify(old_secret).json()["valid"] is True
    assert console.verify(new_secret).json()["valid"] is True

    page.click(f"#link-{old_id}")
    page.wait_for_url(re.compile(rf".*/keys/{old_id}/?$"))
    expect(page.locator("#detail-name")).to_have_text("checkout-service", timeout=T)
    expect(page.locator("#rolled-to")).to_be_visible(timeout=T)
    # The new key's first call came after the old key's last one, seconds ago: not safe yet, the
    # old key must stay quiet for the quiet period first (tests/e2e/test_before_the_click.py).
    expect(page.locator("#rotation-assistant")).to_contain_text("safe once it has been quiet for", timeout=T)
    expect(page.locator("#expire-now")).to_have_count(0)
    # The calls just made show up on the chart's totals
    expect(page.locator("#usage-total-valid")).to_contain_text("2", timeout=T)

    # Something still calls the old key: the assistant says so
    assert console.verify(new_secret).json()["valid"] is True
    assert console.verify(old_secret).json()["valid"] is True
    expect(page.locator("#rotation-assistant")).to_contain_text("Both keys are in use", timeout=T)
    expect(page.locator("#usage-total-valid")).to_contain_text("3", timeout=T)

    # Roll the current key once more and switch cleanly: the assistant names the quiet period
    new_id = next(key for key in key_ids(console, email) if key != old_id)
    page.goto(f"{console.base_url}/keys")
    expect(page.locator(f"#roll-{new_id}")).to_be_visible(timeout=T)
    page.click(f"#roll-{new_id}")
    choose(page, "#roll-grace", "1 hour")
    page.click("#roll-submit")
    expect(secret_box).to_have_value(re.compile(r"^bpk_\w{38}$"), timeout=T)
    newest = secret_box.input_value()
    page.click("#copy-new-key")
    page.click("#create-done")
    assert console.verify(newest).json()["valid"] is True  # the service switched
    page.goto(f"{console.base_url}/keys/{new_id}")
    expect(page.locator("#rotation-assistant")).to_contain_text("safe once it has been quiet for", timeout=T)
    expect(page.locator("#rotation-quiet-rule")).to_contain_text("15 minutes")
    assert console.verify(new_secret).json()["valid"] is True  # still in its grace period


def test_an_expired_key_cannot_be_rolled_and_a_foreign_detail_page_is_not_found(
    page: Page, console: Console
) -> None:
    email = sign_up(page, console)
    secret = console.create_key(email, "old-one")
    key_id = only_key_id(console, email)
    console.cli("roll-key", email, key_id, "--grace", "0")
    assert console.verify(secret).json()["code"] == "EXPIRED"
    page.reload()
    expect(page.locator(f"#roll-{key_id}")).to_be_disabled(timeout=T)
    # a disabled Roll says why: in its accessible name and under the menu's words
    expect(page.locator(f"#roll-{key_id}")).to_have_attribute(
        "aria-label", re.compile("expired key cannot be rolled")
    )
    page.locator(f"#actions-{key_id}").click()
    expect(page.locator(f"#menu-roll-{key_id}")).to_contain_text("An expired key cannot be rolled", timeout=T)
    page.keyboard.press("Escape")
    other = console.new_user()
    console.create_key(other, "not-yours")
    foreign = console.cli("list-keys", other).stdout.splitlines()[1].split("\t")[0]
    page.goto(f"{console.base_url}/keys/{foreign}")
    expect(page.locator("#key-not-found")).to_be_visible(timeout=T)
    expect(page.get_by_text("not-yours")).to_have_count(0)
