"""Issue 22, item 10 at the service layer: whom an invitation is for, one meaning of an end date for
keys and management tokens, the admin's true last sign-in, Personal workspaces told apart, no
disabling oneself, deleting a workspace by its name, and the pagination inputs."""

from __future__ import annotations

import datetime as dt
import os
import time
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session

from rxapp import cli_common
from rxapp.components.page import PAGE_SIZES, page_number, page_size_choice
from rxapp.models import User
from rxapp.services import admin, moments, tokens
from rxapp.services import keys as key_service
from rxapp.services import users as user_service
from rxapp.services import workspaces as workspace_service
from rxapp.services.access import Access
from rxapp.services.errors import ForbiddenError, NotFoundError, ValidationError
from tests.unit.helpers import PASSWORD, Person, new_user, verify_key

NOW = dt.datetime(2027, 3, 10, 12, 0, tzinfo=dt.UTC)


def _team(session: Session, owner: Person, name: str) -> Access:
    created = workspace_service.create_workspace(session, owner.id, owner.actor, name)
    session.commit()
    return workspace_service.resolve(session, owner.id, created.public_id)


# ---------------------------------------------------------------- invitations say for whom


def test_an_invitation_keeps_whom_it_is_for_and_lists_it(session: Session, alice: Person) -> None:
    team = _team(session, alice, "Checkout")
    workspace_service.create_invitation(session, team, "viewer", note="  carol@example.com \n")
    workspace_service.create_invitation(session, team, "member")
    session.commit()
    pending = workspace_service.list_invitations(session, team)
    assert sorted(invitation.note for invitation in pending) == ["", "carol@example.com"]


def test_an_overlong_for_is_refused_naming_its_field(session: Session, alice: Person) -> None:
    team = _team(session, alice, "Checkout")
    with pytest.raises(ValidationError) as refused:
        workspace_service.create_invitation(session, team, "member", note="x" * 121)
    assert (refused.value.code, refused.value.field) == ("NOTE_TOO_LONG", "note")
    token, created = workspace_service.create_invitation(session, team, "member", note="y" * 120)
    assert token.startswith("inv_") and created.note == "y" * 120


# ---------------------------------------------------------------- an end date means one thing


@pytest.mark.parametrize("zone_name", ["Asia/Tokyo", "America/Los_Angeles", "UTC"])
def test_a_key_and_a_token_given_the_same_day_end_at_the_same_local_midnight(
    session: Session, alice: Person, zone_name: str
) -> None:
    """Both dialogs hand the picked day to the one rule (moments.local_end_date): the key and the
    token work through the whole day in the reader's zone and stop when it turns over."""
    zone = moments.reader_zone(zone_name)
    assert key_service.local_end_date is moments.local_end_date
    key_end = key_service.end_date_for(key_service.ExpiryPreset.CUSTOM, "2027-03-12", NOW, zone)
    token_end = moments.local_end_date("2027-03-12", zone, NOW, label="Expiry")
    assert key_end == token_end
    midnight = dt.datetime(2027, 3, 13, tzinfo=ZoneInfo(zone_name))
    assert token_end == (midnight - dt.timedelta(seconds=1)).astimezone(dt.UTC)

    key = key_service.create_key(session, alice.access, alice.actor, "dated", expires_at=key_end, now=NOW)
    token = tokens.create_token(
        session, alice.access, alice.actor, "ci", ["keys:read"], expires_at=token_end, now=NOW
    )
    session.commit()
    last_minute = midnight - dt.timedelta(minutes=1)
    assert verify_key(session.connection(), key.secret, last_minute).valid
    assert tokens.authenticate(session, token.secret, now=last_minute.astimezone(dt.UTC))
    assert verify_key(session.connection(), key.secret, midnight).code == "EXPIRED"
    with pytest.raises(tokens.TokenRejected):
        tokens.authenticate(session, token.secret, now=midnight.astimezone(dt.UTC))


