"""Roles (issue 24) over real HTTP against the production console: /api/v1/roles (create, list,
get, rename, choose permissions, delete; in use → 409), keys given roles through REST and the CLI
(`--role`), verify counting the roles' permissions (its `permissions` lists the effective set),
and a role change reaching the key on its very next call."""

from __future__ import annotations

import httpx

from tests.api.test_programmable_keys import _api, _create, _verify
from tests.conftest import Console


def test_roles_grant_their_permissions_at_verify(console: Console) -> None:
    email = console.new_user()
    with _api(console, email) as api:
        made = api.post(
            "/roles", json={"name": "editor", "permissions": ["documents.write", "documents.read"]}
        )
        assert made.status_code == 201, made.text
        assert made.json()["permissions"] == ["documents.read", "documents.write"]
        assert api.post("/roles", json={"name": "editor"}).status_code == 409
        bad = api.post("/roles", json={"name": "x", "permissions": ["AND"]})
        assert bad.status_code == 422, bad.text
        key = _create(api, permissions=["admin"], roles=["editor"])
        assert key["roles"] == ["editor"] and key["permissions"] == ["admin"]
        unknown = api.post("/keys", json={"name": "k", "roles": ["nope"]})
        assert unknown.status_code == 422 and unknown.json()["code"] == "UNKNOWN_ROLE", unknown.text
        ok = _verify(console, key["secret"], {"permissions": "documents.write AND admin"}).json()
        assert ok["valid"] is True, ok
        assert ok["permissions"] == ["admin", "documents.read", "documents.write"]
        # a role change takes effect on the next call
        changed = api.patch("/roles/editor", json={"permissions": ["documents.read"]})
        assert changed.status_code == 200 and changed.json()["key_count"] == 1, changed.text
        denied = _verify(console, key["secret"], {"permissions": "documents.write"}).json()
        assert denied == {"valid": False, "code": "INSUFFICIENT_PERMISSIONS"}
        renamed = api.patch("/roles/editor", json={"name": "reader"})
        assert renamed.status_code == 200, renamed.text
        assert api.get(f"/keys/{key['key_id']}").json()["roles"] == ["reader"]
        assert api.get("/roles/editor").status_code == 404
        assert [r["name"] for r in api.get("/roles").json()["data"]] == ["reader"]
        assert _verify(console, key["secret"], {"permissions": "documents.read"}).json()["valid"] is True
        # in use: neither the role nor its permission goes
        assert api.delete("/roles/reader").json()["code"] == "ROLE_IN_USE"
        assert api.delete("/permissions/documents.read").status_code == 409
        # the CLI's --role
        secret = console.create_key(email, "cli", "--role", "reader")
        answer = _verify(console, secret, {"permissions": "documents.read"}).json()
        assert answer["valid"] is True and answer["permissions"] == ["documents.read"]
        # taken off every key, the role can go
        for row in api.get("/keys").json()["data"]:
            if row["roles"]:
                assert api.patch(f"/keys/{row['key_id']}", json={"roles": []}).status_code == 200
        assert api.delete("/roles/reader").status_code == 204
        actions = {event["action"] for event in api.get("/audit").json()["data"]}
        assert {"role.create", "role.update", "role.rename", "role.delete"} <= actions
        schema = httpx.get(f"{console.base_url}/api/v1/openapi.json", timeout=10).json()
        assert {"/api/v1/roles", "/api/v1/roles/{name}"} <= set(schema["paths"])
