"""Notices in the console (issue 26 part 2), on a phone: a person turns email notices off with the
Account switch (`#email-notices`); a reminder and a leak report then show on the bell (beside the
menu button) and on the Notices page, with links to the key and the leak, one dismissed at a time;
and no email reaches that person (the session's SMTP server gets none for them)."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.api.conftest import utc_in, wait_for
from tests.conftest import Console
from tests.e2e.axe import serious_violations
from tests.e2e.conftest import sign_up
from tests.e2e.test_leak_reports import URL, _report
from tests.smtp_server import SmtpServer

T = 20_000
PHONE = {"width": 390, "height": 844}


def _email_statuses(console: Console, email: str) -> list[str]:
    rows = console.rows(
        "SELECT n.email_status FROM notices n JOIN users u ON u.id = n.user_id"
        " WHERE lower(u.email) = :email ORDER BY n.id",
        email=email.lower(),
    )
    return [row[0] for row in rows]


def test_email_opt_out_then_the_notices_page_and_the_bell(
    browser: Browser, console: Console, smtp_server: SmtpServer
) -> None:
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(T)
    try:
        email = sign_up(page, console)
        expect(page.locator("#nav-notices")).to_be_visible()  # in the bar, not behind the menu
        expect(page.locator("#nav-notices")).to_have_attribute("aria-label", "Notices")
        page.goto(f"{console.base_url}/account")
        switch = page.locator("#email-notices")
        expect(switch).to_have_attribute("aria-checked", "true")
        page.get_by_text("Email me these notices").click()  # the label toggles it too
        expect(switch).to_have_attribute("aria-checked", "false")
        expect(page.locator("#email-notices-state")).to_contain_text("Off: no emails")
        page.reload()
        expect(page.locator("#email-notices")).to_have_attribute("aria-checked", "false")

        console.create_key(email, "nightly", "--expires-at", utc_in(3 * 86400).isoformat())
        # the reminder comes from the expiry job's next scan: let it land before the leak, newest first
        wait_for(lambda: len(_email_statuses(console, email)) == 1, timeout=30, what="the reminder")
        _report(console, console.create_key(email, "leaky"))
        wait_for(lambda: len(_email_statuses(console, email)) == 2, timeout=30, what="two notices")
        page.goto(f"{console.base_url}/notices")
        items = page.locator("#notices-list > li")
        expect(items).to_have_count(2)
        expect(items.nth(0)).to_contain_text("Key “leaky” was reported leaked")
        expect(items.nth(0).get_by_role("link", name=URL)).to_have_attribute("href", URL)
        expect(items.nth(1)).to_contain_text("Key “nightly” expires within 7 days")
        expect(page.locator("#nav-notices-count")).to_have_text("2")
        expect(page.locator("#nav-notices")).to_have_attribute("aria-label", "Notices: 2 waiting")
        assert serious_violations(page) == []

        items.nth(0).get_by_role("button", name="Dismiss: Key “leaky” was reported leaked").click()
        expect(items).to_have_count(1)
        expect(page.locator("#nav-notices-count")).to_have_text("1")
        items.nth(0).get_by_role("link", name="Open key “nightly”").click()
        page.wait_for_url("**/w/ws_*/keys/key_*")
        expect(page.locator("#nav-notices-count")).to_have_text("1")  # read again by the new page
        page.goto(f"{console.base_url}/notices")
        page.locator("#dismiss-all-notices").click()
        expect(page.locator("#notices-empty")).to_be_visible()
        expect(page.locator("#nav-notices-count")).to_have_count(0)
    finally:
        context.close()
    assert _email_statuses(console, email) == ["opted_out", "opted_out"]
    assert smtp_server.to(email) == []
