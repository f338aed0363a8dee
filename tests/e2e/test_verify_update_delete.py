"""A key made in the browser works over the HTTP API; seed sections "Updating" and "Deleting"."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.conftest import Console
from tests.e2e.conftest import choose, key_ids, only_key_id, sign_up

T = 15_000


def create_in_browser(page: Page, name: str) -> str:
    page.click("#create-key-button")
    page.fill("#create-name", name)
    page.click("#create-submit")
    box = page.locator("#new-key-secret")
    expect(box).to_have_value(re.compile(r"^bpk_[0-9A-Za-z]{38}$"), timeout=T)
    secret = box.input_value()
    page.click("#copy-new-key")
    page.click("#create-done")
    expect(page.locator("#create-dialog")).to_have_count(0, timeout=T)
    return secret


def test_browser_key_verifies_over_http_and_last_used_updates_without_reload(
    page: Page, console: Console
) -> None:
    email = sign_up(page, console)
    secret = create_in_browser(page, "orders-api")
    key_id = only_key_id(console, email)
    last_used = page.locator(f"#last-used-{key_id}")
    expect(last_used).to_have_text("Never", timeout=T)

    body = console.verify(secret).json()
    assert body["valid"] is True
    assert body["key_id"] == key_id
    assert body["status"] == "ACTIVE"
    assert body["bias_profile"] is None
    expect(last_used).to_contain_text(re.compile(r"just now|seconds? ago"), timeout=T)


def test_edit_changes_profile_and_status_and_the_api_follows(page: Page, console: Console) -> None:
    email = sign_up(page, console)
    console.cli(
        "create-profile",
        email,
        "gentle",
        "--categories",
        "gender",
        "--sensitivity",
        "0.3",
        "--action",
        "flag",
    )
    console.cli(
        "create-profile",
        email,
        "strict",
        "--categories",
        "gender,age",
        "--sensitivity",
        "0.9",
        "--action",
        "block",
    )
    secret = console.create_key(email, "support-bot", "--profile", "gentle")
    key_id = only_key_id(console, email)
    page.reload()
    expect(page.locator(f"#profile-{key_id}")).to_have_text("gentle", timeout=T)

    page.click(f"#edit-{key_id}")
    dialog = page.locator("#edit-dialog")
    expect(dialog).to_be_visible(timeout=T)
    expect(dialog).to_contain_text("Update API Key")
    expect(dialog).to_contain_text(key_id)
    expect(page.locator("#edit-profile")).to_have_text("gentle")
    expect(page.locator("#edit-status")).to_have_text("ACTIVE")
    choose(page, "#edit-profile", "strict")
    choose(page, "#edit-status", "INACTIVE")
    expect(page.locator("#edit-status")).to_have_text("INACTIVE")
    page.click("#edit-save")
    expect(dialog).to_have_count(0, timeout=T)
    expect(page.get_by_text("Saved support-bot")).to_be_visible(timeout=T)
    expect(page.locator(f"#status-{key_id}")).to_have_text("INACTIVE", timeout=T)
    expect(page.locator(f"#profile-{key_id}")).to_have_text("strict")

    assert console.verify(secret).json() == {"valid": False, "code": "INACTIVE"}

    page.click(f"#edit-{key_id}")
    expect(page.locator("#edit-status")).to_have_text("INACTIVE", timeout=T)
    choose(page, "#edit-status", "ACTIVE")
    page.click("#edit-save")
    expect(page.locator("#edit-dialog")).to_have_count(0, timeout=T)
    expect(page.locator(f"#status-{key_id}")).to_have_text("ACTIVE", timeout=T)
    body = console.verify(secret).json()
    assert body["valid"] is True
    assert body["bias_profile"]["name"] == "strict"


def test_edit_cancel_changes_nothing(page: Page, console: Console) -> None:
    email = sign_up(page, console)
    console.create_key(email, "keep-me")
    key_id = only_key_id(console, email)
    page.reload()
    page.click(f"#edit-{key_id}")
    choose(page, "#edit-status", "INACTIVE")
    page.click("#edit-cancel")
    expect(page.locator("#edit-dialog")).to_have_count(0, timeout=T)
    expect(page.locator(f"#status-{key_id}")).to_have_text("ACTIVE")
    page.reload()
    expect(page.locator(f"#status-{key_id}")).to_have_text("ACTIVE", timeout=T)


def test_delete_warns_cancel_keeps_and_delete_removes_the_key(page: Page, console: Console) -> None:
    email = sign_up(page, console)
    secret = console.create_key(email, "legacy-importer")
    console.create_key(email, "keeper")
    key_id = key_ids(console, email)[1]  # newest first: the first key created is second
    page.reload()
    expect(page.locator(f"#row-{key_id}")).to_be_visible(timeout=T)

    page.click(f"#delete-{key_id}")
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_be_visible(timeout=T)
    expect(dialog).to_contain_text("legacy-importer")
    expect(dialog).to_contain_text(key_id)
    warning = page.locator("#delete-warning")
    expect(warning).to_contain_text("Warning")
    expect(warning.locator("li")).to_have_text(
        [
            "Deletion is permanent and cannot be undone",
            "All services using this key will stop working immediately",
            "Make sure to update any applications using the deleted key",
        ]
    )
    expect(warning.locator("ul")).to_have_css("list-style-type", "disc")  # bullets kept
    page.click("#delete-cancel")
    expect(dialog).to_have_count(0, timeout=T)
    expect(page.locator(f"#row-{key_id}")).to_be_visible()
    assert console.verify(secret).json()["valid"] is True

    page.click(f"#delete-{key_id}")
    expect(page.locator("#confirm-delete")).to_be_visible(timeout=T)
    expect(page.locator("#confirm-delete")).to_have_text("Delete")
    page.click("#confirm-delete")
    expect(page.locator(f"#row-{key_id}")).to_have_count(0, timeout=T)
    expect(page.get_by_text("Deleted legacy-importer")).to_be_visible(timeout=T)
    expect(page.locator("#keys-total")).to_have_text("1 key")
    assert console.verify(secret).json() == {"valid": False, "code": "NOT_FOUND"}
    page.reload()
    expect(page.locator("#keys-total")).to_have_text("1 key", timeout=T)
    expect(page.locator(f"#row-{key_id}")).to_have_count(0)
