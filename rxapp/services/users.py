"""Accounts, passwords and browser sessions.

Unknown email and wrong password get the same answer after the same work (a dummy hash check),
failed sign-ins are throttled per account and per client address with a rising delay, and a cap
on concurrent hashing keeps a flood of sign-ins from exhausting memory.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import threading
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlmodel import Session, col, func, select

from rxapp.models import LoginFailure, User, UserPublic, UserSession, utc_now
from rxapp.services import audit
from rxapp.services.errors import ConflictError, ThrottledError, ValidationError
from rxapp.settings import get_settings

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 1024
EMAIL_MAX_LENGTH = 254
# Throttling: failures counted over this window; beyond the free allowance each further attempt
# waits 2, 4, 8 ... seconds after the latest failure, capped, so the real user always gets in.
THROTTLE_WINDOW = dt.timedelta(minutes=15)
ACCOUNT_FREE_FAILURES = 5  # per client address: settings.login_free_failures_per_client (default 20)
MAX_DELAY_SECONDS = 300
INVALID_CREDENTIALS = "Incorrect email or password."

_EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_hasher = PasswordHasher()  # argon2id with argon2-cffi's defaults (RFC 9106 low-memory profile)
_hash_slots: threading.BoundedSemaphore | None = None


def _slots() -> threading.BoundedSemaphore:
    global _hash_slots
    if _hash_slots is None:
        _hash_slots = threading.BoundedSemaphore(get_settings().password_hash_concurrency)
    return _hash_slots


def _hash(password: str) -> str:
    with _slots():
        return _hasher.hash(password)


def _verify(password_hash: str, password: str) -> bool:
    with _slots():
        try:
            return _hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    path = Path(__file__).resolve().parent.parent / "data" / "common-passwords.txt"
    return frozenset(line.strip().lower() for line in path.read_text().splitlines() if line.strip())


def normalise_email(email: str) -> str:
    cleaned = (email or "").strip().lower()
    if len(cleaned) > EMAIL_MAX_LENGTH or not _EMAIL_PATTERN.match(cleaned):
        raise ValidationError("Enter a valid email address.", field="email")
    return cleaned


def validate_password(password: str) -> None:
    if len(password) < PASSWORD_MIN_LENGTH:
        raise ValidationError(
            f"Password must be at least {PASSWORD_MIN_LENGTH} characters.", field="password"
        )
    if len(password) > PASSWORD_MAX_LENGTH:
        raise ValidationError(f"Password must be at most {PASSWORD_MAX_LENGTH} characters.", field="password")
    if password.lower() in _common_passwords():
        raise ValidationError(
            "This password is too common. Choose one that is harder to guess.", field="password"
        )


def _to_public(user: User) -> UserPublic:
    return UserPublic(id=user.id or 0, email=user.email)


def sign_up(session: Session, email: str, password: str, *, client_address: str = "") -> UserPublic:
    email = normalise_email(email)
    validate_password(password)
    if session.exec(select(User.id).where(User.email == email)).first() is not None:
        raise ConflictError("An account with this email already exists. Sign in instead.", field="email")
    user = User(email=email, password_hash=_hash(password))
    session.add(user)
    try:
        session.flush()
    except sa.exc.IntegrityError:
        raise ConflictError(
            "An account with this email already exists. Sign in instead.", field="email"
        ) from None
    audit.record(
        session,
        action="user.sign_up",
        actor=email,
        owner_id=user.id,
        target_type="user",
        target_id=email,
        client_address=client_address,
    )
    return _to_public(user)


def find_user(session: Session, email: str) -> UserPublic | None:
    user = session.exec(select(User).where(User.email == email.strip().lower())).first()
    return _to_public(user) if user else None


def _retry_after(session: Session, column, value: str, free: int, now: dt.datetime) -> int:
    since = now - THROTTLE_WINDOW
    failures, latest = session.exec(
        select(func.count(col(LoginFailure.id)), func.max(LoginFailure.created_at)).where(
            column == value, col(LoginFailure.created_at) > since
        )
    ).one()
    if failures < free or latest is None:
        return 0
    if latest.tzinfo is None:
        latest = latest.replace(tzinfo=dt.UTC)
    delay = min(2 ** (failures - free + 1), MAX_DELAY_SECONDS)
    wait = (latest + dt.timedelta(seconds=delay) - now).total_seconds()
    return max(int(wait + 0.999), 0)


def authenticate(
    session: Session, email: str, password: str, *, client_address: str = "", now: dt.datetime | None = None
) -> UserPublic | None:
    """Returns the user, or None for a wrong email or password (indistinguishable on purpose)."""
    now = now or utc_now()
    normalised = (email or "").strip().lower()[:EMAIL_MAX_LENGTH]
    wait = max(
        _retry_after(session, LoginFailure.email, normalised, ACCOUNT_FREE_FAILURES, now),
        _retry_after(
            session,
            LoginFailure.client_address,
            client_address,
            get_settings().login_free_failures_per_client,
            now,
        )
        if client_address
        else 0,
    )
    if wait:
        # The caller's transaction is rolled back by this error: it audits with record_throttled.
        raise ThrottledError(
            f"Too many failed sign-in attempts. Try again in {wait} seconds.", retry_after_seconds=wait
        )
    user = session.exec(select(User).where(User.email == normalised)).first()
    password = password[: PASSWORD_MAX_LENGTH + 1]
    if user is None or len(password) > PASSWORD_MAX_LENGTH:
        _verify(_dummy_hash(), password)  # same work as a real check: no timing oracle
        ok = False
    else:
        ok = _verify(user.password_hash, password)
    if not ok:
        session.add(LoginFailure(email=normalised, client_address=client_address, created_at=now))
        audit.record(
            session,
            action="user.sign_in_failed",
            actor=normalised,
            owner_id=user.id if user else None,
            target_type="user",
            target_id=normalised,
            client_address=client_address,
        )
        return None
    assert user is not None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hash(password)
        session.add(user)
    session.execute(sa.delete(LoginFailure).where(col(LoginFailure.email) == normalised))
    audit.record(
        session,
        action="user.sign_in",
        actor=normalised,
        owner_id=user.id,
        target_type="user",
        target_id=normalised,
        client_address=client_address,
    )
    return _to_public(user)


def record_throttled(session: Session, email: str, *, client_address: str = "") -> None:
    """Audit a refused (throttled) sign-in, in a transaction of its own."""
    normalised = (email or "").strip().lower()[:EMAIL_MAX_LENGTH]
    user = session.exec(select(User.id).where(User.email == normalised)).first()
    audit.record(
        session,
        action="user.sign_in_throttled",
        actor=normalised,
        owner_id=user,
        target_type="user",
        target_id=normalised,
        client_address=client_address,
    )


def change_password(
    session: Session, user_id: int, current_password: str, new_password: str, *, client_address: str = ""
) -> None:
    """Also ends every session of the user, so other browsers lose access at once."""
    user = session.get(User, user_id)
    if user is None or not _verify(user.password_hash, current_password[:PASSWORD_MAX_LENGTH]):
        raise ValidationError("Current password is incorrect.", field="current_password")
    validate_password(new_password)
    user.password_hash = _hash(new_password)
    session.add(user)
    session.execute(sa.delete(UserSession).where(col(UserSession.user_id) == user_id))
    audit.record(
        session,
        action="user.password_change",
        actor=user.email,
        owner_id=user_id,
        target_type="user",
        target_id=user.email,
        client_address=client_address,
    )


# ---------------------------------------------------------------- sessions


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def start_session(
    session: Session, user_id: int, *, client_address: str = "", now: dt.datetime | None = None
) -> str:
    """A fresh random token for every sign-in; only its digest is stored."""
    now = now or utc_now()
    token = secrets.token_urlsafe(32)
    session.add(
        UserSession(
            token_digest=_token_digest(token),
            user_id=user_id,
            created_at=now,
            expires_at=now + dt.timedelta(hours=get_settings().session_hours),
            client_address=client_address[:64],
        )
    )
    return token


def resolve_session(session: Session, token: str, now: dt.datetime | None = None) -> UserPublic | None:
    if not token or len(token) > 128:
        return None
    now = now or utc_now()
    user = session.exec(
        select(User)
        .join(UserSession, col(UserSession.user_id) == col(User.id))
        .where(UserSession.token_digest == _token_digest(token), col(UserSession.expires_at) > now)
    ).first()
    return _to_public(user) if user else None


def end_session(session: Session, token: str, *, client_address: str = "") -> None:
    digest = _token_digest(token or "")
    row = session.exec(select(UserSession).where(UserSession.token_digest == digest)).first()
    if row is None:
        return
    user = session.get(User, row.user_id)
    session.execute(sa.delete(UserSession).where(col(UserSession.id) == row.id))
    if user:
        audit.record(
            session,
            action="user.sign_out",
            actor=user.email,
            owner_id=user.id,
            target_type="user",
            target_id=user.email,
            client_address=client_address,
        )


def purge_expired(session: Session, now: dt.datetime | None = None) -> None:
    now = now or utc_now()
    session.execute(sa.delete(UserSession).where(col(UserSession.expires_at) <= now))
    session.execute(sa.delete(LoginFailure).where(col(LoginFailure.created_at) <= now - THROTTLE_WINDOW))
