"""What the console says before a click agrees with what the service would refuse after it (issue
22 item 9): leaving a workspace, and deleting a Bias Profile that keys use."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from rxapp.pages.profiles.delete import in_use_text
from rxapp.services import keys as key_service
from rxapp.services import profiles as profile_service
from rxapp.services import workspaces as workspace_service
from rxapp.services.access import Access
from rxapp.services.errors import ConflictError, ServiceError
from tests.unit.helpers import Person


def _can_leave(session: Session, access: Access) -> bool:
    """Try it for real, then undo: the service's own answer."""
    try:
        workspace_service.remove_member(session, access, access.user_id)
    except ServiceError:
        return False
    finally:
        session.rollback()
    return True


def test_leave_is_refused_before_the_click_exactly_when_the_service_refuses_it(
    session: Session, alice: Person, bob: Person
) -> None:
    def refusal(access: Access) -> str:
        return workspace_service.leave_refusal(access, workspace_service.list_members(session, access))

    assert "personal workspace" in refusal(alice.access)
    assert not _can_leave(session, alice.access)
    created = workspace_service.create_workspace(session, alice.id, alice.actor, "Checkout")
    session.commit()
    team = workspace_service.resolve(session, alice.id, created.public_id)
    assert "only owner" in refusal(team)
    assert not _can_leave(session, team)
    token, _ = workspace_service.create_invitation(session, team, "viewer")
    workspace_service.accept_invitation(session, bob.id, token)
    session.commit()
    viewer = workspace_service.resolve(session, bob.id, team.workspace_public_id)
    assert refusal(viewer) == "" and _can_leave(session, viewer)
    assert "only owner" in refusal(team)  # a viewer does not make Alice's leaving possible
    workspace_service.change_role(session, team, bob.id, "owner")
    session.commit()
    assert refusal(team) == "" and _can_leave(session, team)


def test_the_delete_dialog_counts_the_keys_the_service_counts(session: Session, alice: Person) -> None:
    profile = profile_service.create_profile(session, alice.access, alice.actor, "strict")
    for name in ("checkout", "search"):
        key_service.create_key(session, alice.access, alice.actor, name, bias_profile_id=profile.id)
    session.commit()
    count = profile_service.get_profile(session, alice.access, profile.id).key_count
    assert (
        in_use_text(count)
        == "2 API keys use it; move them to another profile first (edit each key's Bias Profile)."
    )
    assert in_use_text(1).startswith("1 API key uses it; move it to another profile first")
    assert in_use_text(0) == ""
    with pytest.raises(ConflictError):
        profile_service.delete_profile(session, alice.access, alice.actor, profile.id)
