"""Seed sections "Viewing API Keys" and "Creating a New API Key", proven in Chromium."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.conftest import Console
from tests.e2e.conftest import choose, key_ids, only_key_id, sign_up, table_rows

T = 15_000
# The seed's columns, in its order; "Calls, 7 days" (usage) sits before the actions.
HEADERS = [
    "API Key ID",
    "Name",
    "API Key",
    "Status",
    "Last Used",
    "Bias Profile",
    "Expires",
    "Calls, 7 days",
    "Actions",
]


def test_table_lists_a_key_with_every_column_of_the_seed(page: Page, console: Console) -> None:
    email = sign_up(page, console)
    secret = console.create_key(email, "billing-service")
    key_id = only_key_id(console, email)
    page.reload()

    expect(page.locator("#keys-table thead th")).to_have_text(HEADERS, timeout=T)
    row = page.locator(f"#row-{key_id}")
    expect(row).to_be_visible(timeout=T)
    expect(row.locator("td").first).to_have_text(key_id)
    expect(page.locator(f"#name-{key_id}")).to_have_text("billing-service")
    expect(page.locator(f"#masked-{key_id}")).to_have_text("bpk_••••••••" + secret[-4:])
    expect(page.locator("#keys-table")).not_to_contain_text(secret)
    assert secret not in page.content()
    expect(page.locator(f"#status-{key_id}")).to_have_text("ACTIVE")
    expect(page.locator(f"#last-used-{key_id}")).to_have_text("Never")
    expect(page.locator(f"#profile-{key_id}")).to_have_text("None")
    expect(page.locator(f"#expires-{key_id}")).to_have_text("Never")
    edit = page.locator(f"#edit-{key_id}")
    delete = page.locator(f"#delete-{key_id}")
    expect(edit).to_have_attribute("aria-label", "Edit billing-service")
    expect(delete).to_have_attribute("aria-label", "Delete billing-service")
    expect(edit.locator("svg")).to_have_class(re.compile("pencil"))
    expect(delete.locator("svg")).to_have_class(re.compile("trash"))
    expect(page.locator("#keys-total")).to_have_text("1 key")


def test_new_user_sees_empty_state_and_its_button_opens_the_create_dialog(
    page: Page, console: Console
) -> None:
    sign_up(page, console)
    empty = page.locator("#keys-empty")
    expect(empty).to_be_visible(timeout=T)
    expect(empty).to_contain_text("No API keys yet")
    expect(page.locator("#keys-table")).to_have_count(0)
    page.click("#create-first-key")
    expect(page.locator("#create-dialog")).to_be_visible(timeout=T)
    page.fill("#create-name", "first-app")
    page.click("#create-submit")
    expect(page.locator("#new-key-secret")).to_have_value(re.compile(r"^bpk_\w{38}$"), timeout=T)
    page.click("#copy-new-key")
    page.click("#create-done")
    expect(page.locator("#create-dialog")).to_have_count(0, timeout=T)
    expect(page.locator("#keys-empty")).to_have_count(0, timeout=T)
    expect(table_rows(page)).to_have_count(1)


def test_create_reveals_the_key_once_copies_it_and_lists_it_masked(page: Page, console: Console) -> None:
    email = sign_up(page, console)
    # "the Create New API Key button in the top right corner" (of the page's content, above the table)
    button = page.locator("#create-key-button")
    expect(button).to_have_text("Create New API Key", timeout=T)
    box = button.bounding_box()
    viewport = page.viewport_size
    assert box and viewport
    assert box["x"] + box["width"] > viewport["width"] * 0.75
    assert box["y"] < viewport["height"] * 0.25
    button.click()
    expect(page.locator("#create-dialog")).to_be_visible(timeout=T)
    expect(page.locator("#create-dialog")).to_contain_text("Create New API Key")
    expect(page.locator("#create-profile")).to_have_text("No profile")
    page.fill("#create-name", "checkout-service")
    page.get_by_role("button", name="Create API Key", exact=True).click()

    secret_box = page.locator("#new-key-secret")
    expect(secret_box).to_have_value(re.compile(r"^bpk_[0-9A-Za-z]{38}$"), timeout=T)
    secret = secret_box.input_value()
    expect(page.locator("#reveal-warning")).to_contain_text("Store it securely")
    expect(page.locator("#reveal-warning")).to_contain_text(
        "Copy the API key value by clicking on the Copy Icon"
    )

    page.click("#copy-new-key")
    expect(page.get_by_text("API key copied to the clipboard")).to_be_visible(timeout=T)
    assert page.evaluate("navigator.clipboard.readText()") == secret

    page.click("#create-done")
    expect(page.locator("#create-dialog")).to_have_count(0, timeout=T)
    key_id = only_key_id(console, email)
    expect(page.locator(f"#masked-{key_id}")).to_have_text("bpk_••••••••" + secret[-4:], timeout=T)
    expect(page.locator(f"#status-{key_id}")).to_have_text("ACTIVE")
    expect(page.locator(f"#profile-{key_id}")).to_have_text("None")
    assert secret not in page.content()

    # Reopening the dialog starts a fresh form: the old secret is gone for good.
    page.click("#create-key-button")
    # the first free "Key N" (issue 22 item 10): the only key is named checkout-service
    expect(page.locator("#create-name")).to_have_value("Key 1", timeout=T)
    expect(page.locator("#new-key-secret")).to_have_count(0)
    assert secret not in page.content()
    page.click("#create-cancel")
    expect(page.locator("#create-dialog")).to_have_count(0, timeout=T)


def test_create_with_a_bias_profile_from_the_dropdown(page: Page, console: Console) -> None:
    email = sign_up(page, console)
    console.cli(
        "create-profile",
        email,
        "strict-hiring",
        "--categories",
        "gender,age",
        "--sensitivity",
        "0.7",
        "--action",
        "block",
    )
    page.reload()
    page.click("#create-key-button")
    page.fill("#create-name", "hiring-bot")
    choose(page, "#create-profile", "strict-hiring")
    expect(page.locator("#create-profile")).to_have_text("strict-hiring")
    page.click("#create-submit")
    secret = page.locator("#new-key-secret")
    expect(secret).to_have_value(re.compile(r"^bpk_"), timeout=T)
    page.click("#copy-new-key")
    page.click("#create-done")
    key_id = only_key_id(console, email)
    expect(page.locator(f"#profile-{key_id}")).to_have_text("strict-hiring", timeout=T)


def test_a_bad_name_is_marked_next_to_its_field_and_focused(page: Page, console: Console) -> None:
    """The name is optional (a default is suggested), but a bad one is refused next to the field."""
    email = sign_up(page, console)
    page.click("#create-key-button")
    name = page.locator("#create-name")
    expect(name).to_have_value("Key 1", timeout=T)
    name.fill("bad\u200bname")
    page.click("#create-submit")
    error = page.locator("#create-dialog [role=alert]")
    expect(error).to_contain_text("Name must not contain", timeout=T)
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(name).to_be_focused()
    expect(page.locator("#new-key-secret")).to_have_count(0)
    # Typing a name clears the error; Enter in the field creates the key.
    name.fill("x")
    expect(error).to_have_count(0, timeout=T)
    expect(name).to_have_attribute("aria-invalid", "false")
    name.press("Enter")
    expect(page.locator("#new-key-secret")).to_have_value(re.compile(r"^bpk_"), timeout=T)
    assert len(key_ids(console, email)) == 1


def test_closing_the_reveal_without_copying_asks_first(page: Page, console: Console) -> None:
    email = sign_up(page, console)
    page.click("#create-key-button")
    page.fill("#create-name", "uncopied")
    page.click("#create-submit")
    expect(page.locator("#new-key-secret")).to_have_value(re.compile(r"^bpk_"), timeout=T)

    page.click("#create-done")
    expect(page.locator("#discard-confirm")).to_be_visible(timeout=T)
    page.click("#discard-cancel")
    expect(page.locator("#discard-confirm")).to_have_count(0, timeout=T)
    expect(page.locator("#new-key-secret")).to_be_visible()

    page.keyboard.press("Escape")
    expect(page.locator("#discard-confirm")).to_be_visible(timeout=T)
    page.click("#discard-confirm")
    expect(page.locator("#create-dialog")).to_have_count(0, timeout=T)
    # The key was created (committed before the reveal) and is listed masked.
    key_id = only_key_id(console, email)
    expect(page.locator(f"#row-{key_id}")).to_be_visible(timeout=T)