def test_an_expiry_day_already_over_here_is_refused_for_a_token_as_for_a_key() -> None:
    tokyo = moments.reader_zone("Asia/Tokyo")
    late = dt.datetime(2027, 3, 10, 16, 0, tzinfo=dt.UTC)  # already 11 March in Tokyo
    for label in ("End date", "Expiry"):
        with pytest.raises(ValidationError) as refused:
            moments.local_end_date("2027-03-10", tokyo, late, label=label)
        assert (refused.value.code, refused.value.field) == (moments.PAST_END_DATE, "expires_at")
        assert refused.value.message.startswith(label)


def test_a_bare_date_on_the_cli_is_the_end_of_that_day_in_the_shells_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        end = cli_common.parse_time("2999-01-31")
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert end == dt.datetime(2999, 1, 31, 14, 59, 59, tzinfo=dt.UTC)
    assert cli_common.parse_time("2999-01-31T10:00:00") == dt.datetime(2999, 1, 31, 10, tzinfo=dt.UTC)
    assert os.environ.get("TZ") != "Asia/Tokyo"


# ---------------------------------------------------------------- the admin page's facts


def test_every_session_is_a_sign_in_including_the_one_after_sign_up(session: Session) -> None:
    person = new_user(session, "new@example.com")
    assert session.get(User, person.id).last_sign_in_at is None
    user_service.start_session(session, person.id, now=NOW)  # the browser signs in after sign-up
    session.commit()
    rows = {row.email: row for row in admin.list_users(session)}
    assert rows["new@example.com"].last_sign_in_at == NOW
    later = NOW + dt.timedelta(hours=3)
    assert user_service.authenticate(session, "new@example.com", PASSWORD, now=later)
    user_service.start_session(session, person.id, now=later)
    session.commit()
    assert {row.email: row for row in admin.list_users(session)}["new@example.com"].last_sign_in_at == later


def test_personal_workspaces_are_told_apart_by_their_owner(
    session: Session, alice: Person, bob: Person
) -> None:
    _team(session, alice, "Checkout")
    labels = sorted(admin.workspace_label(row) for row in admin.list_workspaces(session))
    assert labels == ["Checkout", "Personal (alice@example.com)", "Personal (bob@example.com)"]


def test_nobody_disables_their_own_account(session: Session, alice: Person, bob: Person) -> None:
    with pytest.raises(ForbiddenError) as refused:
        admin.set_disabled(session, alice.email, "ALICE@example.com ", True)
    assert refused.value.code == admin.SELF_DISABLE
    admin.set_disabled(session, alice.email, bob.email, True)
    session.commit()
    assert session.get(User, bob.id).disabled


# ---------------------------------------------------------------- deleting a workspace by name


def test_a_workspace_is_deleted_only_with_its_name_typed(session: Session, alice: Person) -> None:
    team = _team(session, alice, "Checkout  Team")
    for typed in ("", "checkout team", "Checkout"):
        with pytest.raises(ValidationError) as refused:
            workspace_service.delete_workspace(session, team, confirm_name=typed)
        assert (refused.value.code, refused.value.field) == (workspace_service.NAME_MISMATCH, "confirm_name")
    workspace_service.delete_workspace(session, team, confirm_name=" Checkout Team ")
    session.commit()
    with pytest.raises(NotFoundError):
        workspace_service.resolve(session, alice.id, team.workspace_public_id)


# ---------------------------------------------------------------- pagination inputs


def test_a_typed_page_number_and_a_page_size_are_bounded() -> None:
    assert [page_number(value) for value in ("80", " 3 ", 7, "0", "-4", "", "abc", "2.9", "1e400")] == [
        80,
        3,
        7,
        1,
        1,
        1,
        1,
        2,
        1,
    ]
    assert [page_size_choice(value) for value in ("50", "100", 25, "1000", "", None)] == [
        50,
        100,
        25,
        PAGE_SIZES[0],
        PAGE_SIZES[0],
        PAGE_SIZES[0],
    ]
    assert page_size_choice("7", default=50) == 50
