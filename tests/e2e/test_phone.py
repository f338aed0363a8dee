"""Issue 22, items 8 and 10 on a 390x844 phone: every visible control is at least 44x44 px on every
page and dialog, no page scrolls sideways (tables are card lists), a keys card is compact, Escape
closes the navigation menu, and a key row's "…" menu (Edit, Roll key…, Delete in words) works by
keyboard on a desktop and on a phone."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, expect

from tests.conftest import PASSWORD, Console
from tests.e2e.conftest import choose, only_key_id, sign_in

# Drawn the same on every backend: the PostgreSQL + Redis pass of scripts/test skips it.
pytestmark = pytest.mark.presentation

T = 20_000
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 768}
MIN_TARGET = 44
CARD_MAX_HEIGHT = 200

# Every visible interactive element, measured as the target a finger hits: a text input by its
# field, a checkbox, radio or switch by its label, a slider by its root. Exempt (WCAG 2.5.5): a link
# inside a sentence, and anything hidden from assistive technology (Radix's native <select> shadow) or
# inside a toast.
_SMALL_TARGETS = """(min) => {
  const selector = 'button, a[href], input:not([type=hidden]), select, textarea, [role=button],'
    + ' [role=combobox], [role=checkbox], [role=radio], [role=switch], [role=slider], [role=menuitem],'
    + ' [role=option], [role=tab], [tabindex]:not([tabindex="-1"])';
  const out = [];
  for (const el of document.querySelectorAll(selector)) {
    if (el.closest('[aria-hidden=true], [inert], [data-sonner-toaster]')) continue;
    if (!el.checkVisibility({visibilityProperty: true, opacityProperty: true})) continue;
    let r = el.getBoundingClientRect();
    if (r.width <= 1 || r.height <= 1) continue;
    if (el.matches('a') && el.parentElement) {
      const own = (el.textContent || '').trim().length;
      const around = (el.parentElement.textContent || '').trim().length;
      if (el.parentElement.matches('p, span, li') && around > own) continue;  // inside a sentence
    }
    if (el.matches('[role=radiogroup], [role=group], [role=menu], [role=listbox], [role=dialog],'
      + ' [role=alertdialog], main, [role=tablist]')) continue;  // a container, not a target
    const field = el.closest('.rt-TextFieldRoot');  // a tap anywhere on the field focuses its input
    if (field) r = field.getBoundingClientRect();
    const label = el.closest('label');
    const byLabel = '[role=checkbox], [role=radio], [role=switch], input';
    if (label && el.matches(byLabel)) r = label.getBoundingClientRect();
    if (el.matches('[role=slider]')) {
      const track = el.closest('.rt-SliderRoot');
      if (track) r = track.getBoundingClientRect();
    }
    if (r.width + 0.5 < min || r.height + 0.5 < min) {
      const name = el.getAttribute('aria-label') || (el.textContent || '').trim().slice(0, 30)
        || el.getAttribute('placeholder') || '';
      out.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''} "${name}"`
        + ` ${Math.round(r.width)}x${Math.round(r.height)}`);
    }
  }
  return out;
}"""

_OVERFLOW = """() => {
  const main = document.querySelector('main');
  const doc = document.documentElement;
  const out = [];
  if (doc.scrollWidth > doc.clientWidth) out.push(`page ${doc.scrollWidth} > ${doc.clientWidth}`);
  if (main && main.scrollWidth > main.clientWidth) out.push(`main ${main.scrollWidth} > ${main.clientWidth}`);
  for (const box of document.querySelectorAll('main *')) {  // a scroll box hiding columns
    const style = getComputedStyle(box);
    if (['auto', 'scroll'].includes(style.overflowX) && box.scrollWidth > box.clientWidth + 1)
      out.push(`${box.tagName.toLowerCase()}${box.id ? '#' + box.id : ''}.${box.className} scrolls sideways`);
  }
  return out;
}"""


class Measurer:
    """Measures one state after another; the test fails at the end listing every offender."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.found: dict[str, list[str]] = {}
        self.measured: list[str] = []

    def check(self, label: str, *, overflow: bool = True) -> None:
        self.page.wait_for_timeout(300)  # a dialog's or menu's opening animation
        self.measured.append(label)
        found = self.page.evaluate(_SMALL_TARGETS, MIN_TARGET)
        if overflow:
            found += self.page.evaluate(_OVERFLOW)
        if found:
            self.found[label] = found

    def dialog(self, label: str, opener: str, ready: str) -> None:
        self.page.locator(opener).first.click()
        expect(self.page.locator(ready).first).to_be_visible(timeout=T)
        self.check(label, overflow=False)
        self.page.keyboard.press("Escape")
        expect(self.page.get_by_role("dialog")).to_have_count(0, timeout=T)
        expect(self.page.get_by_role("alertdialog")).to_have_count(0, timeout=T)


def open_nav(page: Page) -> None:
    if page.locator("#nav-toggle").get_attribute("aria-expanded") != "true":
        page.locator("#nav-toggle").click()
    expect(page.locator("#nav-keys")).to_be_visible(timeout=T)


def go(page: Page, nav_id: str, ready: str) -> None:
    """Follow a navigation link as a phone user does: through the menu."""
    open_nav(page)
    page.locator(f"#{nav_id}").click()
    expect(page.locator(ready).first).to_be_visible(timeout=T)


def add_member(console: Console, workspace_public_id: str, email: str, role: str = "member") -> None:
    engine = sa.create_engine(console.database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO memberships (workspace_id, user_id, role, created_at)"
                    " SELECT w.id, u.id, :role, CURRENT_TIMESTAMP FROM workspaces w, users u"
                    " WHERE w.public_id = :workspace AND lower(u.email) = :email"
                ),
                {"workspace": workspace_public_id, "email": email.lower(), "role": role},
            )
    finally:
        engine.dispose()


def test_every_control_is_thumb_sized_and_nothing_scrolls_sideways(
    browser: Browser, console: Console
) -> None:
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(T)
    measure = Measurer(page)

    page.goto(f"{console.base_url}/sign-in")
    expect(page.locator("#sign-in-submit")).to_be_visible(timeout=T)
    measure.check("sign-in")
    page.goto(f"{console.base_url}/sign-up")
    expect(page.locator("#sign-up-submit")).to_be_visible(timeout=T)
    measure.check("sign-up")

    email = f"phone-{uuid.uuid4().hex[:10]}@example.com"
    console.cli("create-user", email, "--admin", input_text=PASSWORD + "\n")
    console.cli("create-profile", email, "Strict", "--categories", "gender,age", "--action", "block")
    console.create_key(email, "phone-key", "--profile", "Strict")
    key_id = only_key_id(console, email)
    team_id = console.cli("create-workspace", email, "Phone team").stdout.strip()
    teammate = console.new_user()
    add_member(console, team_id, teammate)
    sign_in(page, console, email)

    # the keys page: cards, toolbar, pagination, the menus it opens
    expect(page.locator(f"#row-{key_id}")).to_be_visible(timeout=T)
    measure.check("keys")
    open_nav(page)
    measure.check("navigation menu")
    page.keyboard.press("Escape")
    expect(page.locator("#nav-keys")).to_be_hidden(timeout=T)
    page.locator("#status-filter").click()
    expect(page.get_by_role("listbox")).to_be_visible(timeout=T)
    measure.check("status filter options", overflow=False)
    page.keyboard.press("Escape")
    expect(page.get_by_role("listbox")).to_have_count(0, timeout=T)
    page.locator(f"#actions-{key_id}").click()
    expect(page.get_by_role("menu")).to_be_visible(timeout=T)
    measure.check("row actions menu", overflow=False)
    page.keyboard.press("Escape")
    expect(page.get_by_role("menu")).to_have_count(0, timeout=T)
    measure.dialog("create key", "#create-key-button", "#create-name")
    measure.dialog("help", "#open-help", "#help-status-table")
    measure.dialog("edit key", f"#edit-{key_id}", "#edit-name")
    measure.dialog("delete key", f"#delete-{key_id}", "#delete-warning")
    measure.dialog("roll key", f"#roll-{key_id}", "#roll-submit")
    page.locator("#create-key-button").click()
    page.locator("#create-submit").click()
    expect(page.locator("#new-key-secret")).to_be_visible(timeout=T)
    measure.check("new key reveal", overflow=False)
    page.locator("#copy-new-key").click()
    page.locator("#create-done").click()
    expect(page.get_by_role("dialog")).to_have_count(0, timeout=T)

    page.locator(f"#link-{key_id}").click()
    expect(page.locator("#detail-name")).to_be_visible(timeout=T)
    expect(page.locator("#key-events tbody tr").first).to_be_visible(timeout=T)
    measure.check("key page")

    go(page, "nav-profiles", "[id^='profile-row-']")
    measure.check("profiles")
    measure.dialog("create profile", "#create-profile-button", "#profile-name")
    measure.dialog("edit profile", "[id^='edit-profile-']", "#profile-name")
    measure.dialog("delete profile", "[id^='delete-profile-']", "#profile-delete-cancel")

    go(page, "nav-activity", "#activity-filter")
    measure.check("activity")

    go(page, "nav-tokens", "#create-token-button")
    measure.check("tokens")
    measure.dialog("create token", "#create-token-button", "#token-name")

    go(page, "nav-members", "#members-table")
    measure.check("members of a personal workspace")
    open_nav(page)
    choose(page, "#workspace-switcher", "Phone team (owner)")
    expect(page.locator("#members-table tbody tr")).to_have_count(2, timeout=T)
    measure.check("members and workspace settings of a team")
    measure.dialog("delete workspace", "#workspace-delete-open", "#workspace-delete-name")
    page.locator("#invite-open").click()
    page.locator("#invite-submit").click()
    expect(page.locator("#invite-link")).to_be_visible(timeout=T)
    measure.check("invitation link", overflow=False)
    page.locator("#invite-done").click()
    expect(page.locator("#invitations-table tbody tr")).to_have_count(1, timeout=T)
    measure.check("members with a pending invitation")
    open_nav(page)
    measure.dialog("new workspace", "#new-workspace", "#new-workspace-name")

    go(page, "nav-admin", "#admin-users")
    measure.check("admin")
    open_nav(page)
    page.locator("#signed-in-email").click()
    expect(page.locator("#account-submit")).to_be_visible(timeout=T)
    measure.check("account")
    context.close()

    assert len(measure.measured) >= 28, measure.measured
    assert not measure.found, "controls under 44x44 px or sideways scrolling at 390 px:\n" + "\n".join(
        f"{label}: {item}" for label, items in measure.found.items() for item in items
    )


def test_keys_cards_are_compact_and_every_table_is_a_card_list(browser: Browser, console: Console) -> None:
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(T)
    email = f"cards-{uuid.uuid4().hex[:10]}@example.com"
    console.cli("create-user", email, "--admin", input_text=PASSWORD + "\n")
    console.cli(
        "create-profile", email, "A rather long profile name", "--categories", "age", "--action", "flag"
    )
    console.create_key(
        email, "a-key-with-a-fairly-long-name-for-a-phone", "--profile", "A rather long profile name"
    )
    console.create_key(email, "short")
    sign_in(page, console, email)

    rows = page.locator("#keys-table tbody tr")
    expect(rows).to_have_count(2, timeout=T)
    expect(page.locator("#keys-table thead")).to_be_hidden()
    for index in range(2):
        row = rows.nth(index)
        box = row.bounding_box()
        assert box and box["height"] <= CARD_MAX_HEIGHT, box
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
        # the seed's columns are all on the card, with the row's actions
        for part in ("status", "masked", "last-used", "profile"):
            expect(row.locator(f"[id^='{part}-key_']")).to_be_visible()
        expect(row.locator("[id^='edit-key_']")).to_be_visible()
        expect(row.locator("[id^='delete-key_']")).to_be_visible()
        expect(row.locator("[id^='actions-key_']")).to_be_visible()
    # name and status share the first line
    first = rows.first
    name, status = (
        first.locator("[id^='name-key_']").bounding_box(),
        first.locator("[id^='status-key_']").bounding_box(),
    )
    assert (
        name and status and abs((name["y"] + name["height"] / 2) - (status["y"] + status["height"] / 2)) < 12
    )

    # Members, Admin and the key page's Activity are card lists too: no table wider than the page
    for nav_id, table in (("nav-members", "#members-table"), ("nav-admin", "#admin-users")):
        go(page, nav_id, table)
        expect(page.locator(f"{table} thead")).to_be_hidden()
        assert page.evaluate(_OVERFLOW) == []
    go(page, "nav-keys", "#keys-table")
    page.locator("[id^='link-key_']").first.click()
    expect(page.locator("#key-events tbody tr").first).to_be_visible(timeout=T)
    expect(page.locator("#key-events thead")).to_be_hidden()
    assert page.evaluate(_OVERFLOW) == []
    context.close()


def test_escape_closes_the_menu_and_returns_focus_to_its_button(browser: Browser, console: Console) -> None:
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(T)
    email = console.new_user()
    sign_in(page, console, email)
    toggle = page.locator("#nav-toggle")
    toggle.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#nav-keys")).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    page.locator("#nav-activity").focus()  # focus inside the menu, as after tabbing into it
    page.keyboard.press("Escape")
    expect(page.locator("#nav-keys")).to_be_hidden()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(toggle).to_be_focused()
    context.close()


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_the_row_actions_menu_works_by_keyboard(browser: Browser, console: Console, device: str) -> None:
    context = browser.new_context(viewport=PHONE if device == "phone" else DESKTOP)
    page = context.new_page()
    page.set_default_timeout(T)
    email = console.new_user()
    console.create_key(email, "menu-key")
    key_id = only_key_id(console, email)
    sign_in(page, console, email)

    trigger = page.locator(f"#actions-{key_id}")
    expect(trigger).to_have_attribute("aria-label", "Actions for menu-key")
    # the seed's pencil and trash stay on the row beside the menu
    expect(page.locator(f"#edit-{key_id}")).to_be_visible()
    expect(page.locator(f"#delete-{key_id}")).to_be_visible()

    trigger.focus()
    page.keyboard.press("Enter")
    menu = page.get_by_role("menu")
    expect(menu).to_be_visible()
    items = menu.get_by_role("menuitem")
    expect(items).to_have_text(["Edit", "Roll key…", "Delete"])
    expect(items.first).to_be_focused()
    page.keyboard.press("Escape")
    expect(menu).to_have_count(0)
    expect(trigger).to_be_focused()

    # Edit: the first item
    page.keyboard.press("Enter")
    expect(page.locator(f"#menu-edit-{key_id}")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#edit-dialog")).to_be_visible()
    expect(page.locator("#edit-name")).to_have_value("menu-key")
    page.keyboard.press("Escape")
    expect(page.locator("#edit-dialog")).to_have_count(0)
    expect(trigger).to_be_focused()

    # Roll key…: one step down
    page.keyboard.press("ArrowDown")  # opens the menu on its first item
    expect(page.locator(f"#menu-edit-{key_id}")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(page.locator(f"#menu-roll-{key_id}")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#roll-dialog")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#roll-dialog")).to_have_count(0)
    expect(trigger).to_be_focused()

    # Delete: the last item, then the warning's "Delete"
    page.keyboard.press("Enter")
    page.keyboard.press("End")
    expect(page.locator(f"#menu-delete-{key_id}")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("alertdialog")).to_contain_text("permanent")
    page.get_by_role("button", name="Delete", exact=True).click()
    expect(page.locator(f"#row-{key_id}")).to_have_count(0)
    context.close()
