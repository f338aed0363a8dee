"""Workspace key policies in the console (issue 26, item 4), one walk: an owner sets a maximum and a
default lifetime, requires a Bias Profile and disables unused keys in Workspace settings; the
existing key that breaks the policy is listed (with a link to its page) and left alone; once it
has been idle long enough, its page and the Keys list say when it will be disabled; the create
dialog fills in the policy's end date and says so; a later end date, then a missing profile, are
refused next to their fields."""

from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa
from playwright.sync_api import Page, expect

from rxapp.models import ApiKey, WorkspaceKeyPolicy, core_table
from tests.conftest import Console
from tests.e2e.conftest import only_key_id, sign_up

T = 15_000


def _age(console: Console, key_id: str) -> None:
    now = dt.datetime.now(dt.UTC)
    keys, rules = core_table(ApiKey), core_table(WorkspaceKeyPolicy)
    engine = sa.create_engine(console.database_url)
    try:
        with engine.begin() as connection:
            workspace = connection.execute(
                sa.update(keys)
                .where(keys.c.key_id == key_id)
                .values(created_at=now - dt.timedelta(days=100))
                .returning(keys.c.workspace_id)
            ).scalar_one()
            connection.execute(
                sa.update(rules)
                .where(rules.c.workspace_id == workspace)
                .values(disable_unused_since=now - dt.timedelta(days=30))
            )
    finally:
        engine.dispose()


def test_an_owner_sets_the_policy_sees_what_breaks_it_and_the_create_dialog_follows_it(
    page: Page, console: Console
) -> None:
    email = sign_up(page, console)
    console.create_key(email, "legacy")  # no end date, no profile: made before the policy
    legacy = only_key_id(console, email)

    page.goto(f"{console.base_url}/members")
    # the page's loads have run (the workspace's name is filled in): the policy's own load, queued
    # with it, cannot come after what is typed below
    expect(page.locator("#workspace-rename-name")).to_have_value(re.compile(r".+"), timeout=T)
    expect(page.locator("#policy-violations")).to_contain_text(
        "No existing key breaks this policy", timeout=T
    )
    page.fill("#policy-max-lifetime", "90")
    page.fill("#policy-default-lifetime", "120")
    page.click("#policy-save")
    expect(page.locator("#policy-default-lifetime")).to_have_attribute("aria-invalid", "true", timeout=T)
    expect(page.get_by_role("alert")).to_contain_text("cannot be longer than the maximum (90 days)")
    page.fill("#policy-default-lifetime", "30")
    # typing clears the refusal, and the controls below move up: click them once it has gone, as a
    # person whose pointer is on the checkbox would (a click during the move lands on the old spot)
    expect(page.locator("#policy-default-lifetime")).to_have_attribute("aria-invalid", "false", timeout=T)
    page.click("#policy-require-profile")
    expect(page.locator("#policy-require-profile")).to_have_attribute("aria-checked", "true", timeout=T)
    page.fill("#policy-disable-unused", "30")
    page.click("#policy-save")
    expect(page.locator("[data-sonner-toast]").last).to_contain_text("1 existing key breaks it", timeout=T)
    listed = page.locator(f"#policy-violation-{legacy}")
    expect(listed).to_contain_text("no end date (max lifetime 90 days", timeout=T)
    expect(listed).to_contain_text("no Bias Profile")
    expect(listed.get_by_role("link", name="legacy")).to_have_attribute(
        "href", re.compile(f"/keys/{legacy}$")
    )

    # as if the key were 100 days old and the rule 30 days on: the job flags it (disabled a week later)
    _age(console, legacy)
    listed.get_by_role("link", name="legacy").click()
    expect(page.locator("#key-idle")).to_contain_text("Unused: this key will be disabled on", timeout=T)
    expect(page.locator("#key-idle")).to_contain_text("if still unused (workspace policy: keys unused for 30")
    # listed, not changed: still no end date and no profile, still ACTIVE
    expect(page.locator("#detail-expires")).to_have_text("Never")
    expect(page.locator("#detail-profile")).to_have_text("None")
    expect(page.locator("#detail-status")).to_contain_text("ACTIVE")

    page.goto(f"{console.base_url}/keys")
    expect(page.locator(f"#idle-warning-{legacy}")).to_contain_text("if still unused", timeout=T)
    page.click("#create-key-button")
    note = page.locator("#create-policy-end")
    expect(note).to_contain_text(
        re.compile(r"Ends on \d{4}-\d{2}-\d{2} by workspace policy \(default 30 days\)")
    )
    filled = page.locator("#create-custom-date").input_value()
    assert note.inner_text().startswith(f"Ends on {filled} ")
    assert abs(dt.date.fromisoformat(filled) - (dt.date.today() + dt.timedelta(days=30))).days <= 1
    expect(page.locator("#create-policy-max")).to_contain_text("at most 90 days")

    page.fill("#create-custom-date", (dt.date.today() + dt.timedelta(days=120)).isoformat())
    page.click("#create-submit")
    end_date = page.locator("#create-custom-date")
    expect(end_date).to_have_attribute("aria-invalid", "true", timeout=T)
    expect(page.locator("#create-form").get_by_role("alert")).to_have_text(
        re.compile(
            r"This workspace's policy allows keys to live at most 90 days: choose an end date on or before"
        )
    )
    page.fill("#create-custom-date", filled)
    page.click("#create-submit")
    expect(page.locator("#create-form").get_by_role("alert")).to_have_text(
        "This workspace's policy requires a Bias Profile on every key: choose one.", timeout=T
    )
    expect(page.locator("#create-profile-rule")).to_have_text("Required by this workspace's key policy.")
    page.click("#create-cancel")
