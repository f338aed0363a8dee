"""Issue 22, item 10 (the smaller items), on a desktop (1366x768) and a phone (390x844): page jump
and page size; pending invitations say for whom, in the reader's local time; a token's expiry is
the end of that day in the reader's zone, as a key's end date is; the admin's true last sign-in,
Personal workspaces told apart, no Disable on one's own row; deleting a workspace by its name."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import PASSWORD, Console
from tests.e2e.axe import serious_violations
from tests.e2e.conftest import choose, seed_keys, sign_in, sign_up, table_rows

T = 30_000
ZONE = "Asia/Tokyo"  # the reader's zone in these tests: nine hours from UTC, never UTC itself
VIEWPORTS = {"desktop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(params=list(VIEWPORTS))
def device(request: pytest.FixtureRequest, browser: Browser):
    contexts = []

    def new_page() -> Page:
        context = browser.new_context(viewport=VIEWPORTS[request.param], timezone_id=ZONE)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(T)
        return page

    new_page.phone = request.param == "phone"  # type: ignore[attr-defined]
    yield new_page
    for context in contexts:
        context.close()


def _thumb_sized(page: Page, selector: str) -> None:
    """On a phone a control is at least 44 px tall and lies within the screen."""
    element = page.locator(selector)
    element.scroll_into_view_if_needed()
    box = element.bounding_box()
    width = page.viewport_size["width"]  # type: ignore[index]
    assert box and box["height"] >= 44 - 0.5, (selector, box)
    assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1, (selector, box, width)


def _jump(page: Page, number: int) -> None:
    page.fill("#pagination-page-input", str(number))
    page.press("#pagination-page-input", "Enter")


def _local(instant: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return dt.datetime.fromisoformat(instant).astimezone(ZoneInfo(ZONE)).strftime(fmt)


def _switch_to(page: Page, workspace: str) -> None:
    """The switcher sits behind the menu button on a phone."""
    toggle = page.locator("#nav-toggle")
    if toggle.is_visible() and toggle.get_attribute("aria-expanded") != "true":
        toggle.click()
    before = _workspace_prefix(page.url)
    choose(page, "#workspace-switcher", f"{workspace} (owner)")
    expect(page.locator("#workspace-switcher")).to_have_text(f"{workspace} (owner)", timeout=T)
    # the switcher opens the same page in the chosen workspace: wait for its address
    page.wait_for_url(lambda url: _workspace_prefix(url) not in ("", before), timeout=T)


def _workspace_prefix(url: str) -> str:
    found = re.search(r"/w/[^/?#]+", url)
    return found.group(0) if found else ""


def _goto_in_workspace(page: Page, console: Console, path: str) -> None:
    """A page of the tab's workspace, by the address that carries it (shareable links)."""
    page.goto(f"{console.base_url}{_workspace_prefix(page.url)}{path}")


# ---------------------------------------------------------------- pagination


