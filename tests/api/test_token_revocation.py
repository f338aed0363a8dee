"""A removed member's or a disabled user's management tokens end for good (issue 21, item 3).

Before: the token stopped working while its creator was out, and worked again once they were
re-invited or re-enabled, because its rights are resolved per request from the membership.
"""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.api.conftest import ALL_SCOPES, management_token
from tests.conftest import PASSWORD, Console


def _status(console: Console, token: str) -> int:
    return httpx.get(
        f"{console.base_url}/api/v1/keys", headers={"Authorization": f"Bearer {token}"}, timeout=30
    ).status_code


def _join(console: Console, email: str, owner: str, workspace: str) -> None:
    """`email` accepts a fresh invitation through the sign-up form (new account or existing one)."""
    link = console.cli("invite", owner, workspace, "--role", "member").stdout.strip()
    invitation = parse_qs(urlsplit(link).query)["token"][0]
    form = {"email": email, "password": PASSWORD, "confirm_password": PASSWORD, "invitation": invitation}
    answer = httpx.post(
        f"{console.base_url}/api/v1/auth/sign-up", data=form, headers={"Origin": console.base_url}, timeout=60
    )
    assert answer.status_code == 303 and "error=" not in answer.headers["location"], answer.headers


def test_removal_revokes_the_members_tokens_there_for_good(console: Console) -> None:
    owner = console.new_user()
    team = f"Team {uuid.uuid4().hex[:6]}"
    console.cli("create-workspace", owner, team)
    member = f"member-{uuid.uuid4().hex[:10]}@example.com"
    _join(console, member, owner, team)
    in_team = management_token(console, member, ALL_SCOPES, "--workspace", team)
    personal = management_token(console, member)
    assert _status(console, in_team) == 200

    console.cli("remove-member", owner, team, member)
    assert _status(console, in_team) == 401
    _join(console, member, owner, team)  # re-invited: the old token stays dead
    assert _status(console, in_team) == 401
    assert _status(console, personal) == 200  # only that workspace's tokens

    owner_token = management_token(console, owner, ALL_SCOPES, "--workspace", team)
    events = httpx.get(
        f"{console.base_url}/api/v1/audit",
        headers={"Authorization": f"Bearer {owner_token}"},
        timeout=30,
    ).json()["data"]
    revoked = [e for e in events if e["action"] == "token.revoke"]
    assert len(revoked) == 1 and "member removed" in revoked[0]["detail"], revoked


def test_disabling_revokes_the_users_tokens_for_good(console: Console) -> None:
    email = console.new_user()
    token = management_token(console, email)
    assert _status(console, token) == 200
    console.cli("disable-user", email)
    assert _status(console, token) == 401
    console.cli("enable-user", email)
    assert _status(console, token) == 401
    fresh = management_token(console, email)  # a new token after re-enabling works
    events = httpx.get(
        f"{console.base_url}/api/v1/audit", headers={"Authorization": f"Bearer {fresh}"}, timeout=30
    ).json()["data"]
    assert any(e["action"] == "token.revoke" and "account disabled" in e["detail"] for e in events), events
