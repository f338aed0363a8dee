"""Management tokens at the service layer: shown once, HMAC only, prefix and checksum, rights =
scopes ∩ the creator's current role, revocation, expiry, Last Used without a write per request."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from rxapp.context import get_settings
from rxapp.models import AuditEvent, IdempotencyRecord, ManagementToken
from rxapp.services import admin, idempotency, key_format
from rxapp.services import tokens as token_service
from rxapp.services import workspaces as workspace_service
from rxapp.services.access import Access
from rxapp.services.errors import ForbiddenError, ValidationError
from tests.unit.helpers import Person, utc_now


def _team_with(session: Session, owner: Person, person: Person, role: str) -> tuple[Access, Access]:
    created = workspace_service.create_workspace(session, owner.id, owner.actor, "Platform")
    team = workspace_service.resolve(session, owner.id, created.public_id)
    invitation, _ = workspace_service.create_invitation(session, team, role)
    workspace_service.accept_invitation(session, person.id, invitation)
    session.commit()
    return team, workspace_service.resolve(session, person.id, created.public_id)


def test_a_token_is_shown_once_stored_as_hmac_and_has_its_own_prefix(session: Session, alice: Person) -> None:
    created = token_service.create_token(
        session, alice.access, alice.actor, "ci", ["keys:read", "keys:write"]
    )
    session.commit()
    secret = created.secret
    assert secret.startswith("bpm_") and not secret.startswith(get_settings().key_prefix + "_")
    assert key_format.is_well_formed(secret, "bpm")
    row = session.exec(select(ManagementToken)).one()
    assert row.digest == key_format.digest(secret, get_settings().pepper)
    assert secret not in str(row.model_dump())
    assert created.token.masked.endswith(secret[-4:]) and secret not in created.token.model_dump_json()
    listed = token_service.list_tokens(session, alice.access)
    assert [t.token_id for t in listed] == [created.token.token_id]
    assert secret not in repr(listed) and secret not in repr(created)
    authed = token_service.authenticate(session, secret)
    assert (
        authed.scopes == {"keys:read", "keys:write"}
        and authed.access.workspace_id == alice.access.workspace_id
    )
    assert authed.actor == "token:ci"


def test_typos_unknown_and_foreign_prefixes_are_refused(session: Session, alice: Person) -> None:
    secret = token_service.create_token(session, alice.access, alice.actor, "ci", "keys:read").secret
    session.commit()
    typo = secret[:-8] + ("A" if secret[-8] != "A" else "B") + secret[-7:]
    forged = key_format.generate_secret("bpm")  # well formed, never issued
    key_like = "bpk_" + secret[4:]
    for bad in (typo, forged, key_like, "", "Bearer " + secret):
        with pytest.raises(token_service.TokenRejected):
            token_service.authenticate(session, bad)


def test_scopes_are_checked(session: Session, alice: Person) -> None:
    for bad in ([], ["keys:admin"], "keys:read,root"):
        with pytest.raises(ValidationError):
            token_service.create_token(session, alice.access, alice.actor, "ci", bad)


def test_rights_follow_the_creator_role_at_each_request(session: Session, alice: Person, bob: Person) -> None:
    team, bobs = _team_with(session, alice, bob, "member")
    secret = token_service.create_token(
        session, bobs, bob.actor, "deploy", ["keys:read", "keys:write"]
    ).secret
    session.commit()
    assert token_service.authenticate(session, secret).scopes == {"keys:read", "keys:write"}
    workspace_service.change_role(session, team, bob.id, "viewer")
    session.commit()
    assert token_service.authenticate(session, secret).scopes == {"keys:read"}  # shrank with him
    workspace_service.change_role(session, team, bob.id, "member")
    session.commit()
    admin.set_disabled(session, alice.actor, bob.email, True)
    session.commit()
    with pytest.raises(token_service.TokenRejected):
        token_service.authenticate(session, secret)
    admin.set_disabled(session, alice.actor, bob.email, False)
    session.commit()
    with pytest.raises(token_service.TokenRejected):  # disabling revoked it for good (issue 21)
        token_service.authenticate(session, secret)
    secret = token_service.create_token(session, bobs, bob.actor, "again", ["keys:read"]).secret
    session.commit()
    assert token_service.authenticate(session, secret).scopes == {"keys:read"}
    workspace_service.remove_member(session, team, bob.id)
    session.commit()
    with pytest.raises(token_service.TokenRejected):
        token_service.authenticate(session, secret)


def test_a_viewer_cannot_make_tokens_and_only_creator_or_owner_revokes(
    session: Session, alice: Person, bob: Person
) -> None:
    team, bobs_view = _team_with(session, alice, bob, "viewer")
    with pytest.raises(ForbiddenError):
        token_service.create_token(session, bobs_view, bob.actor, "x", "keys:read")
    workspace_service.change_role(session, team, bob.id, "member")
    session.commit()
    bobs = workspace_service.resolve(session, bob.id, team.workspace_public_id)
    alices = token_service.create_token(session, team, alice.actor, "owner-token", "audit:read").token
    with pytest.raises(ForbiddenError):
        token_service.revoke_token(session, bobs, bob.actor, alices.token_id)
    bobs_token = token_service.create_token(session, bobs, bob.actor, "b", "keys:read")
    token_service.revoke_token(session, team, alice.actor, bobs_token.token.token_id)  # an owner may
    session.commit()
    with pytest.raises(token_service.TokenRejected):
        token_service.authenticate(session, bobs_token.secret)
    actions = [e.action for e in session.exec(select(AuditEvent).where(AuditEvent.target_type == "token"))]
    assert actions.count("token.create") == 2 and actions.count("token.revoke") == 1


def test_expired_and_revoked_tokens_stop(session: Session, alice: Person) -> None:
    now = utc_now()
    created = token_service.create_token(
        session, alice.access, alice.actor, "short", "keys:read", expires_at=now + dt.timedelta(minutes=5)
    )
    session.commit()
    token_service.authenticate(session, created.secret, now=now)
    with pytest.raises(token_service.TokenRejected):
        token_service.authenticate(session, created.secret, now=now + dt.timedelta(minutes=6))
    with pytest.raises(ValidationError):
        token_service.create_token(session, alice.access, alice.actor, "past", "keys:read", expires_at=now)


def test_last_used_is_written_at_most_once_a_minute(session: Session, alice: Person) -> None:
    created = token_service.create_token(session, alice.access, alice.actor, "ci", "keys:read")
    session.commit()
    now = utc_now()
    token_service.authenticate(session, created.secret, now=now)
    session.commit()
    token_service.authenticate(session, created.secret, now=now + dt.timedelta(seconds=30))
    session.commit()
    first = token_service.list_tokens(session, alice.access)[0].last_used_at
    assert first is not None and abs((first - now).total_seconds()) < 1
    later = now + dt.timedelta(seconds=90)
    token_service.authenticate(session, created.secret, now=later)
    session.commit()
    session.expire_all()
    assert abs((token_service.list_tokens(session, alice.access)[0].last_used_at - later).total_seconds()) < 1


def test_idempotency_records_older_than_the_retention_are_pruned(session: Session, alice: Person) -> None:
    created = token_service.create_token(session, alice.access, alice.actor, "ci", ["keys:write"])
    session.commit()
    token_row = token_service.authenticate(session, created.secret).token_row_id
    old = idempotency.claim(session, token_row, "old-retry", "a" * 64)
    fresh = idempotency.claim(session, token_row, "fresh-retry", "b" * 64)
    session.execute(
        sa.update(IdempotencyRecord)
        .where(IdempotencyRecord.id == old.id)
        .values(created_at=utc_now() - dt.timedelta(hours=25))
    )
    session.commit()
    assert idempotency.prune(session, dt.timedelta(hours=24)) == 1
    session.commit()
    assert idempotency.find(session, token_row, "old-retry", "a" * 64) is None  # a retry starts afresh
    assert idempotency.find(session, token_row, "fresh-retry", "b" * 64) is not None
    assert [row.id for row in session.exec(select(IdempotencyRecord)).all()] == [fresh.id]
