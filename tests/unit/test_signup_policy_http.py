"""The sign-up form under the default policy (invite), through the real FastAPI routes in
process: the first account is allowed and is the instance admin; a stranger is refused with a
fixed code; an invitation link lets its holder sign up and join the workspace; `closed` refuses
everyone and the CLI-made admin still signs in."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlmodel import SQLModel, select

from rxapp import api as api_module
from rxapp import db
from rxapp.__main__ import main as cli
from rxapp.context import app_context, get_settings
from rxapp.models import AuditEvent
from rxapp.pages import auth as auth_page
from rxapp.services import users as user_service
from rxapp.services import workspaces as workspace_service
from tests.unit.helpers import PASSWORD

ORIGIN = "http://localhost:3000"


@pytest.fixture
def client(app_settings) -> Iterator[TestClient]:
    db.get_engine.cache_clear()
    engine = db.get_engine()
    SQLModel.metadata.create_all(engine)
    with TestClient(api_module.api, base_url=ORIGIN, follow_redirects=False) as client:
        yield client
    engine.dispose()
    db.get_engine.cache_clear()


def _sign_up(client: TestClient, email: str, invitation: str = ""):
    data = {"email": email, "password": PASSWORD, "confirm_password": PASSWORD, "invitation": invitation}
    return client.post("/api/v1/auth/sign-up", data=data, headers={"Origin": ORIGIN})


def _error(response) -> str:
    assert response.status_code == 303, response.text
    return parse_qs(urlsplit(response.headers["location"]).query).get("error", [""])[0]


def test_default_policy_first_account_then_invitation_only(client: TestClient) -> None:
    assert get_settings().signup_policy == "invite"
    first = _sign_up(client, "first@example.com")
    assert _error(first) == "" and "apikeys_session" in first.headers.get("set-cookie", "")
    assert _error(_sign_up(client, "stranger@example.com")) == "signup_invite_only"
    with db.session_scope() as session:
        owner = user_service.find_user(session, "first@example.com")
        assert owner is not None and owner.is_admin
        assert user_service.find_user(session, "stranger@example.com") is None
        team = workspace_service.create_workspace(session, owner.id, owner.email, "Team")
        access = workspace_service.resolve(session, owner.id, team.public_id)
        token, _ = workspace_service.create_invitation(session, access, "viewer")
    assert _error(_sign_up(client, "invited@example.com", token)) == ""
    with db.session_scope() as session:
        invited = user_service.find_user(session, "invited@example.com")
        assert invited is not None and not invited.is_admin
        assert workspace_service.resolve(session, invited.id, team.public_id).role == "viewer"
    # single use: the same link does not make a second account
    assert _error(_sign_up(client, "again@example.com", token)) == "signup_invite_only"
    with db.session_scope() as session:
        refused = session.exec(select(AuditEvent).where(AuditEvent.action == "user.sign_up_refused")).all()
        # one row per client, reason and window, counting both (issue 21 item 4: no audit flood)
        assert [(e.target_id, e.occurrences) for e in refused] == [("stranger@example.com", 2)]
        assert all("policy=invite" in e.detail for e in refused)


def test_closed_refuses_sign_up_and_the_cli_admin_signs_in(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("APIKEYS_SIGNUP", "closed")
    app_context.reset()
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO(PASSWORD + "\n"))
    assert cli(["create-user", "ops@example.com", "--admin"]) == 0
    assert _error(_sign_up(client, "someone@example.com")) == "signup_closed"
    signed = client.post(
        "/api/v1/auth/sign-in",
        data={"email": "ops@example.com", "password": PASSWORD},
        headers={"Origin": ORIGIN},
    )
    assert _error(signed) == "" and "apikeys_session" in signed.headers.get("set-cookie", "")
    with db.session_scope() as session:
        assert user_service.find_user(session, "ops@example.com").is_admin
        assert user_service.find_user(session, "someone@example.com") is None


def test_the_sign_up_page_explains_the_invite_policy_instead_of_a_form(client: TestClient) -> None:
    """What AuthPageState.load_sign_up puts in the page's #signup-policy callout (the page shows
    it instead of the form): nothing on an empty instance or with a pending invitation, the
    invite-only explanation otherwise. The shared e2e console runs `open`, so this is checked here
    rather than in a second browser console."""
    assert get_settings().signup_policy == "invite"
    assert auth_page.POLICY_EXPLANATIONS.get(auth_page._signup_refusal(""), "") == ""  # first account
    assert _error(_sign_up(client, "first@example.com")) == ""
    explanation = auth_page.POLICY_EXPLANATIONS.get(auth_page._signup_refusal(""), "")
    assert "invitation" in explanation
    with db.session_scope() as session:
        owner = user_service.find_user(session, "first@example.com")
        assert owner is not None
        access = workspace_service.resolve(session, owner.id)
        token, _ = workspace_service.create_invitation(session, access, "member")
    assert auth_page._signup_refusal(token) == ""
    assert auth_page._signup_refusal("inv_not-a-real-one") == user_service.SIGNUP_INVITE_ONLY_CODE
