"""Two-factor sign-in (services/two_factor.py) and re-authentication (services/reauth.py):
valid, wrong, replayed and recovery codes, throttling, the sealed secret, sudo mode."""

from __future__ import annotations

import datetime as dt
import io
import sys

import pyotp
import pytest
from sqlmodel import Session, select

from rxapp import __main__ as cli
from rxapp import db
from rxapp.models import AuditEvent, UserSession, UserTotp
from rxapp.services import reauth, two_factor
from rxapp.services import users as user_service
from rxapp.services.errors import ConflictError, ThrottledError, ValidationError
from tests.unit.helpers import PASSWORD, Person, utc
from tests.unit.test_cli_and_session_scope import cli_database  # noqa: F401  (fixture)

T0 = utc(2030, 1, 1, 12)


def _code(secret: str, when: dt.datetime) -> str:
    return pyotp.TOTP(secret).at(when)


def _other(code: str) -> str:
    """A six-digit code that is not this one."""
    return str((int(code) + 1) % 1_000_000).zfill(6)


def _turn_on(session: Session, person: Person, when: dt.datetime = T0) -> tuple[str, list[str]]:
    setup = two_factor.begin_setup(session, person.id)
    codes = two_factor.confirm_setup(session, person.id, _code(setup.secret, when), now=when)
    session.commit()
    return setup.secret, codes


def _second_step(session: Session, person: Person, code: str, when: dt.datetime, **kwargs):
    signed = user_service.authenticate(session, person.email, PASSWORD, now=when, **kwargs)
    assert signed is not None and signed.second_factor
    token = two_factor.pending_token(session, person.id, when)
    session.commit()
    try:
        result = two_factor.complete_sign_in(session, token, code, now=when, **kwargs)
    except (ValidationError, ThrottledError):
        session.rollback()
        raise
    session.commit()
    return result


def test_setup_shows_the_secret_once_and_stores_it_sealed(session: Session, alice: Person) -> None:
    setup = two_factor.begin_setup(session, alice.id)
    assert setup.qr_data_uri.startswith("data:image/svg+xml")
    assert setup.secret in setup.uri
    session.commit()
    row = session.get(UserTotp, alice.id)
    assert row is not None and setup.secret not in row.secret_sealed
    assert two_factor.unseal(row.secret_sealed) == setup.secret
    assert not two_factor.is_enabled(session, alice.id)
    with pytest.raises(ValidationError):
        two_factor.confirm_setup(session, alice.id, _other(_code(setup.secret, T0)), now=T0)
    session.rollback()
    codes = two_factor.confirm_setup(session, alice.id, _code(setup.secret, T0), now=T0)
    session.commit()
    assert len(codes) == 10 and len(set(codes)) == 10
    assert two_factor.status(session, alice.id).enabled
    with pytest.raises(ConflictError):
        two_factor.begin_setup(session, alice.id)


def test_sign_in_needs_the_code_after_the_password(session: Session, alice: Person) -> None:
    secret, _ = _turn_on(session, alice)
    later = T0 + dt.timedelta(minutes=5)
    signed = _second_step(session, alice, _code(secret, later), later)
    assert signed is not None and signed.user.id == alice.id and not signed.second_factor


def test_a_wrong_code_is_refused(session: Session, alice: Person) -> None:
    secret, _ = _turn_on(session, alice)
    later = T0 + dt.timedelta(minutes=5)
    wrong = _other(_code(secret, later))
    with pytest.raises(ValidationError) as refused:
        _second_step(session, alice, wrong, later)
    assert refused.value.code == two_factor.WRONG_CODE


def test_a_code_is_accepted_once(session: Session, alice: Person) -> None:
    secret, _ = _turn_on(session, alice)
    later = T0 + dt.timedelta(minutes=5)
    code = _code(secret, later)
    assert _second_step(session, alice, code, later) is not None
    with pytest.raises(ValidationError):  # the same code again, in the same window
        _second_step(session, alice, code, later + dt.timedelta(seconds=10))
    # the code used at setup cannot be replayed either
    assert not two_factor.check_code(session, alice.id, _code(secret, T0), T0)


