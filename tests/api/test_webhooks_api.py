"""Webhooks over real HTTP against the running console (issue 26 part 1): an endpoint registered
over REST, keys created, rolled and deleted over REST, and the signed deliveries arriving at a real
receiver on 127.0.0.1 that checks each signature; a failing receiver gets its retries per
APIKEYS_WEBHOOK_RETRY_SECONDS (1,2,4 in the tests) and then the delivery; Redeliver; the scope and
the owner-only rule; the CLI."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.api.conftest import management_token, wait_for
from tests.api.test_token_revocation import _join
from tests.conftest import Console
from tests.webhook_receiver import Receiver

SCOPES = "keys:read,keys:write,webhooks:write"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


def _client(console: Console, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{console.base_url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def _register(api: httpx.Client, receiver: Receiver, events: list[str]) -> dict:
    answer = api.post("/webhooks", json={"url": receiver.url, "events": events, "description": "tests"})
    assert answer.status_code == 201, answer.text
    endpoint = answer.json()
    assert endpoint["secret"].startswith("whsec_") and endpoint["secret_shown"] is False
    receiver.secret = endpoint["secret"]
    return endpoint


def test_signed_deliveries_for_created_rolled_and_deleted_keys(console: Console, receiver: Receiver) -> None:
    email = console.new_user()
    with _client(console, management_token(console, email, SCOPES)) as api:
        endpoint = _register(api, receiver, ["key.created", "key.rolled", "key.deleted"])
        listed = api.get("/webhooks").json()["data"]
        assert [e["endpoint_id"] for e in listed] == [endpoint["endpoint_id"]] and "secret" not in listed[0]
        key = api.post("/keys", json={"name": "checkout"}).json()
        rolled = api.post(f"/keys/{key['key_id']}/roll", json={"grace": "1h"}).json()["key"]
        assert api.delete(f"/keys/{rolled['key_id']}").status_code == 204
        got = receiver.wait_for(lambda r: len(r.deliveries) >= 4 and r.deliveries)
    assert all(d.verified for d in got), [d.headers for d in got]
    kinds = sorted((d.event_type, d.payload["data"]["key_id"]) for d in got)
    assert kinds == sorted(
        [
            ("key.created", key["key_id"]),
            ("key.created", rolled["key_id"]),
            ("key.rolled", key["key_id"]),
            ("key.deleted", rolled["key_id"]),
        ]
    )
    for delivery in got:
        assert key["secret"].encode() not in delivery.body and rolled["secret"].encode() not in delivery.body
        assert delivery.payload["data"]["name"] == "checkout"
    assert len({d.headers["webhook-id"] for d in got}) == 4


def test_a_failing_receiver_gets_retries_per_the_schedule_then_succeeds(
    console: Console, receiver: Receiver
) -> None:
    email = console.new_user()
    receiver.statuses = [500, 503]
    with _client(console, management_token(console, email, SCOPES)) as api:
        endpoint = _register(api, receiver, ["key.created"])
        api.post("/keys", json={"name": "flaky"})
        got = receiver.wait_for(lambda r: len(r.deliveries) >= 3 and r.deliveries, timeout=40)
        deliveries_url = f"/webhooks/{endpoint['endpoint_id']}/deliveries"

        def delivered() -> dict | None:
            rows = api.get(deliveries_url).json()["data"]
            return rows[0] if rows and rows[0]["status"] == "delivered" else None

        logged = wait_for(delivered, timeout=20, what="the delivery logged as delivered")
    assert [d.verified for d in got] == [True, True, True]
    assert len({d.headers["webhook-id"] for d in got}) == 1  # one message, attempted three times
    gaps = [b.received_at - a.received_at for a, b in itertools.pairwise(got)]
    assert gaps[0] >= 0.9 and gaps[1] >= 1.9, gaps  # 1 s, then 2 s (plus the job's interval)
    assert logged["attempts"] == 3 and logged["status_code"] == 200 and logged["latency_ms"] >= 0
    assert logged["delivery_id"] == got[0].headers["webhook-id"]


def test_redeliver_sends_the_same_message_again(console: Console, receiver: Receiver) -> None:
    email = console.new_user()
    with _client(console, management_token(console, email, SCOPES)) as api:
        endpoint = _register(api, receiver, ["key.created"])
        api.post("/keys", json={"name": "again"})
        [first] = receiver.wait_for(lambda r: r.deliveries)
        delivery_id = first.headers["webhook-id"]
        path = f"/webhooks/{endpoint['endpoint_id']}/deliveries/{delivery_id}/redeliver"
        assert api.post(path).status_code == 202
        receiver.wait_for(lambda r: len(r.deliveries) >= 2)
        assert (
            api.post(f"/webhooks/{endpoint['endpoint_id']}/deliveries/msg_nope/redeliver").status_code == 404
        )
    assert [d.headers["webhook-id"] for d in receiver.deliveries] == [delivery_id, delivery_id]
    assert all(d.verified for d in receiver.deliveries)


def test_roll_patch_and_delete_an_endpoint(console: Console, receiver: Receiver) -> None:
    email = console.new_user()
    with _client(console, management_token(console, email, SCOPES)) as api:
        endpoint = _register(api, receiver, ["key.created"])
        path = f"/webhooks/{endpoint['endpoint_id']}"
        rolled = api.post(f"{path}/roll-secret").json()
        assert rolled["secret"].startswith("whsec_") and rolled["secret"] != endpoint["secret"]
        receiver.secret = rolled["secret"]
        etag = api.get(path).headers["etag"]
        changed = api.patch(
            path, json={"events": ["key.created", "key.expiring"]}, headers={"If-Match": etag}
        )
        assert changed.status_code == 200 and changed.json()["events"] == ["key.created", "key.expiring"]
        assert api.patch(path, json={"enabled": False}, headers={"If-Match": etag}).status_code == 412
        api.post("/keys", json={"name": "after-roll"})
        [got] = receiver.wait_for(lambda r: r.deliveries)
        assert got.verified
        assert api.delete(path).status_code == 204
        assert api.get(path).status_code == 404


def test_the_scope_the_owner_rule_and_bad_input(console: Console, receiver: Receiver) -> None:
    owner = console.new_user()
    with _client(console, management_token(console, owner, "keys:read")) as api:
        answer = api.get("/webhooks")
        assert answer.status_code == 403 and answer.json()["code"] == "MISSING_SCOPE"
    with _client(console, management_token(console, owner, SCOPES)) as api:
        bad = api.post("/webhooks", json={"url": receiver.url, "events": ["key.nope"]})
        assert bad.status_code == 422
        bad = api.post("/webhooks", json={"url": "ftp://example.com/x", "events": ["key.created"]})
        assert bad.status_code == 422 and bad.json()["code"] == "BAD_URL"
    team = f"Team {uuid.uuid4().hex[:6]}"
    console.cli("create-workspace", owner, team)
    member = f"member-{uuid.uuid4().hex[:10]}@example.com"
    _join(console, member, owner, team)
    with _client(console, management_token(console, member, SCOPES, "--workspace", team)) as api:
        refused = api.get("/webhooks")
        assert refused.status_code == 403 and refused.json()["code"] == "FORBIDDEN"


def test_the_cli_creates_lists_and_deletes(console: Console, receiver: Receiver) -> None:
    email = console.new_user()
    made = console.cli("create-webhook", email, receiver.url, "--events", "key.created,key.deleted")
    secret = made.stdout.strip()
    assert secret.startswith("whsec_") and made.stdout.count("\n") == 1
    receiver.secret = secret
    listed = console.cli("list-webhooks", email).stdout.splitlines()
    endpoint_id = listed[1].split("\t")[0]
    assert listed[1].split("\t")[1:3] == [receiver.url, "key.created,key.deleted"]
    console.create_key(email, "from-cli")
    [got] = receiver.wait_for(lambda r: r.deliveries)
    assert got.verified and got.event_type == "key.created"
    log = wait_for(
        lambda: [
            line
            for line in console.cli("webhook-deliveries", email, endpoint_id).stdout.splitlines()[1:]
            if "\tdelivered\t" in line
        ],
        timeout=20,
    )
    assert log[0].startswith(got.headers["webhook-id"])
    console.cli("delete-webhook", email, endpoint_id)
    assert console.cli("list-webhooks", email).stdout.splitlines()[1:] == []
