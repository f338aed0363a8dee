"""Bias Profiles page, per-user isolation, and signing out."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from tests.conftest import Console
from tests.e2e.conftest import choose, only_key_id, sign_up

T = 15_000


def profile_row(page: Page, name: str):
    return page.locator("#profiles-table tbody tr", has=page.get_by_text(name, exact=True))


def edit_key_profile(page: Page, key_id: str, profile_label: str) -> None:
    page.click(f"#edit-{key_id}")
    expect(page.locator("#edit-dialog")).to_be_visible(timeout=T)
    choose(page, "#edit-profile", profile_label)
    page.click("#edit-save")
    expect(page.locator("#edit-dialog")).to_have_count(0, timeout=T)


def test_bias_profile_lifecycle(page: Page, console: Console) -> None:
    email = sign_up(page, console)
    page.click("#nav-profiles")
    page.wait_for_url(re.compile(r".*/profiles/?$"))
    expect(page.locator("#profiles-empty")).to_be_visible(timeout=T)

    page.click("#create-profile-button")
    page.fill("#profile-name", "hiring-strict")
    page.fill("#profile-description", "For the recruiting assistant")
    gender = page.get_by_role("checkbox", name="Gender")
    age = page.get_by_role("checkbox", name="Age")
    expect(gender).to_be_checked(timeout=T)  # every category is checked to start with
    gender.click()
    age.click()
    expect(gender).not_to_be_checked(timeout=T)
    expect(age).not_to_be_checked(timeout=T)
    slider = page.get_by_role("slider")
    slider.focus()
    slider.press("Home")
    expect(page.locator("#profile-sensitivity-value")).to_have_text("0", timeout=T)
    slider.press("PageUp")
    slider.press("PageUp")
    slider.press("ArrowRight")
    expect(page.locator("#profile-sensitivity-value")).to_have_text("0.21", timeout=T)
    page.get_by_role("radio", name="block").click()
    expect(page.get_by_role("radio", name="block")).to_be_checked(timeout=T)
    page.click("#profile-save")
    expect(page.get_by_text("Saved bias profile hiring-strict")).to_be_visible(timeout=T)

    row = profile_row(page, "hiring-strict")
    expect(row).to_be_visible(timeout=T)
    profile_id = row.get_attribute("id").removeprefix("profile-row-")
    expect(row.locator("td").nth(1)).to_have_text(
        "Race / ethnicity, Religion, Disability, Sexual orientation, Nationality, Socioeconomic status"
    )
    expect(row.locator("td").nth(2)).to_have_text("0.21")
    expect(row.locator("td").nth(3)).to_have_text("Block")
    expect(page.locator(f"#profile-keys-{profile_id}")).to_have_text("0")

    # Attach it to a key in the keys table.
    console.create_key(email, "recruiting-assistant")
    key_id = only_key_id(console, email)
    page.click("#nav-keys")
    expect(page.locator(f"#row-{key_id}")).to_be_visible(timeout=T)
    edit_key_profile(page, key_id, "hiring-strict")
    expect(page.locator(f"#profile-{key_id}")).to_have_text("hiring-strict", timeout=T)

    # A profile in use cannot be deleted, and the dialog says why before any click (no Delete).
    page.click("#nav-profiles")
    expect(page.locator(f"#profile-keys-{profile_id}")).to_have_text("1", timeout=T)
    page.click(f"#delete-profile-{profile_id}")
    expect(page.get_by_role("alertdialog")).to_contain_text("hiring-strict", timeout=T)
    expect(page.locator("#profile-delete-in-use")).to_contain_text(
        "1 API key uses it; move it to another profile first", timeout=T
    )
    expect(page.locator("#profile-delete-confirm")).to_have_count(0)
    page.click("#profile-delete-cancel")
    expect(profile_row(page, "hiring-strict")).to_be_visible()

    # Move the key to no profile; now the profile can go.
    page.click("#nav-keys")
    expect(page.locator(f"#row-{key_id}")).to_be_visible(timeout=T)
    edit_key_profile(page, key_id, "No profile")
    expect(page.locator(f"#profile-{key_id}")).to_have_text("None", timeout=T)
    page.click("#nav-profiles")
    expect(page.locator(f"#profile-keys-{profile_id}")).to_have_text("0", timeout=T)
    page.click(f"#delete-profile-{profile_id}")
    expect(page.locator("#profile-delete-error")).to_have_count(0, timeout=T)
    page.click("#profile-delete-confirm")
    expect(page.get_by_text("Deleted bias profile hiring-strict")).to_be_visible(timeout=T)
    expect(page.locator("#profiles-empty")).to_be_visible(timeout=T)


def test_second_user_sees_none_of_the_first_users_keys_or_profiles(
    page: Page, console: Console, browser: Browser, browser_context_args: dict
) -> None:
    first = sign_up(page, console)
    console.cli("create-profile", first, "first-users-profile", "--categories", "gender")
    console.create_key(first, "first-users-key", "--profile", "first-users-profile")
    key_id = only_key_id(console, first)
    page.reload()
    expect(page.locator(f"#row-{key_id}")).to_be_visible(timeout=T)

    context = browser.new_context(**browser_context_args)
    try:
        other = context.new_page()
        sign_up(other, console)
        expect(other.locator("#keys-empty")).to_be_visible(timeout=T)
        expect(other.locator(f"#row-{key_id}")).to_have_count(0)
        assert key_id not in other.content()
        assert "first-users-key" not in other.content()
        other.click("#create-key-button")
        other.click("#create-profile")
        expect(other.get_by_role("option")).to_have_text(["No profile"], timeout=T)
        other.keyboard.press("Escape")
        other.click("#create-cancel")
        other.click("#nav-profiles")
        expect(other.locator("#profiles-empty")).to_be_visible(timeout=T)
        assert "first-users-profile" not in other.content()
    finally:
        context.close()
    # The first user still has everything.
    expect(page.locator(f"#row-{key_id}")).to_be_visible()
    expect(page.locator(f"#profile-{key_id}")).to_have_text("first-users-profile")


def test_sign_out_returns_to_sign_in_and_keys_then_needs_sign_in(page: Page, console: Console) -> None:
    sign_up(page, console)
    page.click("#sign-out")
    page.wait_for_url(re.compile(r".*/sign-in"))
    expect(page.locator("#sign-in-submit")).to_be_visible(timeout=T)
    expect(page.locator("#auth-notice")).to_have_text("You have been signed out.", timeout=T)
    page.goto(f"{console.base_url}/keys")
    page.wait_for_url(re.compile(r".*/sign-in"))
    expect(page.locator("#sign-in-submit")).to_be_visible(timeout=T)
    expect(page.locator("#keys-table")).to_have_count(0)
    expect(page.locator("#create-key-button")).to_have_count(0)


def test_the_sensitivity_slider_keeps_every_keystroke_while_the_cpu_is_busy(
    page: Page, console: Console
) -> None:
    """The slider's value is the browser's while it moves; the server learns it on commit."""
    import subprocess
    import sys

    sign_up(page, console)
    page.click("#nav-profiles")
    page.wait_for_url(re.compile(r".*/profiles/?$"))
    page.click("#create-profile-button")
    page.fill("#profile-name", "busy-machine")
    slider = page.get_by_role("slider")
    expect(page.locator("#profile-sensitivity-value")).to_have_text("0.5", timeout=T)
    burners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)
    ]  # both cores busy, as on a loaded CI machine
    try:
        slider.focus()
        for _ in range(23):
            slider.press("ArrowRight")
        for _ in range(3):
            slider.press("ArrowLeft")
        expect(page.locator("#profile-sensitivity-value")).to_have_text("0.7", timeout=T)
        page.click("#profile-save")
        expect(page.get_by_text("Saved bias profile busy-machine")).to_be_visible(timeout=30_000)
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    expect(profile_row(page, "busy-machine").locator("td").nth(2)).to_have_text("0.70", timeout=T)