def test_a_recovery_code_works_once(session: Session, alice: Person) -> None:
    _, codes = _turn_on(session, alice)
    later = T0 + dt.timedelta(minutes=5)
    assert _second_step(session, alice, codes[0].upper(), later) is not None
    assert two_factor.status(session, alice.id).recovery_codes_left == 9
    with pytest.raises(ValidationError):
        _second_step(session, alice, codes[0], later + dt.timedelta(seconds=1))
    assert _second_step(session, alice, codes[1], later + dt.timedelta(seconds=2)) is not None


def test_wrong_codes_are_throttled_like_passwords(session: Session, alice: Person) -> None:
    secret, _ = _turn_on(session, alice)
    now = T0 + dt.timedelta(minutes=5)
    token = two_factor.pending_token(session, alice.id, now)
    session.commit()
    throttled = False
    for _ in range(12):
        now += dt.timedelta(milliseconds=100)
        wrong = _other(_code(secret, now))
        try:
            two_factor.complete_sign_in(session, token, wrong, client_address="203.0.113.9", now=now)
        except ThrottledError:
            session.rollback()
            throttled = True
            break
        except ValidationError:
            session.rollback()
            two_factor.record_code_failure(
                session, alice.id, "user.sign_in_failed", client_address="203.0.113.9", now=now
            )
            session.commit()
    assert throttled
    # even the right code waits: the wait is per account, not per guess
    with pytest.raises(ThrottledError):
        two_factor.complete_sign_in(session, token, _code(secret, now), client_address="203.0.113.9", now=now)


def test_a_trusted_browser_gets_in_while_strangers_are_throttled(session: Session, alice: Person) -> None:
    secret, _ = _turn_on(session, alice)
    now = T0 + dt.timedelta(minutes=5)
    first = _second_step(session, alice, _code(secret, now), now)
    assert first is not None and first.device_cookie
    token = two_factor.pending_token(session, alice.id, now)
    for _ in range(8):  # someone with the password guesses codes from another browser
        two_factor.record_code_failure(
            session, alice.id, "user.sign_in_failed", client_address="203.0.113.9", now=now
        )
        session.commit()
    with pytest.raises(ThrottledError):
        two_factor.complete_sign_in(session, token, _code(secret, now + dt.timedelta(seconds=30)), now=now)
    session.rollback()
    later = now + dt.timedelta(seconds=30)
    signed = two_factor.complete_sign_in(
        session, token, _code(secret, later), device_cookie=first.device_cookie, now=later
    )
    assert signed is not None and signed.user.id == alice.id


def test_a_known_password_does_not_reset_the_count_of_wrong_codes(session: Session, alice: Person) -> None:
    secret, _ = _turn_on(session, alice)
    now = T0 + dt.timedelta(minutes=5)
    for _ in range(6):
        two_factor.record_code_failure(session, alice.id, "user.sign_in_failed", now=now)
        session.commit()
        try:  # the right password, between wrong codes
            signed = user_service.authenticate(session, alice.email, PASSWORD, now=now)
        except ThrottledError:
            session.rollback()
            break
        session.commit()
        assert signed is not None and signed.second_factor
    token = two_factor.pending_token(session, alice.id, now)
    with pytest.raises(ThrottledError):
        two_factor.complete_sign_in(session, token, _code(secret, now), now=now)


def test_the_pending_step_expires_and_dies_with_a_password_change(session: Session, alice: Person) -> None:
    _turn_on(session, alice)
    token = two_factor.pending_token(session, alice.id, T0)
    assert two_factor.pending_user(session, token, T0) is not None
    assert two_factor.pending_user(session, token, T0 + dt.timedelta(minutes=6)) is None
    assert two_factor.pending_user(session, token[:-2] + "xx", T0) is None
    user_service.change_password(session, alice.id, PASSWORD, "another long passphrase 42")
    session.commit()
    assert two_factor.pending_user(session, token, T0) is None