def test_page_jump_and_page_size_reach_page_80_of_2000_keys_in_one_step(device, console: Console) -> None:
    page = device()
    email = sign_up(page, console)
    seed_keys(console, email, [f"bulk-{index:04d}" for index in range(2000)])
    page.reload()
    expect(page.locator("#keys-total")).to_have_text("2000 keys", timeout=T)
    expect(page.locator("#page-indicator")).to_have_text("Page 1 of 80")

    _jump(page, 80)
    expect(page.locator("#page-indicator")).to_have_text("Page 80 of 80", timeout=T)
    expect(page.locator("#page-next")).to_be_disabled()
    expect(table_rows(page)).to_have_count(25)
    expect(table_rows(page).first).to_contain_text("bulk-0024")  # newest first: the oldest 25 last

    _jump(page, 999)  # past the end: the last page
    expect(page.locator("#page-indicator")).to_have_text("Page 80 of 80", timeout=T)
    _jump(page, 40)
    expect(page.locator("#page-indicator")).to_have_text("Page 40 of 80", timeout=T)

    choose(page, "#pagination-page-size", "100")
    expect(page.locator("#page-indicator")).to_have_text("Page 1 of 20", timeout=T)
    expect(table_rows(page)).to_have_count(100)
    page.fill("#pagination-page-input", "20")
    page.click("#pagination-page-go")
    expect(page.locator("#page-indicator")).to_have_text("Page 20 of 20", timeout=T)
    choose(page, "#pagination-page-size", "50")
    expect(page.locator("#page-indicator")).to_have_text("Page 1 of 40", timeout=T)

    if device.phone:
        for selector in (
            "#pagination-page-input",
            "#pagination-page-size",
            "#pagination-page-go",
            "#page-next",
        ):
            _thumb_sized(page, selector)
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]  # type: ignore[index]

    # the Activity page uses the same pagination: its size choice and page jump are there too
    page.goto(f"{console.base_url}/activity")
    expect(page.locator("#activity-page-indicator")).to_have_text(re.compile(r"^Page 1 of \d+$"), timeout=T)
    choose(page, "#pagination-page-size", "25")
    expect(page.locator("#pagination-page-size")).to_have_text("25", timeout=T)
    expect(page.locator("#pagination-page-input")).to_be_visible()
    assert serious_violations(page) == []


# ---------------------------------------------------------------- invitations say for whom, local time


def test_a_pending_invitation_says_for_whom_in_local_time(device, console: Console) -> None:
    page = device()
    owner = sign_up(page, console)
    console.cli("create-workspace", owner, "Guests")
    _switch_to(page, "Guests")
    _goto_in_workspace(page, console, "/members")
    page.click("#invite-open")
    expect(page.locator("#invite-note")).to_be_visible(timeout=T)
    assert serious_violations(page) == []
    if device.phone:
        _thumb_sized(page, "#invite-note")
    page.fill("#invite-note", "carol@example.com")
    page.click("#invite-submit")
    expect(page.locator("#invite-link")).to_have_value(re.compile(r"/invite\?token=inv_"), timeout=T)
    page.click("#invite-done")

    # one made from the CLI with no "For" at all
    console.cli("invite", owner, "Guests", "--role", "viewer")
    page.reload()
    rows = page.locator("#invitations-table tbody tr")
    expect(rows).to_have_count(2, timeout=T)
    carol = rows.filter(has_text="carol@example.com")
    expect(carol).to_have_count(1)
    expect(carol).to_contain_text("member")
    expect(rows.filter(has_text="(not said)")).to_contain_text("viewer")

    # Created and Expires: the reader's local time (Tokyo), the exact UTC time on hover
    for which in ("created", "expires"):
        cell = carol.locator(f"[id^='invitation-{which}-']")
        instant = cell.get_attribute("data-instant") or ""
        assert instant, which
        expect(cell).to_have_text(_local(instant))
        assert (cell.get_attribute("title") or "").endswith(" UTC")
    expires = dt.datetime.fromisoformat(
        carol.locator("[id^='invitation-expires-']").get_attribute("data-instant") or ""
    )
    assert dt.timedelta(days=6, hours=23) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(days=7)


# ---------------------------------------------------------------- token expiry = a key's end date


def test_a_token_expires_at_the_end_of_the_picked_day_in_the_readers_zone(device, console: Console) -> None:
    page = device()
    email = sign_up(page, console)
    page.goto(f"{console.base_url}/tokens")
    page.click("#create-token-button")
    expect(page.locator("#token-name")).to_be_visible(timeout=T)
    expect(page.get_by_text("works through the end of that day, your time")).to_be_visible()
    day = (dt.datetime.now(ZoneInfo(ZONE)) + dt.timedelta(days=10)).date()
    page.fill("#token-name", "ci")
    page.fill("#token-expires", day.isoformat())
    expect(page.locator("#token-expires-end")).to_have_text(f"{day.isoformat()} 23:59", timeout=T)
    expect(page.locator("#token-expires-preview")).to_contain_text("your time (the end of that day)")
    assert serious_violations(page) == []
    page.click("#token-submit")
    expect(page.locator("#new-token-secret")).to_be_visible(timeout=T)

    # stored as the last second of that day in Tokyo, exactly what a key's end date would be
    expected = dt.datetime.combine(
        day + dt.timedelta(days=1), dt.time(), tzinfo=ZoneInfo(ZONE)
    ) - dt.timedelta(seconds=1)
    (stored,) = console.rows(
        "SELECT t.expires_at FROM management_tokens t JOIN users u ON u.id = t.creator_id"
        " WHERE lower(u.email) = :email",
        email=email.lower(),
    )[0]
    stored = stored if isinstance(stored, dt.datetime) else dt.datetime.fromisoformat(str(stored))
    stored = stored.replace(tzinfo=dt.UTC) if stored.tzinfo is None else stored
    assert stored == expected.astimezone(dt.UTC)


