"""Users: email and password rules, sign-up, sign-in throttling, rehash, browser sessions."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from rxapp.context import app_context, get_settings
from rxapp.models import AuditEvent, LoginFailure, User, UserSession
from rxapp.services import users as user_service
from rxapp.services.errors import ConflictError, ThrottledError, ValidationError
from tests.unit.helpers import PASSWORD, Person, make_fast_hasher, new_user, utc

T0 = utc(2030, 1, 1, 12)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("alice@example.com", "alice@example.com"),
        ("  Alice@Example.COM \n", "alice@example.com"),
        ("first.last+tag@sub.example.org", "first.last+tag@sub.example.org"),
    ],
)
def test_normalise_email(raw: str, expected: str) -> None:
    assert user_service.normalise_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "alice",
        "alice@",
        "@example.com",
        "alice@example",
        "a@@example.com",
        "al ice@example.com",
        "a" * 65 + "@example.com",
        "a@" + "b" * 250 + ".com",
    ],
)
def test_normalise_email_rejects(raw: str) -> None:
    with pytest.raises(ValidationError) as error:
        user_service.normalise_email(raw)
    assert error.value.field == "email"


@pytest.mark.parametrize(
    "password",
    [
        "x" * 8 + "Q",
        "12345678a-z",
        "пароль-очень-длинный",
        "密码密码密码密码",
        "🔑🔑🔑🔑🔑🔑🔑🔑",
        "        spaces  ",
        "é" * 1024,
    ],
)
def test_validate_password_accepts(password: str) -> None:
    user_service.validate_password(password)


@pytest.mark.parametrize(
    "password",
    [
        "",
        "short",
        "7charsX",
        "é" * 1025,
        "password1",
        "PASSWORD1",
        "qwertyuiop",
        "password",
        "12345678",
        "iloveyou",
    ],
)
def test_validate_password_rejects(password: str) -> None:
    with pytest.raises(ValidationError) as error:
        user_service.validate_password(password)
    assert error.value.field == "password"


def test_sign_up_stores_only_an_argon2id_hash(session: Session) -> None:
    person = new_user(session, "  New.User@Example.com ")
    assert person.email == "new.user@example.com"
    user = session.exec(select(User).where(User.id == person.id)).one()
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert user_service.find_user(session, "NEW.USER@example.com ").id == person.id  # type: ignore[union-attr]
    assert user_service.find_user(session, "nobody@example.com") is None


def test_sign_up_duplicate_email_in_another_case_conflicts(session: Session) -> None:
    new_user(session, "dup@example.com")
    with pytest.raises(ConflictError) as error:
        user_service.sign_up(session, "  DUP@Example.com", "another-good-password-9")
    assert error.value.field == "email"
    session.rollback()
    assert session.exec(select(sa.func.count()).select_from(User)).one() == 1


def test_sign_up_rejects_weak_password_and_bad_email(session: Session) -> None:
    with pytest.raises(ValidationError):
        user_service.sign_up(session, "ok@example.com", "password1")
    with pytest.raises(ValidationError):
        user_service.sign_up(session, "not-an-email", PASSWORD)
    session.rollback()
    assert session.exec(select(User)).all() == []


def _failures(session: Session, email: str) -> int:
    return len(session.exec(select(LoginFailure).where(LoginFailure.email == email)).all())


def test_authenticate_success_and_indistinguishable_failures(session: Session, alice: Person) -> None:
    assert user_service.authenticate(session, " ALICE@example.com", PASSWORD, now=T0).user.id == alice.id  # type: ignore[union-attr]
    assert user_service.authenticate(session, alice.email, "wrong-password-123", now=T0) is None
    assert user_service.authenticate(session, "ghost@example.com", PASSWORD, now=T0) is None
    session.commit()
    assert _failures(session, alice.email) == 1
    assert _failures(session, "ghost@example.com") == 1
    actions = [e.action for e in session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()]
    assert actions[-3:] == ["user.sign_in", "user.sign_in_failed", "user.sign_in_failed"]
    assert user_service.authenticate(session, alice.email, PASSWORD + "x" * 2000, now=T0) is None


def test_throttling_after_five_failures_then_the_real_user_gets_in(session: Session, alice: Person) -> None:
    for attempt in range(5):
        assert user_service.authenticate(session, alice.email, f"guess-{attempt}-xx", now=T0) is None
        session.commit()
    with pytest.raises(ThrottledError) as error:
        user_service.authenticate(session, alice.email, PASSWORD, now=T0 + dt.timedelta(milliseconds=500))
    assert error.value.retry_after_seconds > 0
    session.rollback()
    # Also throttled for another spelling of the same account.
    with pytest.raises(ThrottledError):
        user_service.authenticate(session, " Alice@EXAMPLE.com", PASSWORD, now=T0 + dt.timedelta(seconds=1))
    session.rollback()

    after = T0 + dt.timedelta(seconds=error.value.retry_after_seconds + 1)
    assert user_service.authenticate(session, alice.email, PASSWORD, now=after).user.id == alice.id  # type: ignore[union-attr]
    session.commit()
    assert _failures(session, alice.email) == 0  # success clears the account's failures


def test_throttle_delay_grows_and_is_capped(session: Session, alice: Person) -> None:
    now = T0
    waits = []
    for _ in range(14):
        try:
            user_service.authenticate(session, alice.email, "wrong-password-xyz", now=now)
            session.commit()
        except ThrottledError as error:
            session.rollback()
            waits.append(error.retry_after_seconds)
            now += dt.timedelta(seconds=error.retry_after_seconds)
    assert waits == sorted(waits)
    assert waits[:3] == [2, 4, 8]
    assert max(waits) <= user_service.MAX_DELAY_SECONDS


def test_throttling_does_not_lock_out_other_accounts(session: Session, alice: Person, bob: Person) -> None:
    for attempt in range(5):
        user_service.authenticate(session, alice.email, f"bad-{attempt}-pw", now=T0)
        session.commit()
    assert user_service.authenticate(session, bob.email, PASSWORD, now=T0).user.id == bob.id  # type: ignore[union-attr]


def test_throttling_by_client_address(session: Session, bob: Person) -> None:
    for index in range(get_settings().login_free_failures_per_client):
        user_service.authenticate(
            session, f"spray{index}@example.com", "wrong-pw-123", client_address="10.0.0.9", now=T0
        )
        session.commit()
    with pytest.raises(ThrottledError):
        user_service.authenticate(session, bob.email, PASSWORD, client_address="10.0.0.9", now=T0)
    session.rollback()
    assert (
        user_service.authenticate(session, bob.email, PASSWORD, client_address="10.0.0.10", now=T0)
        is not None
    )


def test_old_failures_outside_the_window_do_not_count(session: Session, alice: Person) -> None:
    for attempt in range(5):
        user_service.authenticate(session, alice.email, f"bad-{attempt}-pw", now=T0)
        session.commit()
    later = T0 + user_service.THROTTLE_WINDOW + dt.timedelta(seconds=1)
    assert user_service.authenticate(session, alice.email, PASSWORD, now=later) is not None


def test_rehash_on_login_when_parameters_change(session: Session, alice: Person) -> None:
    before = session.exec(select(User.password_hash).where(User.id == alice.id)).one()
    stronger = make_fast_hasher(time_cost=2, memory_cost=2048)
    assert stronger.check_needs_rehash(before)
    with app_context.override(password_hasher=stronger):
        assert user_service.authenticate(session, alice.email, PASSWORD, now=T0) is not None
        session.commit()
        session.expire_all()
        after = session.exec(select(User.password_hash).where(User.id == alice.id)).one()
        assert after != before
        assert not stronger.check_needs_rehash(after)
        assert stronger.verify(after, PASSWORD)
        assert "t=2" in after and "m=2048" in after
        # Still signs in afterwards, and no further rehash happens.
        assert user_service.authenticate(session, alice.email, PASSWORD, now=T0) is not None
        session.commit()
        assert session.exec(select(User.password_hash).where(User.id == alice.id)).one() == after


def test_sessions_store_only_a_digest(session: Session, alice: Person) -> None:
    token = user_service.start_session(session, alice.id, client_address="127.0.0.1", now=T0)
    session.commit()
    assert len(token) >= 40
    rows = session.exec(select(UserSession)).all()
    assert [row.token_digest for row in rows] == [hashlib.sha256(token.encode()).hexdigest()]
    assert all(token not in str(value) for row in rows for value in row.model_dump().values())
    assert user_service.resolve_session(session, token, now=T0 + dt.timedelta(hours=1)).id == alice.id  # type: ignore[union-attr]
    other = user_service.start_session(session, alice.id, now=T0)
    assert other != token


def test_session_expiry_and_sign_out(session: Session, alice: Person) -> None:
    token = user_service.start_session(session, alice.id, now=T0)
    session.commit()
    hours = user_service.get_settings().session_hours
    assert user_service.resolve_session(
        session, token, now=T0 + dt.timedelta(hours=hours) - dt.timedelta(seconds=1)
    )
    assert user_service.resolve_session(session, token, now=T0 + dt.timedelta(hours=hours)) is None
    assert user_service.resolve_session(session, token, now=T0 + dt.timedelta(days=30)) is None
    for junk in ("", "nope", "x" * 129, token + "x"):
        assert user_service.resolve_session(session, junk, now=T0) is None
    user_service.end_session(session, token)
    session.commit()
    assert user_service.resolve_session(session, token, now=T0) is None
    assert session.exec(select(UserSession)).all() == []
    user_service.end_session(session, token)  # ending twice is harmless
    user_service.end_session(session, "")


def test_purge_expired_removes_old_sessions_and_failures(session: Session, alice: Person) -> None:
    user_service.start_session(session, alice.id, now=T0)
    user_service.authenticate(session, alice.email, "bad-password-x", now=T0)
    session.commit()
    user_service.purge_expired(session, now=T0 + dt.timedelta(days=2))
    session.commit()
    assert session.exec(select(UserSession)).all() == []
    assert session.exec(select(LoginFailure)).all() == []


def test_change_password_ends_all_sessions(session: Session, alice: Person) -> None:
    tokens = [user_service.start_session(session, alice.id, now=T0) for _ in range(3)]
    session.commit()
    with pytest.raises(ValidationError) as error:
        user_service.change_password(session, alice.id, "not-the-password", "brand-new-password-77")
    assert error.value.field == "current_password"
    session.rollback()
    with pytest.raises(ValidationError):
        user_service.change_password(session, alice.id, PASSWORD, "password1")
    session.rollback()
    assert all(user_service.resolve_session(session, t, now=T0) for t in tokens)

    user_service.change_password(session, alice.id, PASSWORD, "brand-new-password-77")
    session.commit()
    assert all(user_service.resolve_session(session, t, now=T0) is None for t in tokens)
    assert user_service.authenticate(session, alice.email, PASSWORD, now=T0) is None
    assert user_service.authenticate(session, alice.email, "brand-new-password-77", now=T0) is not None


def test_sessions_of_other_users_survive_a_password_change(
    session: Session, alice: Person, bob: Person
) -> None:
    bob_token = user_service.start_session(session, bob.id, now=T0)
    session.commit()
    user_service.change_password(session, alice.id, PASSWORD, "brand-new-password-77")
    session.commit()
    assert user_service.resolve_session(session, bob_token, now=T0).id == bob.id  # type: ignore[union-attr]
