"""Browser helpers: every test signs up its own user, so tests never depend on each other."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.conftest import PASSWORD, Console

# Assertions wait up to 15 s, not Playwright's 5 s: the suite shares two cores with three console
# workers and a browser, and a sign-in's landing (an old /keys link forwarded to /w/<id>/keys) takes
# two round trips. Slow is not wrong; a test that needs longer says so itself.
expect.set_options(timeout=15_000)


def sign_up(page: Page, console: Console, email: str | None = None, password: str = PASSWORD) -> str:
    email = email or f"web-{uuid.uuid4().hex[:12]}@example.com"
    page.goto(f"{console.base_url}/sign-up")
    page.fill("#sign-up-email", email)
    page.fill("#sign-up-password", password)
    page.fill("#sign-up-confirm", password)
    page.click("#sign-up-submit")
    _wait_for_landing(page, ("#sign-up-email", "#sign-up-password", "#sign-up-confirm"))
    expect(page.locator("#signed-in-email")).to_have_text(email)
    wait_loaded(page)
    return email


def sign_in(page: Page, console: Console, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{console.base_url}/sign-in")
    page.fill("#sign-in-email", email)
    page.fill("#sign-in-password", password)
    page.click("#sign-in-submit")
    _wait_for_landing(page, ("#sign-in-email", "#sign-in-password"))
    expect(page.locator("#signed-in-email")).to_have_text(email)
    wait_loaded(page)


def _wait_for_landing(page: Page, fields: tuple[str, ...]) -> None:
    """Wait for the keys page after a form's submit; if it never comes, say what the form held (a
    once-seen CI failure stayed on /sign-up with no POST in the server's log)."""
    try:
        page.wait_for_url(re.compile(r".*/keys/?$"))
    except PlaywrightTimeoutError as error:
        report = page.evaluate(
            """(fields) => fields.map((selector) => {
                const field = document.querySelector(selector);
                return field ? `${selector}: ${field.value.length} chars, valid=${field.validity.valid}`
                    + ` ${field.validationMessage}` : `${selector}: missing`;
            })""",
            list(fields),
        )
        raise AssertionError(f"no landing on /keys from {page.url}; {'; '.join(report)}") from error


def wait_loaded(page: Page) -> None:
    """Wait until the page's loads have run: until then its main region is inert (see
    `inert_until_loaded`), so a focus() there is dropped and a key pressed goes to the body."""
    expect(page.locator("#main-content")).to_have_attribute("aria-busy", "false")


def choose(page: Page, trigger_selector: str, option_label: str) -> None:
    """Pick an option from a Radix select."""
    page.click(trigger_selector)
    page.get_by_role("option", name=option_label, exact=True).click()


@pytest.fixture()
def signed_in(page: Page, console: Console) -> str:
    return sign_up(page, console)


# ---------------------------------------------------------------- seeding and lookups


def key_ids(console: Console, email: str) -> list[str]:
    """The user's key IDs, newest first, as the CLI lists them."""
    lines = console.cli("list-keys", email).stdout.splitlines()[1:]
    return [line.split("\t")[0] for line in lines if line.strip()]


def only_key_id(console: Console, email: str) -> str:
    ids = key_ids(console, email)
    assert len(ids) == 1, ids
    return ids[0]


def seed_keys(
    console: Console,
    email: str,
    names: list[str],
    *,
    status: str = "ACTIVE",
    statuses: list[str] | None = None,
) -> list[str]:
    """Insert keys for `email` straight into the console's database in one executemany.

    Rows look like the service layer's own (key_id, HMAC digest with the console's pepper, masked
    form), so the page and the HTTP API treat them like any other key. Returns the secrets.
    """
    import datetime as dt

    import sqlalchemy as sa

    from rxapp.models import ApiKey
    from rxapp.services import key_format

    pepper = console.env["APIKEYS_PEPPER"].encode()
    prefix = console.env.get("APIKEYS_KEY_PREFIX") or "bpk"
    engine = sa.create_engine(console.database_url)
    try:
        with engine.begin() as connection:
            owner_id, workspace_id = connection.execute(
                sa.text(
                    "SELECT u.id, w.id FROM users u JOIN memberships m ON m.user_id = u.id"
                    " JOIN workspaces w ON w.id = m.workspace_id WHERE lower(u.email) = :email AND w.personal"
                ),
                {"email": email.lower()},
            ).one()
            start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
            secrets_out: list[str] = []
            rows = []
            for index, name in enumerate(names):
                secret = key_format.generate_secret(prefix)
                secrets_out.append(secret)
                created = start + dt.timedelta(milliseconds=index)
                rows.append(
                    {
                        "key_id": key_format.generate_key_id(),
                        "owner_id": owner_id,
                        "workspace_id": workspace_id,
                        "name": name,
                        "digest": key_format.digest(secret, pepper),
                        "masked": key_format.mask(secret, prefix),
                        "status": statuses[index] if statuses else status,
                        "expires_at": None,
                        "last_used_at": None,
                        "bias_profile_id": None,
                        "created_at": created,
                        "updated_at": created,
                        "version": 1,
                    }
                )
            connection.execute(sa.insert(ApiKey.__table__), rows)
    finally:
        engine.dispose()
    return secrets_out


def table_rows(page: Page):
    return page.locator("#keys-table tbody tr")
