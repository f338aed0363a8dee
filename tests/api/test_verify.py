"""POST /api/v1/verify over real HTTP: what a calling service sees for each kind of key."""

from __future__ import annotations

import datetime as dt
import time

import httpx
import pytest

from rxapp.services.key_format import BASE62, CHECKSUM_LENGTH, generate_secret
from tests.api.conftest import assert_invalid, assert_no_traceback, key_row, utc_in, wait_for
from tests.conftest import Console

VALID_FIELDS = {"valid", "key_id", "status", "expires_at", "bias_profile", "workspace_id", "workspace_name"}


def _assert_valid(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == VALID_FIELDS
    assert body["valid"] is True
    assert body["status"] == "ACTIVE"
    assert body["key_id"].startswith("key_")
    assert body["workspace_id"].startswith("ws_") and body["workspace_name"]
    assert "code" not in body
    assert_no_traceback(response)
    return body


def test_valid_key_without_profile(console: Console) -> None:
    email = console.new_user()
    secret = console.create_key(email, "billing")
    body = _assert_valid(console.verify(secret))
    assert body["expires_at"] is None
    assert body["bias_profile"] is None
    row = key_row(console, email, secret)
    assert body["key_id"] == row.key_id
    assert body["workspace_name"] == "Personal"  # the owner's personal workspace, by default
    # The answer never echoes the secret.
    assert secret not in console.verify(secret).text


def test_valid_key_returns_its_bias_profile_settings(console: Console) -> None:
    email = console.new_user()
    console.cli(
        "create-profile",
        email,
        "strict",
        "--categories",
        "gender,age",
        "--sensitivity",
        "0.7",
        "--action",
        "block",
        "--description",
        "Strict checks",
    )
    secret = console.create_key(email, "chat", "--profile", "strict")
    body = _assert_valid(console.verify(secret))
    profile = body["bias_profile"]
    assert profile is not None
    assert profile["name"] == "strict"
    assert profile["description"] == "Strict checks"
    assert sorted(profile["categories"]) == ["age", "gender"]
    assert profile["sensitivity"] == pytest.approx(0.7)
    assert profile["action"] == "block"
    assert isinstance(profile["id"], int)
    assert key_row(console, email, secret).bias_profile == "strict"


def test_valid_key_with_end_date_reports_it(console: Console) -> None:
    email = console.new_user()
    end = utc_in(3600)
    secret = console.create_key(email, "dated", "--expires-at", end.isoformat())
    body = _assert_valid(console.verify(secret))
    assert dt.datetime.fromisoformat(body["expires_at"]).replace(tzinfo=dt.UTC) == end


def test_x_api_key_header_works(console: Console) -> None:
    email = console.new_user()
    secret = console.create_key(email)
    response = httpx.post(f"{console.base_url}/api/v1/verify", headers={"X-API-Key": secret}, timeout=10)
    body = _assert_valid(response)
    assert body["key_id"] == key_row(console, email, secret).key_id


def test_bearer_scheme_is_case_insensitive(console: Console) -> None:
    secret = console.create_key(console.new_user())
    response = httpx.post(
        f"{console.base_url}/api/v1/verify", headers={"Authorization": f"bearer {secret}"}, timeout=10
    )
    _assert_valid(response)


def test_inactive_key_fails_on_the_very_next_call_and_can_be_reactivated(console: Console) -> None:
    email = console.new_user()
    secret = console.create_key(email)
    key_id = key_row(console, email, secret).key_id
    _assert_valid(console.verify(secret))

    console.cli("set-key-status", email, key_id, "INACTIVE")
    assert_invalid(console.verify(secret), "INACTIVE")
    assert_invalid(console.verify(secret), "INACTIVE")

    console.cli("set-key-status", email, key_id, "ACTIVE")
    _assert_valid(console.verify(secret))


def test_key_past_its_end_date_is_expired(console: Console) -> None:
    email = console.new_user()
    end = utc_in(8)
    secret = console.create_key(email, "short-lived", "--expires-at", end.isoformat())
    if dt.datetime.now(dt.UTC) < end - dt.timedelta(seconds=1):
        _assert_valid(console.verify(secret))
    wait_for(
        lambda: dt.datetime.now(dt.UTC) > end + dt.timedelta(milliseconds=200),
        timeout=30,
        what="the end date to pass",
    )
    assert_invalid(console.verify(secret), "EXPIRED")
    # The expiry job (every second in tests) makes it stick in the listing too.
    wait_for(
        lambda: key_row(console, email, secret).status == "EXPIRED",
        timeout=30,
        interval=0.5,
        what="list-keys to show EXPIRED",
    )
    assert_invalid(console.verify(secret), "EXPIRED")


def test_deleted_key_is_not_found_on_the_next_call(console: Console) -> None:
    email = console.new_user()
    secret = console.create_key(email)
    key_id = key_row(console, email, secret).key_id
    _assert_valid(console.verify(secret))
    console.cli("delete-key", email, key_id)
    assert_invalid(console.verify(secret), "NOT_FOUND")


@pytest.mark.parametrize(
    "credential",
    [
        "garbage",
        "x",
        "bpk_",
        "bpk_tooShort123",
        "sk_live_" + "A" * 38,  # wrong prefix, right length
        "BPK_" + "A" * 38,  # prefix is case-sensitive
        "bpk_" + "A" * 37,  # one short
        "bpk_" + "A" * 39,  # one long
        "bpk_" + "!" * 38,  # not base62
        "bpk_" + "é" * 38,
        "bpk_" + "A" * 200,  # longer than any key but under the header limit
    ],
)
def test_malformed_credentials_are_rejected(console: Console, credential: str) -> None:
    response = httpx.post(
        f"{console.base_url}/api/v1/verify", headers={"X-API-Key": credential.encode()}, timeout=10
    )
    assert_invalid(response, "MALFORMED")


def test_wrong_checksum_is_malformed(console: Console) -> None:
    secret = console.create_key(console.new_user())
    _assert_valid(console.verify(secret))
    position = len(secret) - CHECKSUM_LENGTH + 2  # inside the checksum part
    replacement = BASE62[(BASE62.index(secret[position]) + 1) % len(BASE62)]
    tampered = secret[:position] + replacement + secret[position + 1 :]
    assert tampered != secret
    assert_invalid(console.verify(tampered), "MALFORMED")
    # A typo in the random part breaks the checksum as well.
    typo = secret[:6] + ("B" if secret[6] != "B" else "C") + secret[7:]
    assert_invalid(console.verify(typo), "MALFORMED")


def test_well_formed_unknown_key_is_not_found(console: Console) -> None:
    assert_invalid(console.verify(generate_secret("bpk")), "NOT_FOUND")


def test_public_key_id_is_not_a_credential(console: Console) -> None:
    email = console.new_user()
    secret = console.create_key(email)
    key_id = key_row(console, email, secret).key_id
    assert_invalid(console.verify(key_id), "MALFORMED")


def _last_used(console: Console, email: str, secret: str) -> str:
    return key_row(console, email, secret).last_used


def test_last_used_is_set_after_a_successful_verification(console: Console) -> None:
    email = console.new_user()
    secret = console.create_key(email)
    assert _last_used(console, email, secret) == "Never"
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    _assert_valid(console.verify(secret))
    started = time.monotonic()
    stamp = wait_for(
        lambda: (value := _last_used(console, email, secret)) != "Never" and value,
        timeout=30,
        interval=0.3,
        what="Last Used to be written",
    )
    # The flush runs every second; allow for CLI start-up time on a busy machine.
    assert time.monotonic() - started < 15
    used_at = dt.datetime.fromisoformat(stamp)
    if used_at.tzinfo is None:
        used_at = used_at.replace(tzinfo=dt.UTC)
    assert before <= used_at <= dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)


