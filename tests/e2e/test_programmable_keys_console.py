"""Issue 24, the console part, on a desktop (1366x768) and a phone (390x844): the create dialog's
"Limits and permissions" section sets credits with a refill, a named rate limit, permissions,
metadata, an IP allowlist and an identity; verify's answer carries them; the edit dialog changes
them; the key's page shows them; the keys table filters by identity. Invalid metadata and an
invalid CIDR are refused next to their fields. The axe audit runs on the dialog with the section
open and on the key page; on a phone the section's controls are at least 44 px.
"""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import Console
from tests.e2e.axe import serious_violations
from tests.e2e.conftest import choose, only_key_id, sign_up

T = 30_000
VIEWPORTS = {"desktop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(params=list(VIEWPORTS))
def device(request: pytest.FixtureRequest, browser: Browser):
    context = browser.new_context(viewport=VIEWPORTS[request.param])
    page = context.new_page()
    page.set_default_timeout(T)
    yield page
    context.close()


def _no_violations(page: Page, where: str) -> None:
    expect(page.locator("[data-sonner-toast]")).to_have_count(0, timeout=T)
    page.wait_for_function("() => document.getAnimations().every((a) => a.playState !== 'running')")
    found = serious_violations(page)
    assert found == [], (where, found)


def _thumb_sized(page: Page, *selectors: str) -> None:
    width = page.viewport_size["width"]  # type: ignore[index]
    for selector in selectors:
        element = page.locator(selector)
        element.scroll_into_view_if_needed()
        box = element.bounding_box()
        assert box and box["height"] >= 44 and box["width"] >= 44, (selector, box)
        assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1, (selector, box, width)


def _verify(console: Console, secret: str, body: dict) -> dict:
    answer = httpx.post(
        f"{console.base_url}/api/v1/verify",
        headers={"Authorization": f"Bearer {secret}"},
        json=body,
        timeout=10,
    )
    return answer.json()


def _refused_next_to(page: Page, control: str, text: str) -> None:
    expect(page.locator(control)).to_have_attribute("aria-invalid", "true", timeout=T)
    error = page.locator(f"label[for='{control[1:]}'] ~ [role=alert]")
    expect(error).to_contain_text(text, timeout=T)


def test_a_programmable_key_is_set_verified_edited_shown_and_filtered(device: Page, console: Console) -> None:
    page = device
    phone = page.viewport_size["width"] < 500  # type: ignore[index]
    email = sign_up(page, console)
    page.click("#create-key-button")
    page.fill("#create-name", "acme-pro")
    expect(page.locator("#key-limits")).to_be_hidden()
    page.click("#key-limits-toggle")
    expect(page.locator("#key-limits-toggle")).to_have_attribute("aria-expanded", "true")
    page.fill("#key-credits", "100")
    page.fill("#key-refill-amount", "100")
    choose(page, "#key-refill-period", "Every month, on day")
    page.fill("#key-refill-day", "15")
    page.click("#key-ratelimit-add")
    page.fill("#key-ratelimit-name-0", "requests")
    page.fill("#key-ratelimit-limit-0", "50")
    page.fill("#key-ratelimit-duration-0", "1m")
    expect(page.locator("#key-ratelimit-name-0")).to_have_value("requests")
    page.fill("#key-permission-new", "docs.read, docs.write")
    page.fill("#key-ip-allow", "127.0.0.1\n::1/128")
    page.fill("#key-identity", "acme")

    # invalid metadata: refused next to the field
    page.fill("#key-meta", '{"plan": ')
    page.click("#create-submit")
    _refused_next_to(page, "#key-meta", "JSON object")
    # an invalid CIDR: refused next to the field, naming the bad entry
    page.fill("#key-meta", '{"plan": "pro"}')
    page.fill("#key-ip-allow", "127.0.0.1\n10.0.0.300/8")
    page.click("#create-submit")
    _refused_next_to(page, "#key-ip-allow", "10.0.0.300/8")
    page.fill("#key-ip-allow", "127.0.0.1\n::1/128")

    _no_violations(page, "create dialog, limits open")
    if phone:
        _thumb_sized(
            page,
            "#key-limits-toggle",
            "#key-credits",
            "#key-refill-amount",
            "#key-refill-period",
            "#key-refill-day",
            "#key-ratelimit-add",
            "#key-ratelimit-name-0",
            "#key-ratelimit-remove-0",
            "#key-permission-new",
            "#key-identity",
        )

    page.click("#create-submit")
    box = page.locator("#new-key-secret")
    expect(box).to_have_value(re.compile(r"^bpk_"), timeout=T)
    secret = box.input_value()
    page.click("#copy-new-key")
    page.click("#create-done")
    expect(page.locator("#create-dialog")).to_have_count(0, timeout=T)
    key_id = only_key_id(console, email)

    answer = _verify(console, secret, {"permissions": "docs.read"})
    assert answer["valid"] is True, answer
    assert answer["credits"] == 99
    assert answer["meta"] == {"plan": "pro"}
    assert sorted(answer["permissions"]) == ["docs.read", "docs.write"]
    assert answer["identity"]["external_id"] == "acme"
    assert [(limit["name"], limit["limit"]) for limit in answer["ratelimits"]] == [("requests", 50)]

    # the key's page shows them, and what is left of the limit now (read, not counted)
    assert _verify(console, secret, {})["ratelimits"][0]["remaining"] == 48
    page.goto(f"{console.base_url}/keys/{key_id}")
    expect(page.locator("#key-page-credits")).to_have_text("98", timeout=T)
    expect(page.locator("#key-page-refill")).to_contain_text("100 every month on day 15")
    expect(page.locator("#key-page-refill")).to_contain_text("Next:")
    expect(page.locator("#key-page-ratelimits")).to_contain_text("requests: 50 per 1m")
    left = page.locator("#key-page-limit-k-requests")
    expect(left).to_contain_text("48 of 50 left", timeout=T)
    expect(left).to_contain_text("resets")
    if console.backend == "sqlite":  # the memory limiter counts per worker; Redis counts for all
        expect(page.locator("#key-page-limits-note")).to_contain_text("this worker's memory")
    else:
        expect(page.locator("#key-page-limits-note")).to_contain_text("Counted in Redis")
    page.reload()  # the page's reads never spend: still 48
    expect(page.locator("#key-page-limit-k-requests")).to_contain_text("48 of 50 left", timeout=T)
    expect(page.locator("#key-page-permissions")).to_contain_text("docs.write")
    expect(page.locator("#key-page-meta")).to_contain_text('"plan": "pro"')
    expect(page.locator("#key-page-ip-allow")).to_contain_text("127.0.0.1/32")
    expect(page.locator("#key-page-identity")).to_have_text("acme")
    _no_violations(page, "key page")

    # edit them
    page.click("#key-page-edit")
    expect(page.locator("#edit-dialog")).to_be_visible()
    page.click("#key-limits-toggle")
    expect(page.locator("#key-credits")).to_have_value("98")
    expect(page.locator("#key-identity")).to_have_value("acme")
    page.fill("#key-credits", "500")
    page.locator("#key-permissions").get_by_role("checkbox", name="docs.write").click()
    page.fill("#key-ratelimit-limit-0", "70")
    page.fill("#key-identity", "globex")
    page.fill("#key-meta", '{"plan": "team"}')
    page.click("#edit-save")
    expect(page.locator("#edit-dialog")).to_have_count(0, timeout=T)
    expect(page.locator("#key-page-credits")).to_have_text("500", timeout=T)
    expect(page.locator("#key-page-identity")).to_have_text("globex", timeout=T)
    expect(page.locator("#key-page-permissions")).not_to_contain_text("docs.write")
    expect(page.locator("#key-page-ratelimits")).to_contain_text("requests: 70 per 1m")

    answer = _verify(console, secret, {})
    assert answer["valid"] is True, answer
    assert answer["credits"] == 499
    # the page refreshes itself: the call just made shows in the limit's use
    expect(page.locator("#key-page-limit-k-requests")).to_contain_text(
        re.compile(r"\d+ of 70 left"), timeout=T
    )
    assert answer["identity"]["external_id"] == "globex"
    assert answer["meta"] == {"plan": "team"}
    assert answer["permissions"] == ["docs.read"]
    assert _verify(console, secret, {"permissions": "docs.write"})["code"] == "INSUFFICIENT_PERMISSIONS"

    # the keys table filters by identity
    console.create_key(email, "plain-key")
    page.goto(f"{console.base_url}/keys")
    expect(page.locator(f"#last-used-{key_id}")).to_have_count(1, timeout=T)
    page.fill("#keys-filter-identity", "globex")
    expect(page.get_by_text("plain-key")).to_have_count(0, timeout=T)
    expect(page.locator(f"#last-used-{key_id}")).to_have_count(1)
    page.fill("#keys-filter-identity", "acme")
    expect(page.locator("#no-matches")).to_be_visible(timeout=T)
    page.fill("#keys-filter-identity", "")
    expect(page.get_by_text("plain-key")).to_have_count(1, timeout=T)
    if phone:
        _thumb_sized(page, "#keys-filter-identity")


def test_the_permission_catalogue_adds_renames_and_deletes(device: Page, console: Console) -> None:
    page = device
    email = sign_up(page, console)
    console.create_key(email, "reader", "--permission", "docs.read")
    page.goto(f"{console.base_url}/members")
    catalogue = page.locator("#permission-catalogue")
    expect(catalogue.get_by_role("row", name=re.compile(r"docs\.read\s+1"))).to_have_count(1, timeout=T)

    page.fill("#permission-new-name", "billing.read")
    page.click("#permission-add")
    expect(catalogue.get_by_text("billing.read")).to_have_count(1, timeout=T)
    _no_violations(page, "permission catalogue")
    if page.viewport_size["width"] < 500:  # type: ignore[index]
        _thumb_sized(page, "#permission-new-name", "#permission-add")

    page.get_by_role("button", name="Rename billing.read").click()
    page.fill("#permission-rename-name", "billing.view")
    page.click("#permission-rename-submit")
    expect(page.locator("#permission-rename-dialog")).to_have_count(0, timeout=T)
    expect(catalogue.get_by_text("billing.view")).to_have_count(1, timeout=T)

    # a name keys carry is not deleted
    page.get_by_role("button", name="Delete docs.read").click()
    expect(page.locator("#permissions-error")).to_contain_text("take it off them first", timeout=T)
    page.get_by_role("button", name="Delete billing.view").click()
    expect(catalogue.get_by_text("billing.view")).to_have_count(0, timeout=T)
    expect(catalogue.get_by_text("docs.read")).to_have_count(1)


@pytest.fixture
def desktop(browser: Browser):
    context = browser.new_context(viewport=VIEWPORTS["desktop"])
    page = context.new_page()
    page.set_default_timeout(T)
    yield page
    context.close()


def test_roles_are_made_in_the_catalogue_given_to_a_key_and_followed(desktop: Page, console: Console) -> None:
    """Roles: made on the Members page (name, permissions ticked), picked in the key's Limits and
    permissions section, counted by verify; a change to the role reaches the key's next call; a
    role in use is not deleted."""
    page = desktop
    email = sign_up(page, console)
    page.goto(f"{console.base_url}/members")
    for name in ("docs.read", "docs.write"):
        page.fill("#permission-new-name", name)
        page.click("#permission-add")
        expect(page.locator("#permission-catalogue").get_by_text(name)).to_have_count(1, timeout=T)
    roles = page.locator("#role-catalogue")
    expect(page.locator("#no-roles")).to_be_visible()
    page.click("#role-new")
    expect(page.locator("#role-dialog")).to_be_visible(timeout=T)
    page.fill("#role-name", "editor")
    page.locator("#role-permissions").get_by_role("checkbox", name="docs.read").click()
    page.locator("#role-permissions").get_by_role("checkbox", name="docs.write").click()
    _no_violations(page, "role dialog")
    page.click("#role-submit")
    expect(page.locator("#role-dialog")).to_have_count(0, timeout=T)
    expect(roles.get_by_role("row", name=re.compile(r"editor\s+docs\.read, docs\.write\s+0"))).to_have_count(
        1, timeout=T
    )
    _no_violations(page, "roles part")

    # the key's section picks the role
    page.goto(f"{console.base_url}/keys")
    page.click("#create-key-button")
    page.fill("#create-name", "with-role")
    page.click("#key-limits-toggle")
    page.locator("#key-roles").get_by_role("checkbox", name="editor").click()
    _no_violations(page, "create dialog with roles")
    page.click("#create-submit")
    box = page.locator("#new-key-secret")
    expect(box).to_have_value(re.compile(r"^bpk_"), timeout=T)
    secret = box.input_value()
    page.click("#copy-new-key")
    page.click("#create-done")
    expect(page.locator("#create-dialog")).to_have_count(0, timeout=T)
    answer = _verify(console, secret, {"permissions": "docs.write"})
    assert answer["valid"] is True and answer["permissions"] == ["docs.read", "docs.write"], answer
    key_id = only_key_id(console, email)
    page.goto(f"{console.base_url}/keys/{key_id}")
    expect(page.locator("#key-page-roles")).to_have_text("editor", timeout=T)
    page.click("#key-page-edit")
    expect(page.locator("#edit-dialog")).to_be_visible()
    page.click("#key-limits-toggle")
    expect(page.locator("#key-roles").get_by_role("checkbox", name="editor")).to_be_checked()
    page.keyboard.press("Escape")

    # the role changes: the key's next call follows; in use, the role is not deleted
    page.goto(f"{console.base_url}/members")
    expect(
        roles.get_by_role("row", name=re.compile(r"editor\s+docs\.read, docs\.write\s+1\b"))
    ).to_have_count(1, timeout=T)
    page.get_by_role("button", name="Edit role editor").click()
    expect(page.locator("#role-name")).to_have_value("editor", timeout=T)
    page.locator("#role-permissions").get_by_role("checkbox", name="docs.write").click()
    page.click("#role-submit")
    expect(page.locator("#role-dialog")).to_have_count(0, timeout=T)
    expect(roles.get_by_role("row", name=re.compile(r"editor\s+docs\.read\s+1\b"))).to_have_count(
        1, timeout=T
    )
    refused = _verify(console, secret, {"permissions": "docs.write"})
    assert refused == {"valid": False, "code": "INSUFFICIENT_PERMISSIONS"}, refused
    page.get_by_role("button", name="Delete role editor").click()
    expect(page.locator("#roles-error")).to_contain_text("take it off them first", timeout=T)
    expect(roles.get_by_text("editor")).to_have_count(1)
