"""Issue 22 items 4 and 9 on a desktop (1366x768) and a phone (390x844): the rotation assistant
waits for a quiet period and Expire now asks first; Leave, deleting a profile in use and the
viewers' empty states say what is possible before any click instead of failing after it."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, expect

from rxapp.models import ApiKey
from rxapp.services import rolling
from tests.conftest import PASSWORD, Console
from tests.e2e.conftest import key_ids, only_key_id, sign_up

T = 20_000
VIEWPORTS = {"desktop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(params=list(VIEWPORTS))
def device(request: pytest.FixtureRequest, browser: Browser):
    contexts = []

    def new_page() -> Page:
        context = browser.new_context(viewport=VIEWPORTS[request.param])
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(T)
        return page

    yield new_page
    for context in contexts:
        context.close()


def _on_screen(page: Page, selector: str) -> None:
    element = page.locator(selector)
    expect(element).to_be_visible(timeout=T)
    element.scroll_into_view_if_needed()
    box = element.bounding_box()
    width = page.viewport_size["width"]  # type: ignore[index]
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= width + 1, (selector, box, width)


def _used_at(console: Console, key_id: str) -> tuple:
    rows = console.rows("SELECT last_used_at, first_used_at FROM api_keys WHERE key_id = :k", k=key_id)
    return tuple(rows[0])


def _wait_flushed(console: Console, *key_ids: str) -> None:
    """Last Used is write-behind: wait until the calls reached the database (a poll, not a sleep)."""
    deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=20)
    while any(_used_at(console, key_id)[0] is None for key_id in key_ids):
        assert dt.datetime.now(dt.UTC) < deadline, "Last Used never flushed"


def _set_used(console: Console, key_id: str, **values: dt.datetime) -> None:
    """Move Last Used / first use back in time: what the console would see after a quiet wait."""
    table = ApiKey.__table__
    engine = sa.create_engine(console.database_url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.update(table).where(table.c.key_id == key_id).values(**values))
    finally:
        engine.dispose()


def test_the_assistant_waits_for_a_quiet_period_and_expire_now_asks_first(device, console: Console) -> None:
    page = device()
    email = sign_up(page, console)
    old_secret = console.create_key(email, "checkout-service")
    old_id = only_key_id(console, email)
    new_secret = console.cli("roll-key", email, old_id, "--grace", "1h").stdout.strip()
    new_id = next(key for key in key_ids(console, email) if key != old_id)
    # the case: the old key called a second before (or just after) the new key's first use
    assert console.verify(old_secret).json()["valid"] is True
    assert console.verify(new_secret).json()["valid"] is True
    page.goto(f"{console.base_url}/keys/{old_id}")
    assistant = page.locator("#rotation-assistant")
    quiet = rolling.QUIET_PERIOD_LABEL
    expect(assistant).to_contain_text(f"safe once it has been quiet for {quiet} after the new key", timeout=T)
    expect(assistant).not_to_contain_text("safe to expire now")
    expect(page.locator("#rotation-quiet-rule")).to_contain_text(f"no call on the old key for {quiet}")
    expect(page.locator("#expire-now")).to_have_count(0)

    # the quiet period passes (Last Used moved back in the database, as time would have done)
    _wait_flushed(console, old_id, new_id)
    now = dt.datetime.now(dt.UTC)
    _set_used(console, old_id, last_used_at=now - rolling.QUIET_PERIOD - dt.timedelta(minutes=5))
    _set_used(
        console,
        new_id,
        first_used_at=now - rolling.QUIET_PERIOD - dt.timedelta(minutes=4),
        last_used_at=now - dt.timedelta(minutes=1),
    )
    expect(assistant).to_contain_text("safe to expire now", timeout=T)
    expect(page.locator("#rotation-quiet-rule")).to_be_visible()

    # Expire now asks first; Cancel leaves the key working
    _on_screen(page, "#expire-now")
    page.click("#expire-now")
    dialog = page.locator("#expire-now-dialog")
    expect(dialog).to_contain_text(old_id, timeout=T)
    _on_screen(page, "#expire-now-confirm")
    page.click("#expire-now-cancel")
    expect(dialog).to_have_count(0, timeout=T)
    assert console.verify(old_secret).json()["valid"] is True
    page.click("#expire-now")
    page.click("#expire-now-confirm")
    expect(page.get_by_text(f"{old_id} is expired")).to_be_visible(timeout=T)
    assert console.verify(old_secret).json()["code"] == "EXPIRED"
    assert console.verify(new_secret).json()["valid"] is True


def test_leave_and_deleting_a_profile_in_use_are_explained_before_the_click(device, console: Console) -> None:
    page = device()
    email = sign_up(page, console)
    # Leave is not offered on a personal workspace: the reason is in the row instead
    page.goto(f"{console.base_url}/members")
    expect(page.locator("#member-leave-note")).to_contain_text("personal workspace", timeout=T)
    expect(page.locator("[id^='member-remove-']")).to_have_count(0)
    _on_screen(page, "#member-leave-note")

    # a profile two keys use: the dialog says so before any click, and has no Delete
    console.cli("create-profile", email, "hiring-strict")
    console.create_key(email, "recruiting", "--profile", "hiring-strict")
    console.create_key(email, "screening", "--profile", "hiring-strict")
    page.goto(f"{console.base_url}/profiles")
    delete = page.get_by_role("button", name="Delete hiring-strict")
    expect(delete).to_be_visible(timeout=T)
    delete.click()
    notice = page.locator("#profile-delete-in-use")
    expect(notice).to_have_text(
        re.compile(r"^2 API keys use it; move them to another profile first"), timeout=T
    )
    _on_screen(page, "#profile-delete-in-use")
    expect(page.locator("#profile-delete-confirm")).to_have_count(0)
    page.click("#profile-delete-cancel")
    expect(notice).to_have_count(0, timeout=T)
    # an unused profile keeps its Delete
    console.cli("create-profile", email, "unused")
    page.reload()
    page.get_by_role("button", name="Delete unused").click()
    expect(page.locator("#profile-delete-confirm")).to_be_visible(timeout=T)
    expect(page.locator("#profile-delete-in-use")).to_have_count(0)
    page.click("#profile-delete-confirm")
    expect(page.get_by_text("Deleted bias profile unused")).to_be_visible(timeout=T)


def _join_as_viewer(page: Page, console: Console, owner: str, team: str) -> None:
    link = console.cli(
        "invite", owner, team, "--role", "viewer", "--base-url", console.base_url
    ).stdout.strip()
    page.goto(link)
    expect(page.locator("#invitation-workspace")).to_have_text(team, timeout=T)
    page.click("#invitation-sign-up")
    email = f"viewer-{re.sub(r'[^a-z0-9]', '', link[-12:].lower())}@example.com"
    page.fill("#sign-up-email", email)
    page.fill("#sign-up-password", PASSWORD)
    page.fill("#sign-up-confirm", PASSWORD)
    page.click("#sign-up-submit")
    page.wait_for_url(re.compile(r".*/keys/?\?joined="), timeout=T)
    expect(page.locator("#signed-in-email")).to_have_text(email, timeout=T)
    # joining lands in the team's workspace (issue 22 item 1)
    expect(page.locator("#workspace-switcher")).to_have_text(f"{team} (viewer)", timeout=T)


def test_a_viewers_empty_pages_say_whom_to_ask_instead_of_inviting_to_create(
    device, console: Console
) -> None:
    owner = console.new_user()
    console.cli("create-workspace", owner, "Readers")
    page = device()
    _join_as_viewer(page, console, owner, "Readers")
    for path, box, button in (
        ("/keys", "#keys-empty", "#create-key-button"),
        ("/profiles", "#profiles-empty", "#create-profile-button"),
        ("/tokens", "#tokens-empty", "#create-token-button"),
    ):
        page.goto(f"{console.base_url}{path}")
        text = page.locator(f"{box}-text")
        expect(text).to_contain_text("viewer role", timeout=T)
        expect(text).to_contain_text("Ask one of them")
        expect(text).not_to_contain_text("Create")
        expect(page.locator(f"{box} button")).to_have_count(0)
        expect(page.locator(button)).to_have_count(0)
        _on_screen(page, f"{box}-text")
    # the owner's own empty page still invites them to create
    owner_page = device()
    owner_page.goto(f"{console.base_url}/sign-in")
    owner_page.fill("#sign-in-email", owner)
    owner_page.fill("#sign-in-password", PASSWORD)
    owner_page.click("#sign-in-submit")
    owner_page.wait_for_url(re.compile(r".*/keys/?$"))
    expect(owner_page.locator("#keys-empty-text")).to_contain_text("Create a key", timeout=T)
    expect(owner_page.locator("#create-first-key")).to_be_visible()