def test_turning_off_needs_a_code_and_the_operator_can_reset(session: Session, alice: Person) -> None:
    secret, _ = _turn_on(session, alice)
    later = T0 + dt.timedelta(minutes=2)
    with pytest.raises(ValidationError):
        two_factor.disable(session, alice.id, "12345x", now=later)
    session.rollback()
    two_factor.disable(session, alice.id, _code(secret, later), now=later)
    session.commit()
    assert not two_factor.is_enabled(session, alice.id)
    signed = user_service.authenticate(session, alice.email, PASSWORD)
    assert signed is not None and not signed.second_factor

    _turn_on(session, alice, T0 + dt.timedelta(minutes=10))
    two_factor.reset(session, alice.email)
    session.commit()
    assert not two_factor.is_enabled(session, alice.id)
    actions = session.exec(select(AuditEvent.action)).all()
    assert {"user.two_factor_on", "user.two_factor_off", "user.two_factor_reset"} <= set(actions)
    assert not any(secret in (event.detail or "") for event in session.exec(select(AuditEvent)).all())


def test_sudo_mode_asks_again_after_the_window(session: Session, alice: Person) -> None:
    token = user_service.start_session(session, alice.id, now=T0)
    session.commit()
    digest = user_service.token_digest(token)
    reauth.require_recent(session, digest, T0 + dt.timedelta(minutes=9))
    with pytest.raises(reauth.ReauthRequired) as asked:
        reauth.require_recent(session, digest, T0 + dt.timedelta(minutes=11))
    assert asked.value.code == reauth.REAUTH_REQUIRED
    later = T0 + dt.timedelta(minutes=11)
    with pytest.raises(ValidationError) as wrong:
        reauth.confirm(session, digest, alice.id, "not the password", now=later)
    assert wrong.value.code == reauth.REAUTH_FAILED
    session.rollback()
    reauth.confirm(session, digest, alice.id, PASSWORD, now=later)
    session.commit()
    reauth.require_recent(session, digest, later + dt.timedelta(minutes=1))
    # someone else's session is not confirmed by your password
    with pytest.raises(reauth.ReauthRequired):
        reauth.confirm(session, digest, alice.id + 1000, PASSWORD, now=later)


def test_sudo_mode_takes_a_code_when_two_factor_is_on(session: Session, alice: Person) -> None:
    secret, _ = _turn_on(session, alice)
    token = user_service.start_session(session, alice.id, now=T0)
    session.commit()
    digest = user_service.token_digest(token)
    later = T0 + dt.timedelta(minutes=20)
    reauth.confirm(session, digest, alice.id, _code(secret, later), now=later)
    session.commit()
    row = session.exec(select(UserSession).where(UserSession.token_digest == digest)).one()
    assert row.authenticated_at is not None
    reauth.require_recent(session, digest, later)


def test_the_reset_2fa_command(cli_database, monkeypatch, capsys) -> None:  # noqa: F811
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    assert cli.main(["create-user", "lost@example.com"]) == 0
    with db.session_scope() as session:
        user = user_service.find_user(session, "lost@example.com")
        assert user is not None
        setup = two_factor.begin_setup(session, user.id)
        two_factor.confirm_setup(session, user.id, pyotp.TOTP(setup.secret).now())
    assert cli.main(["reset-2fa", "lost@example.com"]) == 0
    with db.session_scope() as session:
        assert not two_factor.is_enabled(session, user.id)
        signed = user_service.authenticate(session, "lost@example.com", PASSWORD)
        assert signed is not None and not signed.second_factor
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "user.two_factor_reset")).all()
        assert len(events) == 1 and events[0].actor == "operator (cli)"
    capsys.readouterr()
    assert cli.main(["reset-2fa", "nobody@example.com"]) == 1
    assert capsys.readouterr().err.startswith("error: ")