def test_failed_verifications_never_update_last_used(console: Console) -> None:
    email = console.new_user()
    inactive = console.create_key(email, "turned-off")
    witness = console.create_key(email, "witness")
    console.cli("set-key-status", email, key_row(console, email, inactive).key_id, "INACTIVE")
    for _ in range(3):
        assert_invalid(console.verify(inactive), "INACTIVE")
    # A successful call after the failed ones: once its Last Used is flushed, anything the failed
    # calls had recorded would have been flushed in the same or an earlier batch.
    _assert_valid(console.verify(witness))
    wait_for(
        lambda: _last_used(console, email, witness) != "Never",
        timeout=30,
        interval=0.3,
        what="the witness key's Last Used",
    )
    assert _last_used(console, email, inactive) == "Never"


def test_verify_and_authorize_say_whose_key_it_is(console: Console) -> None:
    email = console.new_user()
    public_id = console.cli("create-workspace", email, "Billing team").stdout.strip()
    assert public_id.startswith("ws_")
    secret = console.create_key(email, "biller", "--workspace", "Billing team")
    body = _assert_valid(console.verify(secret))
    assert (body["workspace_id"], body["workspace_name"]) == (public_id, "Billing team")
    authorized = httpx.get(
        f"{console.base_url}/api/v1/authorize", headers={"Authorization": f"Bearer {secret}"}, timeout=10
    )
    assert authorized.status_code == 200
    assert authorized.headers["x-workspace-id"] == public_id
    # a key in the personal workspace names that one: a different, equally opaque id
    personal = _assert_valid(console.verify(console.create_key(email, "mine")))
    assert personal["workspace_id"] != public_id and personal["workspace_name"] == "Personal"
