"""The management API's `search` finds a key from the key, as the keys page does: the last four
shown in the table, or the whole secret (looked up by its digest, in the token's workspace only)."""

from __future__ import annotations

import json

import httpx

from tests.api.conftest import management_token
from tests.conftest import Console


def _ids(api: httpx.Client, search: str) -> tuple[list[str], dict]:
    response = api.get("/keys", params={"search": search, "limit": 100})
    assert response.status_code == 200, response.text
    body = response.json()
    return [row["key_id"] for row in body["data"]], body


def test_search_finds_a_key_by_its_last_four_or_whole_secret(console: Console) -> None:
    email = console.new_user()
    with httpx.Client(
        base_url=f"{console.base_url}/api/v1",
        headers={"Authorization": f"Bearer {management_token(console, email)}"},
        timeout=30,
    ) as api:
        made = [api.post("/keys", json={"name": f"svc-{number}"}).json() for number in range(4)]
        wanted = made[2]
        secret, key_id, masked = wanted["secret"], wanted["key_id"], wanted["masked"]

        found, body = _ids(api, secret)
        assert found == [key_id] and body["total"] == 1 and body["next_cursor"] is None
        assert secret not in json.dumps(body)
        for shape in (secret[-4:], "•" + secret[-4:], masked):
            found, _ = _ids(api, shape)
            assert key_id in found, shape
            assert all(row["masked"].endswith(secret[-4:]) for row in _ids_rows(api, shape))

        # Another workspace's secret answers exactly as a secret never made: nothing.
        stranger = console.new_user()
        strangers = console.create_key(stranger, "not-yours")
        found, body = _ids(api, strangers)
        assert found == [] and body["total"] == 0

        # A near-secret (one character changed: the checksum fails) is plain text and finds nothing.
        broken = secret[:-1] + ("A" if secret[-1] != "A" else "B")
        assert _ids(api, broken)[0] == []
        assert _ids(api, "svc-1")[0] == [made[1]["key_id"]]

    log = console.log_path.read_text(errors="replace")
    for value in (secret, strangers, broken, secret[4:36], strangers[4:36]):
        assert value not in log


def _ids_rows(api: httpx.Client, search: str) -> list[dict]:
    return api.get("/keys", params={"search": search, "limit": 100}).json()["data"]
