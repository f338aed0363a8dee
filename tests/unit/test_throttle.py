"""Throttling that cannot be turned against the real user: device cookies, counted refusals,
password-change guesses, and sign-up that does not confirm an account."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from sqlmodel import Session, select

from rxapp.context import app_context
from rxapp.models import AuditEvent, LoginFailure
from rxapp.services import throttle
from rxapp.services import users as user_service
from rxapp.services.errors import ThrottledError, ValidationError
from tests.unit.helpers import PASSWORD, Person, utc

T0 = utc(2030, 1, 1, 12)


def _sign_in(session: Session, email: str, password: str, when: dt.datetime, **kwargs):
    try:
        result = user_service.authenticate(session, email, password, now=when, **kwargs)
    except ThrottledError:
        session.rollback()
        raise
    session.commit()
    return result


def test_a_known_browser_gets_in_while_an_attacker_keeps_the_account_throttled(
    session: Session, alice: Person
) -> None:
    first = _sign_in(session, alice.email, PASSWORD, T0, client_address="198.51.100.7")
    assert first is not None
    device = first.device_cookie
    assert throttle.trusted_device(device, alice.email)

    # The attacker guesses from another address, one wrong password every 250 ms for a minute,
    # each time exactly when the wait would end.
    now = T0
    refused = 0
    for attempt in range(240):
        now += dt.timedelta(milliseconds=250)
        try:
            _sign_in(session, alice.email, f"guess-{attempt}-xx", now, client_address="203.0.113.9")
        except ThrottledError:
            refused += 1
        if attempt % 20 == 0:  # the real user, from the browser that signed in before
            signed = _sign_in(
                session, alice.email, PASSWORD, now, client_address="198.51.100.7", device_cookie=device
            )
            assert signed is not None and signed.user.id == alice.id
    assert refused > 200
    # A new browser (no device cookie) is throttled like the attacker.
    with pytest.raises(ThrottledError):
        _sign_in(session, alice.email, PASSWORD, now, client_address="198.51.100.8")


def test_the_same_nat_address_does_not_lock_out_a_known_browser(session: Session, alice: Person) -> None:
    device = _sign_in(session, alice.email, PASSWORD, T0, client_address="192.0.2.1").device_cookie
    for index in range(200):  # password spraying from the office's shared address
        with contextlib.suppress(ThrottledError):
            _sign_in(session, f"spray{index}@example.com", "wrong-pw-123", T0, client_address="192.0.2.1")
    with pytest.raises(ThrottledError):
        _sign_in(session, alice.email, PASSWORD, T0, client_address="192.0.2.1")
    assert _sign_in(session, alice.email, PASSWORD, T0, client_address="192.0.2.1", device_cookie=device)


def test_a_device_that_fails_too_often_is_judged_as_a_stranger(session: Session, alice: Person) -> None:
    device = _sign_in(session, alice.email, PASSWORD, T0).device_cookie
    for attempt in range(throttle.DEVICE_FREE_FAILURES):
        assert _sign_in(session, alice.email, f"typo-{attempt}-xx", T0, device_cookie=device) is None
    # Its own failures now exceed its allowance; the stranger count is clean, so it still gets a try.
    assert _sign_in(session, alice.email, PASSWORD, T0, device_cookie=device) is not None
    for attempt in range(throttle.DEVICE_FREE_FAILURES + throttle.ACCOUNT_FREE_FAILURES):
        try:
            _sign_in(session, alice.email, f"again-{attempt}-xx", T0, device_cookie=device)
        except ThrottledError:
            break
    else:
        pytest.fail("a device that keeps failing must end up throttled")


def test_device_cookies_are_bound_to_the_account_and_cannot_be_forged(
    session: Session, alice: Person, bob: Person
) -> None:
    device = _sign_in(session, alice.email, PASSWORD, T0).device_cookie
    assert throttle.trusted_device(device, alice.email)
    assert not throttle.trusted_device(device, bob.email)
    nonce, _, mac = device.partition(".")
    assert not throttle.trusted_device(f"{nonce}.{'A' * len(mac)}", alice.email)
    assert not throttle.trusted_device("garbage", alice.email)
    # Signing in to Bob from the same browser keeps Alice's entry.
    both = _sign_in(session, bob.email, PASSWORD, T0, device_cookie=device).device_cookie
    assert throttle.trusted_device(both, alice.email) and throttle.trusted_device(both, bob.email)


def test_refused_attempts_are_one_audit_event_with_a_count(session: Session, alice: Person) -> None:
    for _ in range(300):
        user_service.record_throttled(session, alice.email, client_address="203.0.113.9")
        session.commit()
    rows = session.exec(select(AuditEvent).where(AuditEvent.action == throttle.THROTTLED_ACTION)).all()
    assert len(rows) == 1
    assert rows[0].occurrences == 300
    assert rows[0].owner_id == alice.id


def test_password_change_guesses_are_counted_audited_and_throttled(session: Session, alice: Person) -> None:
    for attempt in range(throttle.ACCOUNT_FREE_FAILURES):
        with pytest.raises(user_service.PasswordCheckFailed):
            user_service.change_password(session, alice.id, f"guess-{attempt}-xx", "brand-new-password-77")
        session.rollback()
        user_service.record_password_check_failure(session, alice.id, client_address="10.1.1.1")
        session.commit()
    actions = session.exec(select(AuditEvent.action).where(AuditEvent.owner_id == alice.id)).all()
    assert actions.count("user.password_change_failed") == throttle.ACCOUNT_FREE_FAILURES
    with pytest.raises(ThrottledError):
        user_service.change_password(session, alice.id, PASSWORD, "brand-new-password-77")
    session.rollback()


def test_sign_up_with_an_existing_email_is_a_sign_in_attempt(
    session: Session, alice: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APIKEYS_SIGNUP", "open")
    app_context.reset()
    assert user_service.register(session, alice.email, "not-alices-password-9") is None
    session.commit()
    assert session.exec(select(LoginFailure).where(LoginFailure.email == alice.email)).all()
    signed = user_service.register(session, alice.email, PASSWORD)
    assert signed is not None and signed.user.id == alice.id
    session.commit()
    fresh = user_service.register(session, "carol@example.com", "a-brand-new-password-1")
    assert fresh is not None and fresh.user.email == "carol@example.com"


@pytest.mark.parametrize(
    "email",
    ["alice@example.com\x00.evil", "ali\u202ece@example.com", "al\u200bice@example.com", "a\tb@example.com"],
)
def test_emails_with_control_or_invisible_characters_are_refused(email: str) -> None:
    with pytest.raises(ValidationError) as error:
        user_service.normalise_email(email)
    assert error.value.code == "email_invalid"
