"""The management API's authorisation matrix, through the real FastAPI routes in process: each
scope × each role (owner, member, viewer) × own or foreign workspace × each endpoint. Allowed means
the scope is the endpoint's and the creator's CURRENT role allows it; otherwise 403 MISSING_SCOPE;
a foreign workspace is always 404 (or an empty list), exactly like a missing row."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlmodel import SQLModel

from rxapp import api as api_module
from rxapp import db
from rxapp.context import app_context
from rxapp.limiters import RateLimiter
from rxapp.services import keys as key_service
from rxapp.services import profiles as profile_service
from rxapp.services import tokens as token_service
from rxapp.services import workspaces as workspace_service
from rxapp.services.access import Access
from tests.unit.helpers import Person, new_user


@pytest.fixture
def client(app_settings) -> Iterator[TestClient]:
    db.get_engine.cache_clear()
    engine = db.get_engine()
    SQLModel.metadata.create_all(engine)
    with TestClient(api_module.api) as client:
        yield client
    engine.dispose()
    db.get_engine.cache_clear()


@dataclass(frozen=True)
class World:
    team: Access  # the owner's access to the team workspace
    people: dict[str, Person]  # role -> a person with that role in the team
    outsider: Person


def _world() -> World:
    with db.session_scope() as session:
        owner, member, viewer, outsider = (new_user(session) for _ in range(4))
        created = workspace_service.create_workspace(session, owner.id, owner.actor, "Team")
        team = workspace_service.resolve(session, owner.id, created.public_id)
        for person, role in ((member, "member"), (viewer, "member")):
            invitation, _ = workspace_service.create_invitation(session, team, role)
            workspace_service.accept_invitation(session, person.id, invitation)
    return World(team, {"owner": owner, "member": member, "viewer": viewer}, outsider)


def _fresh_key(access: Access) -> str:
    with db.session_scope() as session:
        return key_service.create_key(session, access, "setup", "").key.key_id


def _fresh_profile(access: Access) -> int:
    with db.session_scope() as session:
        return profile_service.create_profile(session, access, "setup", f"p-{_fresh_key(access)}").id


# endpoint name -> (scope it needs, the call given a client, headers and the workspace to aim at)
Call = Callable[[TestClient, dict[str, str], Access], int]
ENDPOINTS: dict[str, tuple[str, Call]] = {
    "list keys": ("keys:read", lambda c, h, a: c.get("/api/v1/keys", headers=h).status_code),
    "create key": ("keys:write", lambda c, h, a: c.post("/api/v1/keys", json={}, headers=h).status_code),
    "get key": ("keys:read", lambda c, h, a: c.get(f"/api/v1/keys/{_fresh_key(a)}", headers=h).status_code),
    "patch key": (
        "keys:write",
        lambda c, h, a: c.patch(f"/api/v1/keys/{_fresh_key(a)}", json={"name": "n"}, headers=h).status_code,
    ),
    "delete key": (
        "keys:write",
        lambda c, h, a: c.delete(f"/api/v1/keys/{_fresh_key(a)}", headers=h).status_code,
    ),
    "roll key": (
        "keys:write",
        lambda c, h, a: c.post(f"/api/v1/keys/{_fresh_key(a)}/roll", headers=h).status_code,
    ),
    "key usage": (
        "usage:read",
        lambda c, h, a: c.get(f"/api/v1/keys/{_fresh_key(a)}/usage", headers=h).status_code,
    ),
    "list profiles": ("profiles:read", lambda c, h, a: c.get("/api/v1/profiles", headers=h).status_code),
    "create profile": (
        "profiles:write",
        lambda c, h, a: (
            c.post("/api/v1/profiles", json={"name": f"n-{_fresh_key(a)}"}, headers=h).status_code
        ),
    ),
    "get profile": (
        "profiles:read",
        lambda c, h, a: c.get(f"/api/v1/profiles/{_fresh_profile(a)}", headers=h).status_code,
    ),
    "patch profile": (
        "profiles:write",
        lambda c, h, a: (
            c.patch(f"/api/v1/profiles/{_fresh_profile(a)}", json={"sensitivity": 0.9}, headers=h).status_code
        ),
    ),
    "delete profile": (
        "profiles:write",
        lambda c, h, a: c.delete(f"/api/v1/profiles/{_fresh_profile(a)}", headers=h).status_code,
    ),
    "audit": ("audit:read", lambda c, h, a: c.get("/api/v1/audit", headers=h).status_code),
}
ITEM_ENDPOINTS = {name for name in ENDPOINTS if name.split()[0] in ("get", "patch", "delete", "roll", "key")}


def _token(world: World, role: str, scope: str) -> str:
    """A token made by the person holding `role`; the viewer made theirs as a member, then was
    demoted: their token shrinks with them."""
    person = world.people[role]
    with db.session_scope() as session:
        access = workspace_service.resolve(session, person.id, world.team.workspace_public_id)
        return token_service.create_token(session, access, person.actor, f"{role}-{scope}", [scope]).secret


def _demote_viewer(world: World) -> None:
    with db.session_scope() as session:
        workspace_service.change_role(session, world.team, world.people["viewer"].id, "viewer")


def test_each_scope_each_role_each_endpoint_in_own_workspace(client: TestClient) -> None:
    world = _world()
    tokens = {
        (role, scope): _token(world, role, scope) for role in world.people for scope in token_service.SCOPES
    }
    _demote_viewer(world)
    failures = []
    for (role, scope), secret in tokens.items():
        headers = {"Authorization": f"Bearer {secret}"}
        for name, (needed, call) in ENDPOINTS.items():
            allowed = scope == needed and not (role == "viewer" and needed in token_service.WRITE_SCOPES)
            status = call(client, headers, world.team)
            if (200 <= status < 300) != allowed or (not allowed and status != 403):
                failures.append((role, scope, name, status))
    assert failures == []


def test_a_foreign_workspace_is_404_for_every_scope_and_endpoint(client: TestClient) -> None:
    world = _world()
    with db.session_scope() as session:
        outsider_access = workspace_service.resolve(session, world.outsider.id)
        secret = token_service.create_token(
            session, outsider_access, "x", "everything", list(token_service.SCOPES)
        ).secret
    headers = {"Authorization": f"Bearer {secret}"}
    for name in sorted(ITEM_ENDPOINTS):
        assert ENDPOINTS[name][1](client, headers, world.team) == 404, name
    listed = client.get("/api/v1/keys", headers=headers).json()
    assert listed["total"] == 0 and client.get("/api/v1/profiles", headers=headers).json()["data"] == []
    assert world.team.workspace_public_id not in client.get("/api/v1/audit", headers=headers).text


def test_removed_members_tokens_stop_and_unknown_fields_are_refused(client: TestClient) -> None:
    world = _world()
    secret = _token(world, "member", "keys:write")
    headers = {"Authorization": f"Bearer {secret}"}
    for body in ({"name": "x", "owner_id": 1}, {"digest": "0" * 64}, {"workspace_id": 1}):
        response = client.post("/api/v1/keys", json=body, headers=headers)
        assert response.status_code == 422 and response.json()["code"] == "INVALID_REQUEST"
        assert response.headers["content-type"].startswith("application/problem+json")
    with db.session_scope() as session:
        workspace_service.remove_member(session, world.team, world.people["member"].id)
    response = client.post("/api/v1/keys", json={}, headers=headers)
    assert response.status_code == 401 and response.json()["code"] == "UNAUTHORIZED"


def test_each_token_is_rate_limited_on_its_own(client: TestClient) -> None:
    world = _world()
    first, second = (_token(world, "member", "keys:read") for _ in range(2))
    with app_context.override(management_limiter=RateLimiter(6)):  # a burst of one call
        calls = [client.get("/api/v1/keys", headers={"Authorization": f"Bearer {first}"}) for _ in range(2)]
        assert [c.status_code for c in calls] == [200, 429]
        assert calls[1].json()["code"] == "RATE_LIMITED" and int(calls[1].headers["retry-after"]) >= 1
        assert client.get("/api/v1/keys", headers={"Authorization": f"Bearer {second}"}).status_code == 200