# ---------------------------------------------------------------- the admin page


def test_the_admin_sees_true_last_sign_ins_told_apart_personal_workspaces_and_no_self_disable(
    device, console: Console
) -> None:
    admin = f"admin-{uuid.uuid4().hex[:10]}@example.com"
    console.cli("create-user", admin, "--admin", input_text=PASSWORD + "\n")
    user_page = device()
    user = sign_up(user_page, console)  # signed in by signing up: that is a sign-in too

    page = device()
    sign_in(page, console, admin)
    page.goto(f"{console.base_url}/admin")
    me = page.locator("#admin-users tr", has_text=admin)
    expect(me).to_have_count(1, timeout=T)
    expect(me.get_by_role("button", name="Disable")).to_have_count(0)
    expect(me.locator("[id^='admin-self-']")).to_have_text("You")
    other = page.locator("#admin-users tr", has_text=user)
    for row in (me, other):
        sign_in_cell = row.locator("[id^='admin-last-sign-in-'] .local-time")
        instant = sign_in_cell.get_attribute("data-instant") or ""
        assert instant, "last sign-in must be recorded"
        assert dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(instant) < dt.timedelta(minutes=10)
        expect(sign_in_cell).to_have_text(_local(instant))

    workspaces = page.locator("#admin-workspaces")
    expect(workspaces).to_contain_text(f"Personal ({admin})")
    expect(workspaces).to_contain_text(f"Personal ({user})")
    if device.phone:
        other.get_by_role("button", name="Disable").scroll_into_view_if_needed()
    other.get_by_role("button", name="Disable").click()
    expect(other.get_by_role("button", name="Enable")).to_be_visible(timeout=T)
    other.get_by_role("button", name="Enable").click()
    expect(other.get_by_role("button", name="Disable")).to_be_visible(timeout=T)


# ---------------------------------------------------------------- deleting a workspace by its name


def test_deleting_a_workspace_asks_for_its_name(device, console: Console) -> None:
    page = device()
    owner = sign_up(page, console)
    name = f"Doomed {uuid.uuid4().hex[:4]}"
    console.cli("create-workspace", owner, name)
    _switch_to(page, name)
    _goto_in_workspace(page, console, "/members")
    page.click("#workspace-delete-open")
    field = page.locator("#workspace-delete-confirm-name")
    expect(field).to_be_visible(timeout=T)
    expect(page.locator("#workspace-delete-confirm")).to_be_disabled()
    assert serious_violations(page) == []
    field.fill(name.lower())
    expect(page.locator("#workspace-delete-confirm")).to_be_disabled()
    field.fill(name[:-1])
    expect(page.locator("#workspace-delete-confirm")).to_be_disabled()
    if device.phone:
        _thumb_sized(page, "#workspace-delete-confirm-name")
    field.fill(name)
    expect(page.locator("#workspace-delete-confirm")).to_be_enabled(timeout=T)
    page.click("#workspace-delete-confirm")
    expect(page.locator("#workspace-switcher")).to_have_text("Personal (owner)", timeout=T)
    assert console.rows("SELECT id FROM workspaces WHERE name = :name", name=name) == []
