"""The management API over real HTTP against the running console, as a CI job would use it with
curl: a token made with the CLI (the page makes the same), then create, list, roll, usage, delete;
read-only tokens, foreign workspaces, If-Match, Idempotency-Key under concurrent retries,
revoked and expired tokens, and a sweep for secrets in logs, audit rows and error bodies."""

from __future__ import annotations

import base64
import concurrent.futures
import json
import uuid

import httpx

from tests.api.conftest import ALL_SCOPES, management_token, utc_in, wait_for
from tests.conftest import Console

READ_ONLY = "keys:read,profiles:read,usage:read,audit:read"


def _client(console: Console, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{console.base_url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def _problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["code"] == code and body["title"] and body["type"]
    assert "Traceback" not in response.text


def test_create_list_roll_usage_delete_with_only_http(console: Console) -> None:
    email = console.new_user()
    with _client(console, management_token(console, email)) as api:
        created = api.post("/keys", json={"name": "checkout"})
        assert created.status_code == 201, created.text
        key = created.json()
        assert key["secret"].startswith("bpk_") and key["secret_shown"] is False
        assert created.headers["etag"] == '"v1"' and created.headers["location"].endswith(key["key_id"])
        assert console.verify(key["secret"]).json()["valid"] is True
        listed = api.get("/keys", params={"search": "checkout"}).json()
        assert [row["key_id"] for row in listed["data"]] == [key["key_id"]]
        assert "secret" not in listed["data"][0]
        rolled = api.post(f"/keys/{key['key_id']}/roll", json={"grace": "1h"})
        assert rolled.status_code == 201, rolled.text
        new = rolled.json()["key"]
        assert new["secret"] != key["secret"] and console.verify(new["secret"]).json()["valid"]
        assert console.verify(key["secret"]).json()["valid"]  # grace period

        def two_valid_calls() -> dict | None:  # each worker flushes its own counts
            usage = api.get(f"/keys/{key['key_id']}/usage").json()
            return usage if sum(point["valid"] for point in usage["hours"]) >= 2 else None

        usage = wait_for(two_valid_calls, timeout=20, what="usage flushed")
        assert usage["key_id"] == key["key_id"]
        assert api.delete(f"/keys/{new['key_id']}").status_code == 204
        _problem(api.get(f"/keys/{new['key_id']}"), 404, "NOT_FOUND")
        assert console.verify(new["secret"]).json()["valid"] is False
        actors = {event["actor"] for event in api.get("/audit").json()["data"]}
        assert any(actor.startswith("token:ci-") for actor in actors)


def test_paging_follows_the_cursor(console: Console) -> None:
    """Keyset cursors: deleting the key a page ended on (and creating one) skips nothing."""
    email = console.new_user()
    for number in range(5):
        console.create_key(email, f"paged-{number}")
    with _client(console, management_token(console, email, "keys:read,keys:write")) as api:
        seen: list[str] = []
        cursor = None
        while True:
            page = api.get(
                "/keys",
                params={"limit": 2, "sort": "name", "order": "asc", **({"cursor": cursor} if cursor else {})},
            ).json()
            seen += [row["name"] for row in page["data"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
            if len(seen) == 2:  # between pages: the page's last key goes, a new first one comes
                assert api.delete(f"/keys/{page['data'][-1]['key_id']}").status_code == 204
                assert api.post("/keys", json={"name": "a-new-first"}).status_code == 201
        assert seen == [f"paged-{n}" for n in range(5)]
        for bad in ("bm90LWEtY3Vyc29y", cursor or "W1tudWxsLCAxXSwgIm90aGVyIl0"):
            _problem(api.get("/keys", params={"limit": 3, "cursor": bad}), 422, "BAD_CURSOR")
        first = api.get("/keys", params={"limit": 1, "sort": "created"}).json()
        _problem(  # a created-sort cursor whose time was tampered with
            api.get(
                "/keys", params={"limit": 1, "sort": "created", "cursor": _tampered(first["next_cursor"])}
            ),
            422,
            "BAD_CURSOR",
        )


def _tampered(cursor: str) -> str:
    (_value, row_id), fingerprint = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    return base64.urlsafe_b64encode(json.dumps([["yesterday", row_id], fingerprint]).encode()).decode()


def test_a_read_only_token_is_refused_every_write(console: Console) -> None:
    email = console.new_user()
    secret = console.create_key(email, "kept")
    with _client(console, management_token(console, email)) as full:
        key_id = full.get("/keys").json()["data"][0]["key_id"]
        profile_id = full.post("/profiles", json={"name": "p"}).json()["id"]
    with _client(console, management_token(console, email, READ_ONLY)) as api:
        for response in (
            api.post("/keys", json={"name": "x"}),
            api.patch(f"/keys/{key_id}", json={"name": "x"}),
            api.delete(f"/keys/{key_id}"),
            api.post(f"/keys/{key_id}/roll", json={}),
            api.post("/profiles", json={"name": "x"}),
            api.patch(f"/profiles/{profile_id}", json={"name": "x"}),
            api.delete(f"/profiles/{profile_id}"),
        ):
            _problem(response, 403, "MISSING_SCOPE")
        assert api.get(f"/keys/{key_id}").json()["name"] == "kept"
    assert console.verify(secret).json()["valid"]


def test_a_token_of_workspace_a_sees_nothing_of_b(console: Console) -> None:
    alice, bob = console.new_user(), console.new_user()
    with _client(console, management_token(console, bob)) as bobs:
        key_id = bobs.post("/keys", json={"name": "bobs"}).json()["key_id"]
        profile_id = bobs.post("/profiles", json={"name": "bobs"}).json()["id"]
    with _client(console, management_token(console, alice)) as api:
        assert api.get("/keys").json()["total"] == 0
        assert api.get("/profiles").json()["data"] == []
        assert key_id not in api.get("/audit").text
        for response in (
            api.get(f"/keys/{key_id}"),
            api.patch(f"/keys/{key_id}", json={"name": "x"}),
            api.delete(f"/keys/{key_id}"),
            api.post(f"/keys/{key_id}/roll", json={}),
            api.get(f"/keys/{key_id}/usage"),
            api.get(f"/profiles/{profile_id}"),
            api.patch(f"/profiles/{profile_id}", json={"name": "x"}),
            api.delete(f"/profiles/{profile_id}"),
            api.get("/keys/key_doesnotexist0000"),
        ):
            _problem(response, 404, "NOT_FOUND")


def test_if_match_refuses_a_stale_write(console: Console) -> None:
    email = console.new_user()
    with _client(console, management_token(console, email)) as api:
        created = api.post("/keys", json={"name": "v"})
        key_id, first_etag = created.json()["key_id"], created.headers["etag"]
        changed = api.patch(f"/keys/{key_id}", json={"name": "v2"}, headers={"If-Match": first_etag})
        assert changed.status_code == 200 and changed.headers["etag"] == '"v2"'
        _problem(
            api.patch(f"/keys/{key_id}", json={"name": "v3"}, headers={"If-Match": first_etag}),
            412,
            "PRECONDITION_FAILED",
        )
        _problem(api.delete(f"/keys/{key_id}", headers={"If-Match": first_etag}), 412, "PRECONDITION_FAILED")
        assert api.get(f"/keys/{key_id}").json()["name"] == "v2"
        assert api.delete(f"/keys/{key_id}", headers={"If-Match": changed.headers["etag"]}).status_code == 204


def test_concurrent_retries_with_one_idempotency_key_make_one_key(console: Console) -> None:
    email = console.new_user()
    token = management_token(console, email)
    idem = uuid.uuid4().hex

    def create(_: int) -> httpx.Response:
        with _client(console, token) as api:  # a connection each: spread over the workers
            return api.post("/keys", json={"name": "once"}, headers={"Idempotency-Key": idem})

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(create, range(8)))
    assert all(a.status_code in (200, 201) for a in answers), [a.text for a in answers]
    assert {a.json()["key_id"] for a in answers} == {answers[0].json()["key_id"]}
    firsts = [a for a in answers if a.status_code == 201]
    replays = [a for a in answers if a.status_code == 200]
    assert len(firsts) == 1 and firsts[0].json()["secret"].startswith("bpk_")
    assert all(r.headers["idempotent-replayed"] == "true" for r in replays)
    assert all(r.json()["secret"] is None and r.json()["secret_shown"] is True for r in replays)
    with _client(console, token) as api:
        assert api.get("/keys").json()["total"] == 1
        _problem(
            api.post("/keys", json={"name": "other"}, headers={"Idempotency-Key": idem}),
            422,
            "IDEMPOTENCY_KEY_REUSED",
        )


def test_revoked_and_expired_tokens_get_401(console: Console) -> None:
    email = console.new_user()
    token = management_token(console, email)
    with _client(console, token) as api:
        assert api.get("/keys").status_code == 200
        tokens_listed = console.cli("revoke-token", email, "tok_doesnotexist000000", check=False)
        assert tokens_listed.returncode == 1
    token_id = _token_id(console, email, token)
    console.cli("revoke-token", email, token_id)
    with _client(console, token) as api:
        _problem(api.get("/keys"), 401, "UNAUTHORIZED")
    short = management_token(console, email, ALL_SCOPES, "--expires-at", utc_in(15).isoformat())
    with _client(console, short) as api:
        assert api.get("/keys").status_code == 200
        wait_for(lambda: api.get("/keys").status_code == 401, timeout=40, what="token expiry")
    for header in ("Bearer", "Bearer bpm_nope", "Basic abc", ""):
        response = httpx.get(
            f"{console.base_url}/api/v1/keys", headers={"Authorization": header} if header else {}
        )
        _problem(response, 401, "UNAUTHORIZED")
        assert response.headers["www-authenticate"] == "Bearer"


def _token_id(console: Console, email: str, token: str) -> str:
    """The token's id from the audit trail (its creation event), read through the API itself."""
    with _client(console, token) as api:
        events = api.get("/audit").json()["data"]
    created = [e for e in events if e["action"] == "token.create"]
    assert created
    return created[0]["target_id"]


def test_no_token_or_key_secret_in_logs_audit_or_errors(console: Console) -> None:
    email = console.new_user()
    token = management_token(console, email)
    with _client(console, token) as api:
        secret = api.post("/keys", json={"name": "swept"}).json()["secret"]
        key_id = api.get("/keys").json()["data"][0]["key_id"]
        errors = [
            api.post("/keys", json={"name": secret, "extra": token}),
            api.patch(f"/keys/{key_id}", json={"name": "\x00" + secret}),
            api.get(f"/keys/{secret}"),
            httpx.get(f"{console.base_url}/api/v1/keys", headers={"Authorization": f"Bearer {token}x"}),
        ]
        rolled = api.post(f"/keys/{key_id}/roll", json={"grace": "0"}).json()["key"]["secret"]
        audit_text = api.get("/audit").text
    for response in errors:
        assert response.status_code >= 400
        for value in (token, secret, rolled):
            assert value not in response.text
    for value in (token, secret, rolled, token[4:36], secret[4:36]):
        assert value not in audit_text
    log = console.log_path.read_text(errors="replace")
    for value in (token, secret, rolled, token[4:36], secret[4:36], rolled[4:36]):
        assert value not in log
