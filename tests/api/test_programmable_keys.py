"""Programmable keys (issue 24) over real HTTP against the production console: credits (spent,
free checks, exhausted, set from the CLI), named limits (the key's and an identity's shared ones),
permission queries, meta, the IP allowlist through the trusted proxy hop, identities, authorize's
statuses and headers, the REST fields and catalogues, usage counts and the audit trail; and the
concurrency cases: 200 calls at once against 50 credits, and against a 10-per-minute limit shared
by an identity's three keys."""

from __future__ import annotations

import base64
import concurrent.futures
import json
import uuid

import httpx

from tests.api.conftest import management_token, wait_for
from tests.conftest import Console


def _api(console: Console, email: str) -> httpx.Client:
    token = management_token(console, email)
    return httpx.Client(
        base_url=f"{console.base_url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def _verify(console: Console, secret: str, body: object = None, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{console.base_url}/api/v1/verify",
        headers={"Authorization": f"Bearer {secret}", **headers},
        json=body,
        timeout=30,
    )


def _create(api: httpx.Client, **fields: object) -> dict:
    made = api.post("/keys", json={"name": f"k-{uuid.uuid4().hex[:6]}", **fields})
    assert made.status_code == 201, made.text
    return made.json()


def test_credits_are_spent_checked_and_exhausted(console: Console) -> None:
    email = console.new_user()
    with _api(console, email) as api:
        key = _create(api, credits=3)
        assert key["credits"] == 3
        first = _verify(console, key["secret"]).json()
        assert first["valid"] is True and first["credits"] == 2
        assert first["meta"] is None and first["permissions"] == [] and first["identity"] is None
        free = _verify(console, key["secret"], {"cost": 0}).json()
        assert free["valid"] is True and free["credits"] == 2  # a check without spending
        too_much = _verify(console, key["secret"], {"cost": 5}).json()
        assert too_much == {"valid": False, "code": "USAGE_EXCEEDED", "credits": 2}  # nothing spent
        assert _verify(console, key["secret"], {"cost": 2}).json()["credits"] == 0
        spent = _verify(console, key["secret"]).json()
        assert spent == {"valid": False, "code": "USAGE_EXCEEDED", "credits": 0}
        assert _verify(console, key["secret"], {"cost": 0}).json()["code"] == "USAGE_EXCEEDED"
        # the CLI sets the balance again, audited
        console.cli("set-credits", email, key["key_id"], "7")
        assert _verify(console, key["secret"]).json()["credits"] == 6
        assert api.get(f"/keys/{key['key_id']}").json()["credits"] == 6
        details = [e["detail"] for e in api.get("/audit", params={"target_id": key["key_id"]}).json()["data"]]
        assert any("credits=7" in detail for detail in details), details
        assert any("credits=3" in detail for detail in details), details

        def counted() -> dict | None:
            hours = api.get(f"/keys/{key['key_id']}/usage").json()["hours"]
            exceeded = sum(point["usage_exceeded"] for point in hours)
            return hours if exceeded >= 3 else None

        wait_for(counted, timeout=20, what="usage_exceeded counted")


def test_a_plain_key_answers_exactly_as_before(console: Console) -> None:
    email = console.new_user()
    secret = console.create_key(email, "plain")
    body = _verify(console, secret).json()
    assert set(body) == {
        "valid",
        "key_id",
        "status",
        "expires_at",
        "bias_profile",
        "workspace_id",
        "workspace_name",
    }
    assert _verify(console, secret, {"cost": 3}).json() == body  # no credits: cost means nothing
    denied = _verify(console, secret, {"permissions": "documents.read"}).json()
    assert denied == {"valid": False, "code": "INSUFFICIENT_PERMISSIONS"}


def test_the_body_is_checked_before_the_key(console: Console) -> None:
    secret = console.create_key(console.new_user(), "body")
    for body, code in (
        ({"cost": -1}, "INVALID_REQUEST"),
        ({"cost": "1"}, "INVALID_REQUEST"),
        ({"unknown": 1}, "INVALID_REQUEST"),
        ({"ratelimits": [{"name": "x", "weight": 1}]}, "INVALID_REQUEST"),
        ({"permissions": "a AND"}, "INVALID_PERMISSION_QUERY"),
        ({"permissions": "(a OR b"}, "INVALID_PERMISSION_QUERY"),
        ([1, 2], "INVALID_REQUEST"),
    ):
        answer = _verify(console, secret, body)
        assert answer.status_code == 400, (body, answer.text)
        assert answer.json()["error"] == code, (body, answer.text)
    garbage = httpx.post(
        f"{console.base_url}/api/v1/verify",
        headers={"Authorization": f"Bearer {secret}", "content-type": "application/json"},
        content=b"{not json",
        timeout=10,
    )
    assert garbage.status_code == 400 and garbage.json()["error"] == "INVALID_REQUEST"


