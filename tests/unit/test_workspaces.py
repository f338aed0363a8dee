"""Workspaces at the service layer: isolation, every role against every action, invitations,
the last-owner rule, the sign-up policies, disabled accounts and the instance admin."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlmodel import Session, select

from rxapp.context import app_context
from rxapp.models import AuditEvent, Invitation
from rxapp.services import admin, audit, rolling, usage
from rxapp.services import keys as key_service
from rxapp.services import profiles as profile_service
from rxapp.services import users as user_service
from rxapp.services import workspaces as workspace_service
from rxapp.services.access import Access
from rxapp.services.errors import ConflictError, ForbiddenError, NotFoundError, ValidationError
from tests.unit.helpers import PASSWORD, Person, new_user, utc_now, verify_key


def _team(session: Session, owner: Person, name: str = "Checkout") -> Access:
    created = workspace_service.create_workspace(session, owner.id, owner.actor, name)
    session.commit()
    return workspace_service.resolve(session, owner.id, created.public_id)


def _join(session: Session, owner_access: Access, person: Person, role: str) -> Access:
    token, _ = workspace_service.create_invitation(session, owner_access, role)
    workspace_service.accept_invitation(session, person.id, token)
    session.commit()
    return workspace_service.resolve(session, person.id, owner_access.workspace_public_id)


def test_sign_up_makes_a_personal_workspace_and_the_first_account_is_admin(session: Session) -> None:
    first = new_user(session, "first@example.com")
    second = new_user(session, "second@example.com")
    assert first.access.personal and first.access.role == "owner"
    assert first.access.workspace_public_id.startswith("ws_") and len(first.access.workspace_public_id) == 19
    assert first.access.workspace_id != second.access.workspace_id
    assert user_service.find_user(session, first.email).is_admin
    assert not user_service.find_user(session, second.email).is_admin


def test_a_foreign_workspace_looks_exactly_like_a_missing_one(
    session: Session, alice: Person, bob: Person
) -> None:
    team = _team(session, alice)
    with pytest.raises(NotFoundError) as foreign:
        workspace_service.resolve(session, bob.id, team.workspace_public_id)
    with pytest.raises(NotFoundError) as missing:
        workspace_service.resolve(session, bob.id, "ws_doesnotexist0000")
    assert (foreign.value.code, foreign.value.message) == (missing.value.code, missing.value.message)


def test_keys_and_profiles_are_isolated_between_workspaces(
    session: Session, alice: Person, bob: Person
) -> None:
    team = _team(session, alice)
    key = key_service.create_key(session, team, alice.actor, "checkout").key
    profile = profile_service.create_profile(session, team, alice.actor, "strict")
    session.commit()
    # the same person's personal workspace does not see the team's rows
    assert key_service.list_keys(session, alice.access).total == 0
    assert profile_service.list_profiles(session, alice.access) == []
    for scope in (alice.access, bob.access):
        with pytest.raises(NotFoundError):
            key_service.get_key(session, scope, key.key_id)
        with pytest.raises(NotFoundError):
            key_service.delete_key(session, scope, "x", key.key_id)
        with pytest.raises(NotFoundError):
            profile_service.get_profile(session, scope, profile.id)
        with pytest.raises(NotFoundError):
            key_service.create_key(session, scope, "x", "steal", bias_profile_id=profile.id)
        assert usage.calls_by_key_id(session, scope, [key.key_id], utc_now() - dt.timedelta(days=1)) == {}
        events, _ = audit.list_events(session, scope)
        assert key.key_id not in {event.target_id for event in events}
    # a profile name is unique per workspace, not per person
    profile_service.create_profile(session, alice.access, alice.actor, "strict")
    with pytest.raises(ConflictError):
        profile_service.create_profile(session, team, alice.actor, "strict")


def test_a_shared_key_outlives_its_creator_and_is_seen_by_every_member(
    session: Session, alice: Person, bob: Person
) -> None:
    team = _team(session, alice)
    bob_in = _join(session, team, bob, "member")
    created = key_service.create_key(session, bob_in, bob.actor, "checkout")
    session.commit()
    assert [row.key_id for row in key_service.list_keys(session, team).rows] == [created.key.key_id]
    key_service.update_key(
        session, team, alice.actor, created.key.key_id, key_service.parse_changes({"status": "INACTIVE"})
    )
    workspace_service.remove_member(session, team, bob.id)
    session.commit()
    assert verify_key(session.connection(), created.secret).code == "INACTIVE"
    assert key_service.get_key(session, team, created.key.key_id).status == "INACTIVE"
    with pytest.raises(NotFoundError):
        workspace_service.resolve(session, bob.id, team.workspace_public_id)
    events, _ = audit.list_events(session, team)
    assert {"key.create", "key.status", "member.remove", "invitation.accept"} <= {e.action for e in events}


def _actions(session: Session) -> dict[str, Callable[[Access, dict], object]]:
    """Every service action, given an access and the rows an owner made for it."""
    return {
        "list_keys": lambda a, rows: key_service.list_keys(session, a),
        "get_key": lambda a, rows: key_service.get_key(session, a, rows["key"]),
        "key_usage": lambda a, rows: key_service.key_row_id(session, a, rows["key"]),
        "roll_links": lambda a, rows: rolling.links(session, a, rows["key"]),
        "list_events": lambda a, rows: audit.list_events(session, a),
        "list_profiles": lambda a, rows: profile_service.list_profiles(session, a),
        "list_members": lambda a, rows: workspace_service.list_members(session, a),
        "create_key": lambda a, rows: key_service.create_key(session, a, a.email, "new"),
        "update_key": lambda a, rows: key_service.update_key(
            session, a, a.email, rows["key"], key_service.parse_changes({"name": "renamed"})
        ),
        "delete_key": lambda a, rows: key_service.delete_key(session, a, a.email, rows["key"]),
        "roll_key": lambda a, rows: rolling.roll_key(session, a, a.email, rows["key"], dt.timedelta(hours=1)),
        "expire_now": lambda a, rows: rolling.expire_now(session, a, a.email, rows["key"]),
        "create_profile": lambda a, rows: profile_service.create_profile(session, a, a.email, "p2"),
        "update_profile": lambda a, rows: profile_service.update_profile(
            session,
            a,
            a.email,
            rows["profile"],
            name="p3",
            description="",
            categories=[],
            sensitivity=0.5,
            action="flag",
        ),
        "delete_profile": lambda a, rows: profile_service.delete_profile(
            session, a, a.email, rows["profile"]
        ),
        "create_invitation": lambda a, rows: workspace_service.create_invitation(session, a, "viewer"),
        "list_invitations": lambda a, rows: workspace_service.list_invitations(session, a),
        "change_role": lambda a, rows: workspace_service.change_role(session, a, rows["other"], "viewer"),
        "remove_member": lambda a, rows: workspace_service.remove_member(session, a, rows["other"]),
        "rename_workspace": lambda a, rows: workspace_service.rename_workspace(session, a, "Renamed"),
        "delete_workspace": lambda a, rows: workspace_service.delete_workspace(session, a),
    }


READS = {"list_keys", "get_key", "key_usage", "roll_links", "list_events", "list_profiles", "list_members"}
WRITES = {
    "create_key",
    "update_key",
    "delete_key",
    "roll_key",
    "expire_now",
    "create_profile",
    "update_profile",
    "delete_profile",
}
ALLOWED = {
    "viewer": READS,
    "member": READS | WRITES,
    "owner": READS
    | WRITES
    | {
        "create_invitation",
        "list_invitations",
        "change_role",
        "remove_member",
        "rename_workspace",
        "delete_workspace",
    },
}


@pytest.mark.parametrize("role", ["owner", "member", "viewer", "outsider"])
@pytest.mark.parametrize("action", sorted(READS | WRITES | ALLOWED["owner"]))
def test_role_by_action_matrix(session: Session, role: str, action: str) -> None:
    owner = new_user(session)
    actor = new_user(session)
    other = new_user(session)
    team = _team(session, owner)
    _join(session, team, other, "member")
    key = key_service.create_key(session, team, owner.actor, "k").key.key_id
    profile = profile_service.create_profile(session, team, owner.actor, "p").id
    session.commit()
    if role == "outsider":
        # not a member: the workspace resolves to NOT_FOUND; their own access sees none of the rows
        with pytest.raises(NotFoundError):
            workspace_service.resolve(session, actor.id, team.workspace_public_id)
        access = actor.access
    else:
        access = _join(session, team, actor, role) if role != "owner" else team
    rows = {"key": key, "profile": profile, "other": other.id}
    run = _actions(session)[action]
    if role == "outsider":
        if action in {
            "list_keys",
            "list_events",
            "list_profiles",
            "list_members",
            "create_key",
            "create_profile",
            "create_invitation",
            "list_invitations",
            "rename_workspace",
            "delete_workspace",
        }:
            return  # acts on the outsider's own workspace: allowed there, and touches nothing of the team's
        with pytest.raises(NotFoundError):
            run(access, rows)
        return
    if action in ALLOWED[role]:
        run(access, rows)
        session.commit()
    else:
        with pytest.raises(ForbiddenError) as refused:
            run(access, rows)
        assert refused.value.code == "FORBIDDEN"
        session.rollback()
        assert key_service.get_key(session, team, key).name == "k"  # nothing changed


def test_at_least_one_owner(session: Session, alice: Person, bob: Person) -> None:
    team = _team(session, alice)
    with pytest.raises(ConflictError) as last:
        workspace_service.change_role(session, team, alice.id, "member")
    assert last.value.code == "LAST_OWNER"
    with pytest.raises(ConflictError):
        workspace_service.remove_member(session, team, alice.id)
    _join(session, team, bob, "owner")
    workspace_service.change_role(session, team, alice.id, "viewer")
    session.commit()
    assert workspace_service.resolve(session, alice.id, team.workspace_public_id).role == "viewer"
    with pytest.raises(ValidationError):
        workspace_service.remove_member(session, alice.access, alice.id)  # cannot leave a personal workspace


def test_invitation_single_use_expiry_and_revocation(session: Session, alice: Person, bob: Person) -> None:
    team = _team(session, alice)
    now = utc_now()
    token, invitation = workspace_service.create_invitation(session, team, "viewer", now=now)
    assert invitation.expires_at == now + dt.timedelta(days=7)
    stored = session.exec(select(Invitation)).one()
    assert token not in stored.token_digest and len(stored.token_digest) == 64
    assert workspace_service.invitation_preview(session, token) == ("Checkout", "viewer")
    workspace_service.accept_invitation(session, bob.id, token)
    session.commit()
    carol = new_user(session, "carol@example.com")
    with pytest.raises(NotFoundError) as reused:
        workspace_service.accept_invitation(session, carol.id, token)
    assert reused.value.code == "INVITATION_INVALID"
    late, _ = workspace_service.create_invitation(
        session, team, "member", days=1, now=now - dt.timedelta(days=2)
    )
    with pytest.raises(NotFoundError):
        workspace_service.accept_invitation(session, carol.id, late)
    revoked, pending = workspace_service.create_invitation(session, team, "member")
    assert [p.id for p in workspace_service.list_invitations(session, team)] == [pending.id]
    workspace_service.revoke_invitation(session, team, pending.id)
    session.commit()
    assert workspace_service.list_invitations(session, team) == []
    with pytest.raises(NotFoundError):
        workspace_service.accept_invitation(session, carol.id, revoked)
    with pytest.raises(NotFoundError):
        workspace_service.accept_invitation(session, carol.id, "inv_forged")
    actions = {e.action for e in session.exec(select(AuditEvent)).all()}
    assert {"invitation.create", "invitation.accept", "invitation.revoke"} <= actions


def _policy(monkeypatch: pytest.MonkeyPatch, policy: str) -> None:
    monkeypatch.setenv("APIKEYS_SIGNUP", policy)
    app_context.reset()  # settings are read again; the test's pinned members stay


def test_default_policy_is_invite(app_settings) -> None:
    assert app_settings.signup_policy == "invite"


@pytest.mark.parametrize("policy", ["open", "invite", "closed"])
def test_the_first_account_is_always_allowed(
    session: Session, monkeypatch: pytest.MonkeyPatch, policy: str
) -> None:
    _policy(monkeypatch, policy)
    signed = user_service.register(session, "first@example.com", PASSWORD)
    assert signed is not None and signed.user.is_admin


def test_sign_up_policies(session: Session, alice: Person, monkeypatch: pytest.MonkeyPatch) -> None:
    _policy(monkeypatch, "open")
    assert user_service.register(session, "open@example.com", PASSWORD) is not None
    _policy(monkeypatch, "closed")
    with pytest.raises(ForbiddenError) as closed:
        user_service.register(session, "closed@example.com", PASSWORD)
    assert closed.value.code == "SIGNUP_CLOSED"
    assert user_service.register(session, alice.email, PASSWORD) is not None  # sign-in still works
    _policy(monkeypatch, "invite")
    with pytest.raises(ForbiddenError) as invite:
        user_service.register(session, "stranger@example.com", PASSWORD)
    assert invite.value.code == "SIGNUP_INVITE_ONLY"
    token, _ = workspace_service.create_invitation(session, alice.access, "member")
    invited = user_service.register(session, "invited@example.com", PASSWORD, invitation=token)
    assert invited is not None
    # under every policy the operator (CLI) may create accounts
    _policy(monkeypatch, "closed")
    made = user_service.sign_up(session, "made@example.com", PASSWORD, admin=True)
    assert made.is_admin
    assert user_service.authenticate(session, "made@example.com", PASSWORD) is not None


def test_disabled_user_cannot_sign_in_and_sessions_end(session: Session, alice: Person, bob: Person) -> None:
    token = user_service.start_session(session, bob.id)
    session.commit()
    assert user_service.resolve_session(session, token) is not None
    admin.set_disabled(session, alice.actor, bob.email, True)
    session.commit()
    assert user_service.resolve_session(session, token) is None
    assert user_service.authenticate(session, bob.email, PASSWORD) is None
    with pytest.raises(NotFoundError):
        workspace_service.resolve(session, bob.id)
    admin.set_disabled(session, alice.actor, bob.email, False)
    session.commit()
    signed = user_service.authenticate(session, bob.email, PASSWORD)
    assert signed is not None
    rows = {row.email: row for row in admin.list_users(session)}
    assert rows[bob.email].last_sign_in_at is not None and rows[bob.email].workspaces == ["Personal"]
    with pytest.raises(ForbiddenError):
        admin.require_admin(session, bob.id)
    admin.require_admin(session, alice.id)
    counts = {row.public_id: row.keys for row in admin.list_workspaces(session)}
    assert counts[alice.access.workspace_public_id] == 0
