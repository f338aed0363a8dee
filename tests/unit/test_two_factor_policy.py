"""The workspace two-factor policy (services/two_factor_policy.py) and who has which factors
(services/factors.py): only owners set it, only with a factor of their own, audited; a member
without a factor is flagged on resolve until they add a code or a passkey; the admin's column."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from rxapp.models import AuditEvent
from rxapp.services import admin, factors, passkeys, two_factor_policy
from rxapp.services import workspaces as workspace_service
from rxapp.services.access import TWO_FACTOR_REQUIRED, Need, require
from rxapp.services.errors import ConflictError, ForbiddenError
from tests.soft_authenticator import SoftPasskey
from tests.unit.helpers import Person
from tests.unit.test_passkeys import ORIGIN, _register
from tests.unit.test_two_factor import _turn_on
from tests.unit.test_workspaces import _join, _team


def test_only_an_owner_with_a_factor_sets_the_policy(session: Session, alice: Person, bob: Person) -> None:
    team = _team(session, alice)
    member = _join(session, team, bob, "member")
    with pytest.raises(ForbiddenError):
        two_factor_policy.set_required(session, member, True)
    session.rollback()
    with pytest.raises(ConflictError) as refused:
        two_factor_policy.set_required(session, team, True)  # the owner has no second factor
    assert refused.value.code == two_factor_policy.OWNER_FACTOR_FIRST
    session.rollback()
    _turn_on(session, alice)
    two_factor_policy.set_required(session, team, True, client_address="10.0.0.1")
    session.commit()
    assert two_factor_policy.is_required(session, member)
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "workspace.two_factor_policy")).one()
    assert (event.actor, event.detail, event.workspace_id) == (
        alice.email,
        "two factors required",
        team.workspace_id,
    )
    two_factor_policy.set_required(session, team, False)
    session.commit()
    assert not two_factor_policy.is_required(session, member)


def test_a_member_without_a_factor_is_flagged_until_they_add_one(
    session: Session, alice: Person, bob: Person
) -> None:
    team = _team(session, alice)
    _join(session, team, bob, "viewer")
    _turn_on(session, alice)
    two_factor_policy.set_required(session, team, True)
    session.commit()
    flagged = workspace_service.resolve(session, bob.id, team.workspace_public_id)
    assert flagged.needs_two_factor
    with pytest.raises(ForbiddenError) as barred:  # every workspace service refuses, not only the pages
        require(flagged, Need.READ)
    assert barred.value.code == TWO_FACTOR_REQUIRED
    assert not workspace_service.resolve(session, alice.id, team.workspace_public_id).needs_two_factor
    assert not workspace_service.resolve(session, bob.id).needs_two_factor  # his personal one: no policy
    _register(session, bob, SoftPasskey(ORIGIN))
    assert not workspace_service.resolve(session, bob.id, team.workspace_public_id).needs_two_factor
    assert [
        w.require_two_factor for w in workspace_service.list_for_user(session, bob.id) if not w.personal
    ] == [True]


def test_factors_and_the_admin_column(session: Session, alice: Person, bob: Person) -> None:
    carol_id = bob.id + 1
    assert factors.describe(session, [alice.id, bob.id]) == {alice.id: "none", bob.id: "none"}
    _turn_on(session, alice)
    _register(session, alice, SoftPasskey(ORIGIN), "One")
    _register(session, bob, SoftPasskey(ORIGIN), "One")
    _register(session, bob, SoftPasskey(ORIGIN), "Two")
    assert factors.describe(session, [alice.id, bob.id, carol_id]) == {
        alice.id: "code + 1 passkey",
        bob.id: "2 passkeys",
        carol_id: "none",
    }
    assert factors.has_second_factor(session, bob.id)
    rows = {row.email: row.two_factor for row in admin.list_users(session)}
    assert rows == {alice.email: "code + 1 passkey", bob.email: "2 passkeys"}
    passkeys.remove_all(session, bob.id)
    assert not factors.has_second_factor(session, bob.id)