def test_permissions_meta_and_the_catalogue(console: Console) -> None:
    email = console.new_user()
    with _api(console, email) as api:
        meta = {"plan": "pro", "seats": 5}
        key = _create(api, permissions=["documents.read", "documents.write"], meta=meta)
        ok = _verify(console, key["secret"], {"permissions": "documents.read AND (documents.write OR admin)"})
        assert ok.json()["valid"] is True, ok.text
        assert ok.json()["meta"] == meta and ok.json()["permissions"] == ["documents.read", "documents.write"]
        assert "credits" not in ok.json()
        denied = _verify(console, key["secret"], {"permissions": "documents.read AND admin"}).json()
        assert denied == {"valid": False, "code": "INSUFFICIENT_PERMISSIONS"}
        # the catalogue learned both names; a rename follows onto the key; in use: no delete
        names = [p["name"] for p in api.get("/permissions").json()["data"]]
        assert names == ["documents.read", "documents.write"]
        assert api.delete("/permissions/documents.read").status_code == 409
        renamed = api.patch("/permissions/documents.write", json={"name": "docs.write"})
        assert renamed.status_code == 200 and renamed.json()["key_count"] == 1, renamed.text
        assert api.get(f"/keys/{key['key_id']}").json()["permissions"] == ["docs.write", "documents.read"]
        assert _verify(console, key["secret"], {"permissions": "docs.write"}).json()["valid"] is True
        made = api.post("/permissions", json={"name": "admin", "description": "everything"})
        assert made.status_code == 201 and api.post("/permissions", json={"name": "admin"}).status_code == 409
        assert api.delete("/permissions/admin").status_code == 204
        bad = api.patch(f"/keys/{key['key_id']}", json={"meta": {"big": "x" * 5000}})
        assert bad.status_code == 422 and bad.json()["code"] == "BAD_META", bad.text
        cleared = api.patch(f"/keys/{key['key_id']}", json={"meta": None, "permissions": []})
        assert cleared.status_code == 200 and cleared.json()["meta"] is None, cleared.text
        plain = _verify(console, key["secret"]).json()
        assert "meta" not in plain  # nothing programmable left: the plain answer again


def test_ip_allowlist_sees_the_caller_through_the_trusted_hop(console: Console) -> None:
    email = console.new_user()
    with _api(console, email) as api:
        key = _create(api, ip_allow=["203.0.113.0/24", "2001:db8::/32"])
        assert key["ip_allow"] == ["2001:db8::/32", "203.0.113.0/24"]
        inside = _verify(console, key["secret"], None, **{"X-Forwarded-For": "198.51.100.9, 203.0.113.7"})
        assert inside.json()["valid"] is True, inside.text
        v6 = _verify(console, key["secret"], None, **{"X-Forwarded-For": "2001:db8::1"})
        assert v6.json()["valid"] is True
        # the client's own entry (left of the hop) is not believed
        spoofed = _verify(console, key["secret"], None, **{"X-Forwarded-For": "203.0.113.7, 198.51.100.9"})
        assert spoofed.json() == {"valid": False, "code": "FORBIDDEN"}
        assert _verify(console, key["secret"]).json()["code"] == "FORBIDDEN"  # 127.0.0.1 itself
        gate = httpx.get(
            f"{console.base_url}/api/v1/authorize",
            headers={"Authorization": f"Bearer {key['secret']}", "X-Forwarded-For": "198.51.100.9"},
            timeout=10,
        )
        assert gate.status_code == 403 and gate.json()["code"] == "FORBIDDEN"
        bad = api.post("/keys", json={"ip_allow": ["300.1.1.1/8"]})
        assert bad.status_code == 422 and bad.json()["code"] == "BAD_IP_ALLOW"


