"""Passkeys (services/passkeys.py) with a software authenticator: registration, sign-in alone and
as the second factor, forged, replayed and foreign challenges, the counter, removal, reset-2fa."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlmodel import Session, select

from rxapp.models import AuditEvent, Passkey, PasskeyChallenge
from rxapp.services import passkeys, reauth, two_factor
from rxapp.services import users as user_service
from rxapp.services.errors import ConflictError, NotFoundError, ValidationError
from tests.soft_authenticator import SoftPasskey, b64
from tests.unit.helpers import PASSWORD, Person

ORIGIN = "http://localhost:3000"


def _register(session: Session, person: Person, device: SoftPasskey, name: str = "Laptop") -> int:
    options = passkeys.registration_options(session, person.id, ORIGIN)
    session.commit()
    added = passkeys.finish_registration(session, person.id, name, device.create(options), ORIGIN)
    session.commit()
    return added.id


def _sign_in(session: Session, device: SoftPasskey, **kwargs) -> user_service.SignIn | None:
    options = passkeys.authentication_options(session, ORIGIN, passkeys.SIGN_IN)
    session.commit()
    signed = passkeys.sign_in(session, device.get(options, **kwargs), ORIGIN)
    session.commit()
    return signed


def _actions(session: Session) -> list[str]:
    return [e.action for e in session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()]


def test_rp_is_the_console_origin() -> None:
    assert passkeys.relying_party("https://keys.example.com/") == (
        "keys.example.com",
        "https://keys.example.com",
    )
    assert passkeys.relying_party("http://localhost:3000") == ("localhost", "http://localhost:3000")
    with pytest.raises(ValidationError):
        passkeys.relying_party("null")


def test_register_then_sign_in_with_the_passkey_alone(session: Session, alice: Person) -> None:
    device = SoftPasskey(ORIGIN)
    options = json.loads(passkeys.registration_options(session, alice.id, ORIGIN))
    assert options["rp"]["id"] == "localhost"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert "alice" not in options["user"]["id"]  # an opaque handle
    session.rollback()
    pid = _register(session, alice, device)
    assert [p.name for p in passkeys.list_for(session, alice.id)] == ["Laptop"]
    signed = _sign_in(session, device)
    assert signed is not None and signed.user.email == alice.email and not signed.second_factor
    row = session.get(Passkey, pid)
    assert row is not None and row.sign_count == 1 and row.last_used_at is not None
    assert "user.passkey_added" in _actions(session) and "user.sign_in" in _actions(session)
    # no challenge is left behind
    assert session.exec(select(PasskeyChallenge)).all() == []


def test_a_replayed_answer_is_refused(session: Session, alice: Person) -> None:
    device = SoftPasskey(ORIGIN)
    _register(session, alice, device)
    options = passkeys.authentication_options(session, ORIGIN, passkeys.SIGN_IN)
    session.commit()
    answer = device.get(options)
    assert passkeys.sign_in(session, answer, ORIGIN) is not None
    session.commit()
    assert passkeys.sign_in(session, answer, ORIGIN) is None  # the challenge is spent


def test_a_forged_challenge_is_refused(session: Session, alice: Person) -> None:
    device = SoftPasskey(ORIGIN)
    _register(session, alice, device)
    forged = device.sign(b64(b"never issued by the server 12345"), "localhost")
    assert passkeys.sign_in(session, forged, ORIGIN) is None
    session.commit()
    assert "user.sign_in_failed" in _actions(session)


def test_wrong_origin_purpose_or_counter_is_refused(session: Session, alice: Person) -> None:
    device = SoftPasskey(ORIGIN)
    _register(session, alice, device)
    # signed for another site (a phishing page relaying the challenge)
    options = passkeys.authentication_options(session, ORIGIN, passkeys.SIGN_IN)
    session.commit()
    assert passkeys.sign_in(session, device.get(options, origin="https://evil.example"), ORIGIN) is None
    session.commit()
    # a challenge issued for re-authentication does not sign anyone in
    options = passkeys.authentication_options(session, ORIGIN, passkeys.REAUTH, alice.id)
    session.commit()
    assert passkeys.sign_in(session, device.get(options), ORIGIN) is None
    session.commit()
    # a cloned authenticator: its counter does not move forward
    assert _sign_in(session, device) is not None
    options = passkeys.authentication_options(session, ORIGIN, passkeys.SIGN_IN)
    session.commit()
    challenge = json.loads(options)["challenge"]
    assert passkeys.sign_in(session, device.sign(challenge, "localhost", count=1), ORIGIN) is None


def test_an_unknown_passkey_and_a_removed_one_sign_nobody_in(
    session: Session, alice: Person, bob: Person
) -> None:
    device = SoftPasskey(ORIGIN)
    assert _sign_in(session, device) is None  # never registered
    pid = _register(session, alice, device)
    with pytest.raises(NotFoundError):
        passkeys.remove(session, bob.id, pid)  # not bob's
    session.rollback()
    assert passkeys.remove(session, alice.id, pid) == "Laptop"
    session.commit()
    assert _sign_in(session, device) is None
    assert "user.passkey_removed" in _actions(session)


def test_a_passkey_makes_the_password_ask_for_a_second_factor(
    session: Session, alice: Person, bob: Person
) -> None:
    device = SoftPasskey(ORIGIN)
    _register(session, alice, device)
    signed = user_service.authenticate(session, alice.email, PASSWORD)
    assert signed is not None and signed.second_factor
    session.commit()
    token = two_factor.pending_token(session, alice.id)
    user = two_factor.pending_user(session, token)
    assert user is not None
    with pytest.raises(ValidationError) as no_code:  # no authenticator app: no code is right
        two_factor.complete_sign_in(session, token, "123456")
    assert no_code.value.code == two_factor.WRONG_CODE
    session.rollback()
    options = passkeys.authentication_options(session, ORIGIN, passkeys.SECOND_FACTOR, user.id)
    assert json.loads(options)["allowCredentials"][0]["id"] == b64(device.credential_id)
    session.commit()
    done = passkeys.complete_second_factor(session, user, device.get(options), ORIGIN)
    assert done is not None and done.user.id == alice.id
    session.commit()
    # bob's pending step cannot be finished with alice's passkey
    bob_user = two_factor.pending_user(session, two_factor.pending_token(session, bob.id))
    assert bob_user is not None
    options = passkeys.authentication_options(session, ORIGIN, passkeys.SECOND_FACTOR, bob.id)
    session.commit()
    assert passkeys.complete_second_factor(session, bob_user, device.get(options), ORIGIN) is None


def test_names_the_same_authenticator_and_the_limit(session: Session, alice: Person) -> None:
    device = SoftPasskey(ORIGIN)
    _register(session, alice, device, "  My   key ")
    assert passkeys.list_for(session, alice.id)[0].name == "My key"
    with pytest.raises(ConflictError):
        _register(session, alice, SoftPasskey(ORIGIN), "My key")
    session.rollback()
    with pytest.raises(ValidationError):
        _register(session, alice, device, "Again")  # the same credential twice
    session.rollback()
    _register(session, alice, SoftPasskey(ORIGIN), "")
    assert [p.name for p in passkeys.list_for(session, alice.id)] == ["My key", "Passkey 2"]


def test_reset_two_factor_removes_passkeys(session: Session, alice: Person) -> None:
    _register(session, alice, SoftPasskey(ORIGIN))
    two_factor.reset(session, alice.email)
    session.commit()
    assert passkeys.count(session, alice.id) == 0
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "user.two_factor_reset")).one()
    assert "passkeys removed: 1" in event.detail


def test_sudo_mode_takes_the_users_own_passkey(session: Session, alice: Person, bob: Person) -> None:
    device = SoftPasskey(ORIGIN)
    _register(session, alice, device)
    bobs = SoftPasskey(ORIGIN)
    _register(session, bob, bobs)
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)
    token = user_service.start_session(session, alice.id, now=start)
    session.commit()
    digest = user_service.token_digest(token)
    with pytest.raises(reauth.ReauthRequired):
        reauth.require_recent(session, digest)
    # bob's passkey does not confirm alice's session
    options = reauth.passkey_options(session, alice.id, ORIGIN)
    assert json.loads(options)["allowCredentials"][0]["id"] == b64(device.credential_id)
    session.commit()
    with pytest.raises(ValidationError) as refused:
        reauth.confirm_with_passkey(session, digest, alice.id, bobs.get(options), ORIGIN)
    assert refused.value.code == reauth.REAUTH_FAILED
    session.rollback()
    options = reauth.passkey_options(session, alice.id, ORIGIN)
    session.commit()
    reauth.confirm_with_passkey(session, digest, alice.id, device.get(options), ORIGIN)
    session.commit()
    reauth.require_recent(session, digest)
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "user.reauthenticated")).one()
    assert event.detail == "passkey"