def test_named_limits_and_authorize(console: Console) -> None:
    email = console.new_user()
    with _api(console, email) as api:
        key = _create(
            api,
            credits=100,
            meta={"plan": "pro"},
            ratelimits=[
                {"name": "requests", "limit": 3, "duration": 60000},
                {"name": "tokens", "limit": 10, "duration": 60000},
            ],
        )
        first = _verify(console, key["secret"], {"ratelimits": [{"name": "tokens", "cost": 4}]}).json()
        assert first["valid"] is True
        assert [(r["name"], r["limit"], r["remaining"]) for r in first["ratelimits"]] == [("tokens", 10, 6)]
        assert first["ratelimits"][0]["reset"] > 0
        over = _verify(console, key["secret"], {"ratelimits": [{"name": "tokens", "cost": 7}]}).json()
        assert over["code"] == "RATE_LIMITED" and over["valid"] is False and over["retry_after"] >= 1
        unknown = _verify(console, key["secret"], {"ratelimits": [{"name": "nope"}]})
        assert unknown.status_code == 400 and unknown.json()["error"] == "UNKNOWN_RATELIMIT"
        gate_url = f"{console.base_url}/api/v1/authorize"
        headers = {"Authorization": f"Bearer {key['secret']}"}
        for _ in range(2):  # no names given: every limit applies, cost 1 (requests: 2 of 3 used)
            passed = httpx.get(gate_url, headers=headers, timeout=10)
            assert passed.status_code == 200, passed.text
        assert passed.headers["x-key-credits"] == str(100 - 1 - 2)
        assert json.loads(base64.urlsafe_b64decode(passed.headers["x-key-meta"] + "==")) == {"plan": "pro"}
        assert passed.headers["x-key-identity"] == ""
        assert _verify(console, key["secret"]).json()["valid"] is True  # the third "requests" call
        limited = httpx.get(gate_url, headers=headers, timeout=10)
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert limited.json()["code"] == "RATE_LIMITED"
        # a refused call spent no credit
        assert api.get(f"/keys/{key['key_id']}").json()["credits"] == 100 - 1 - 2 - 1
        empty = _create(api, credits=0)
        spent = httpx.get(gate_url, headers={"Authorization": f"Bearer {empty['secret']}"}, timeout=10)
        assert spent.status_code == 403 and spent.json()["code"] == "USAGE_EXCEEDED"
        plain = httpx.get(
            gate_url, headers={"Authorization": f"Bearer {console.create_key(email)}"}, timeout=10
        )
        assert plain.status_code == 200 and plain.headers["x-key-credits"] == ""


def test_identity_meta_and_its_shared_limit_across_keys(console: Console) -> None:
    email = console.new_user()
    with _api(console, email) as api:
        made = api.post(
            "/identities",
            json={
                "external_id": "acme",
                "meta": {"tier": "gold"},
                "ratelimits": [{"name": "requests", "limit": 4, "duration": 60000}],
            },
        )
        assert made.status_code == 201, made.text
        keys = [_create(api, identity="acme") for _ in range(2)]
        assert keys[0]["identity"] == "acme"
        answers = [_verify(console, keys[i % 2]["secret"]).json() for i in range(5)]
        assert [a["valid"] for a in answers] == [True, True, True, True, False]
        assert answers[0]["identity"] == {"external_id": "acme", "meta": {"tier": "gold"}}
        assert answers[4]["code"] == "RATE_LIMITED"
        assert api.get("/identities/acme").json()["key_count"] == 2
        assert api.delete("/identities/acme").status_code == 409
        gate = httpx.get(
            f"{console.base_url}/api/v1/authorize",
            headers={"Authorization": f"Bearer {keys[0]['secret']}"},
            timeout=10,
        )
        assert gate.status_code == 429  # the shared limit holds for authorize too
        changed = api.patch("/identities/acme", json={"meta": {"tier": "platinum"}, "ratelimits": []})
        assert changed.status_code == 200, changed.text
        again = _verify(console, keys[1]["secret"]).json()
        assert again["valid"] is True and again["identity"]["meta"] == {"tier": "platinum"}
        # the CLI makes an identity on the fly; the audit trail saw each change
        secret = console.create_key(
            email, "cli", "--identity", "globex", "--credits", "5", "--permission", "a.b"
        )
        answer = _verify(console, secret, {"permissions": "a.b"}).json()
        assert answer["identity"]["external_id"] == "globex" and answer["credits"] == 4
        actions = {event["action"] for event in api.get("/audit").json()["data"]}
        assert {"identity.create", "identity.update", "permission.create", "key.create"} <= actions


def test_the_cli_takes_every_option(console: Console) -> None:
    email = console.new_user()
    secret = console.create_key(
        email,
        "pro",
        "--credits", "10000",
        "--refill", "10000/month@1",
        "--limit", "requests=100/1m",
        "--permission", "documents.read",
        "--meta", '{"plan": "pro"}',
        "--ip-allow", "127.0.0.1/32",
        "--identity", "initech",
    )  # fmt: skip
    answer = _verify(console, secret, {"permissions": "documents.read"}).json()
    assert answer["valid"] is True and answer["credits"] == 9999 and answer["meta"] == {"plan": "pro"}
    assert [(r["name"], r["limit"], r["remaining"]) for r in answer["ratelimits"]] == [("requests", 100, 99)]
    bad = console.cli("create-key", email, "bad", "--limit", "requests=100", check=False)
    assert bad.returncode == 1 and "NAME=N/DURATION" in bad.stderr


def _burst(console: Console, secrets: list[str], calls: int) -> list[dict]:
    def one(index: int) -> dict:
        with httpx.Client(timeout=60) as client:
            return client.post(
                f"{console.base_url}/api/v1/verify",
                headers={"Authorization": f"Bearer {secrets[index % len(secrets)]}"},
            ).json()

    with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
        return list(pool.map(one, range(calls)))


def test_200_concurrent_calls_spend_exactly_50_credits(console: Console) -> None:
    email = console.new_user()
    with _api(console, email) as api:
        key = _create(api, credits=50)
        answers = _burst(console, [key["secret"]], 200)
        assert sum(answer["valid"] for answer in answers) == 50
        assert {answer["code"] for answer in answers if not answer["valid"]} == {"USAGE_EXCEEDED"}
        assert sorted(answer["credits"] for answer in answers if answer["valid"]) == list(range(50))
        assert api.get(f"/keys/{key['key_id']}").json()["credits"] == 0


def test_a_limit_shared_by_three_keys_lets_exactly_10_through(console: Console) -> None:
    email = console.new_user()
    with _api(console, email) as api:
        external_id = f"shared-{uuid.uuid4().hex[:6]}"
        made = api.post(
            "/identities",
            json={
                "external_id": external_id,
                "ratelimits": [{"name": "calls", "limit": 10, "duration": 60000}],
            },
        )
        assert made.status_code == 201, made.text
        secrets = [_create(api, identity=external_id)["secret"] for _ in range(3)]
        answers = _burst(console, secrets, 200)
        assert sum(answer["valid"] for answer in answers) == 10
        assert {answer["code"] for answer in answers if not answer["valid"]} == {"RATE_LIMITED"}


def test_the_keys_list_filters_by_identity(console: Console) -> None:
    """`GET /keys?identity=<external_id>`: only that identity's keys (as the console's table)."""
    email = console.new_user()
    with _api(console, email) as api:
        acme = [_create(api, identity="acme")["key_id"] for _ in range(2)]
        _create(api, identity="globex")
        _create(api)
        listed = api.get("/keys", params={"identity": "acme"})
        assert listed.status_code == 200, listed.text
        assert sorted(row["key_id"] for row in listed.json()["data"]) == sorted(acme)
        assert listed.json()["total"] == 2
        assert {row["identity"] for row in listed.json()["data"]} == {"acme"}
        paged = api.get("/keys", params={"identity": "acme", "limit": 1}).json()
        following = api.get("/keys", params={"identity": "acme", "limit": 1, "cursor": paged["next_cursor"]})
        assert {r["key_id"] for r in paged["data"] + following.json()["data"]} == set(acme)
        # the cursor belongs to its filter: another identity's list refuses it
        moved = api.get("/keys", params={"identity": "globex", "limit": 1, "cursor": paged["next_cursor"]})
        assert moved.status_code == 422 and moved.json()["code"] == "BAD_CURSOR", moved.text
        assert api.get("/keys", params={"identity": "nobody"}).json()["data"] == []
        assert len(api.get("/keys").json()["data"]) == 4
        schema = httpx.get(f"{console.base_url}/api/v1/openapi.json", timeout=10).json()
        parameters = schema["paths"]["/api/v1/keys"]["get"]["parameters"]
        assert "identity" in {parameter["name"] for parameter in parameters}
