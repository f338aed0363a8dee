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
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlmodel import Session, col, select

from rxapp.context import app_context, get_settings
from rxapp.models import LoginFailure, User, UserPublic, UserSession, utc_now
from rxapp.services import audit, factors, instance, throttle, workspaces
from rxapp.services.errors import ConflictError, ForbiddenError, ThrottledError, ValidationError

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 1024
EMAIL_MAX_LENGTH = 254
THROTTLE_WINDOW = throttle.WINDOW
MAX_DELAY_SECONDS = throttle.MAX_DELAY_SECONDS
THROTTLED_MESSAGE = (
    "Too many failed attempts. Wait a few minutes and try again, or use a browser you have "
    "signed in with before."
)


WRONG_PASSWORD_CODE = "WRONG_CURRENT_PASSWORD"  # noqa: S105 - an error code, not a password


class PasswordCheckFailed(ValidationError):
    """A wrong current password on the account page: the caller records it as a failure."""

    default_code = WRONG_PASSWORD_CODE


_EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
# The hasher (argon2id) and the cap on concurrent hashing are app_context members (rxapp/context.py).


def _hash(password: str) -> str:
    with app_context.password_hash_slots:
        return app_context.password_hasher.hash(password)


def _verify(password_hash: str, password: str) -> bool:
    with app_context.password_hash_slots:
        try:
            return app_context.password_hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


@lru_cache(maxsize=1)
def _dummy_hash(hasher: PasswordHasher) -> str:
    """One per hasher: an unknown email costs the same as a wrong password."""
    return hasher.hash(secrets.token_urlsafe(16))


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    path = Path(__file__).resolve().parent.parent / "data" / "common-passwords.txt"
    return frozenset(line.strip().lower() for line in path.read_text().splitlines() if line.strip())


def _clean(email: str) -> str:
    return (email or "").strip()


def normalise_email(email: str) -> str:
    cleaned = _clean(email).lower()
    if (
        len(cleaned) > EMAIL_MAX_LENGTH
        or not _EMAIL_PATTERN.match(cleaned)
        or any(unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn") for char in cleaned)
    ):
        raise ValidationError("Enter a valid email address.", field="email", code="email_invalid")
    return cleaned


def validate_password(password: str) -> None:
    if len(password) < PASSWORD_MIN_LENGTH:
        raise ValidationError(
            f"Password must be at least {PASSWORD_MIN_LENGTH} characters.",
            field="password",
            code="password_short",
        )
    if len(password) > PASSWORD_MAX_LENGTH:
        raise ValidationError(
            f"Password must be at most {PASSWORD_MAX_LENGTH} characters.",
            field="password",
            code="password_long",
        )
    if password.lower() in _common_passwords():
        raise ValidationError(
            "This password is too common. Choose one that is harder to guess.",
            field="password",
            code="password_common",
        )


def _to_public(user: User) -> UserPublic:
    return UserPublic(id=user.id or 0, email=user.email, is_admin=user.is_admin)


to_public = _to_public


def check_password(user: User, password: str) -> bool:
    """The account's password (re-authentication, services/reauth.py); counts nothing itself."""
    return not user.disabled and _verify(user.password_hash, password[:PASSWORD_MAX_LENGTH])


SIGNUP_CLOSED_CODE = "SIGNUP_CLOSED"
SIGNUP_INVITE_ONLY_CODE = "SIGNUP_INVITE_ONLY"


def is_empty_instance(session: Session) -> bool:
    return session.exec(select(User.id).limit(1)).first() is None


def signup_allowed(session: Session, invitation: str = "") -> str:
    """Why a browser sign-up would be refused ("" when allowed): the first account always is."""
    if is_empty_instance(session):
        return ""
    policy = get_settings().signup_policy
    if policy == "open":
        return ""
    if policy == "invite":
        return (
            ""
            if invitation and workspaces.invitation_is_pending(session, invitation)
            else SIGNUP_INVITE_ONLY_CODE
        )
    return SIGNUP_CLOSED_CODE


_REFUSED = {
    SIGNUP_CLOSED_CODE: "Sign-up is closed on this console. Ask its operator for an account.",
    SIGNUP_INVITE_ONLY_CODE: (
        "Sign-up needs an invitation link on this console. Ask a workspace owner for one."
    ),
}


def _refuse_unless_allowed(session: Session, invitation: str) -> None:
    refused = signup_allowed(session, invitation)
    if refused:
        raise ForbiddenError(_REFUSED[refused], code=refused)


def record_signup_refused(session: Session, email: str, code: str, *, client_address: str = "") -> None:
    """A browser sign-up the policy refused (in a transaction of its own: the refusal rolled back).

    Grouped per client address, reason and window (`occurrences` counts them), like throttled
    sign-ins: refusals need no account, so one client must not be able to write a row each.
    """
    audit.record_counted(
        session,
        window=THROTTLE_WINDOW,
        same=("client_address", "detail"),
        action="user.sign_up_refused",
        actor=_clean(email).lower()[:EMAIL_MAX_LENGTH],
        owner_id=None,
        target_type="user",
        target_id=_clean(email).lower()[:100],
        detail=f"policy={get_settings().signup_policy} code={code}",
        client_address=client_address,
    )


def sign_up(
    session: Session, email: str, password: str, *, client_address: str = "", admin: bool = False
) -> UserPublic:
    """Create an account (no policy check: the browser path is `register`, the CLI may always).

    The account gets its personal workspace; the first account on an empty instance is the
    instance admin.
    """
    email = normalise_email(email)
    validate_password(password)
    return _create_account(session, email, _hash(password), client_address=client_address, admin=admin)


def _email_taken() -> ConflictError:
    return ConflictError(
        "An account with this email already exists. Sign in instead.", field="email", code="email_taken"
    )


def _create_account(
    session: Session, email: str, password_hash: str, *, client_address: str = "", admin: bool = False
) -> UserPublic:
    """Insert the account under the sign-up lock, so "is this the first account" is decided once."""
    instance.hold_sign_up_lock(session)
    if session.exec(select(User.id).where(User.email == email)).first() is not None:
        raise _email_taken()
    user = User(email=email, password_hash=password_hash, is_admin=admin or is_empty_instance(session))
    session.add(user)
    try:
        session.flush()
    except sa.exc.IntegrityError:
        raise _email_taken() from None
    audit.record(
        session,
        action="user.sign_up",
        actor=email,
        owner_id=user.id,
        target_type="user",
        target_id=email,
        detail="instance admin" if user.is_admin else "",
        client_address=client_address,
    )
    workspaces.create_workspace(
        session, user.id or 0, email, workspaces.PERSONAL_NAME, personal=True, client_address=client_address
    )
    return _to_public(user)


create_account = _create_account  # also single sign-on's (services/sso.py), with no password
hash_password = _hash  # and its first password, when the person sets one (sso.set_first_password)


def register(
    session: Session,
    email: str,
    password: str,
    *,
    client_address: str = "",
    device_cookie: str = "",
    invitation: str = "",
) -> SignIn | None:
    """Sign-up from the browser, without confirming that an account exists.

    A new email gets an account. An existing one is treated as a sign-in attempt with the same
    throttling: the right password signs its owner in, a wrong one gets the same answer as any
    sign-up that could not be completed, and counts as a failure.
    """
    normalised = normalise_email(email)
    validate_password(password)
    if session.exec(select(User.id).where(User.email == normalised)).first() is None:
        _refuse_unless_allowed(session, invitation)  # early and cheap: a refusal costs no hash
        password_hash = _hash(password)  # before the lock: hashing is the slow part
        # The policy decision (empty instance? invitation still pending?) and the insert are one:
        # concurrent sign-ups on an empty invite-only instance make one account, not several.
        instance.hold_sign_up_lock(session)
        _refuse_unless_allowed(session, invitation)
        user = _create_account(session, normalised, password_hash, client_address=client_address)
        return SignIn(user=user, device_cookie=throttle.remember_device(device_cookie, normalised))
    return authenticate(
        session, normalised, password, client_address=client_address, device_cookie=device_cookie
    )


def find_user(session: Session, email: str) -> UserPublic | None:
    user = session.exec(select(User).where(User.email == email.strip().lower())).first()
    return _to_public(user) if user else None


@dataclass(frozen=True)
class SignIn:
    """A successful sign-in: the user, and the device cookie the browser should now hold.

    `second_factor`: the password was right, and the account asks for a code next
    (services/two_factor.py); no session may be started yet, and the device cookie is unchanged.
    `proved_at`: when the person last proved who they are, if not now (single sign-on: when the
    provider last authenticated them), for sudo mode."""

    user: UserPublic
    device_cookie: str
    second_factor: bool = False
    proved_at: dt.datetime | None = None


def _two_factor_on(session: Session, user_id: int) -> bool:
    """An authenticator app turned on, or a passkey registered: the password alone is not enough."""
    return factors.has_second_factor(session, user_id)


def authenticate(
    session: Session,
    email: str,
    password: str,
    *,
    client_address: str = "",
    device_cookie: str = "",
    now: dt.datetime | None = None,
) -> SignIn | None:
    """The user, or None for a wrong email or password (indistinguishable on purpose).

    Raises ThrottledError for a browser that must wait; a browser that signed in to this account
    before is judged on its own failures only (see services/throttle.py).
    """
    now = now or utc_now()
    normalised = _clean(email).lower()[:EMAIL_MAX_LENGTH]
    device = throttle.trusted_device(device_cookie, normalised)
    if device and not throttle.device_is_trusted(session, device, now):
        device = ""  # this browser has failed too often itself: judged as a stranger
    if not device:
        wait = throttle.stranger_wait(session, normalised, client_address, now)
        if wait:
            # The caller's transaction is rolled back by this error: it counts it with record_throttled.
            raise ThrottledError(THROTTLED_MESSAGE, retry_after_seconds=wait)
    user = session.exec(select(User).where(User.email == normalised)).first()
    password = password[: PASSWORD_MAX_LENGTH + 1]
    if user is None or len(password) > PASSWORD_MAX_LENGTH:
        _verify(
            _dummy_hash(app_context.password_hasher), password
        )  # same work as a real check: no timing oracle
        ok = False
    else:
        # A disabled account gets the wrong-password answer (after the same work).
        ok = _verify(user.password_hash, password) and not user.disabled
    if not ok:
        throttle.record_failure(session, normalised, client_address, device, now)
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
    if app_context.password_hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hash(password)
        session.add(user)
    if _two_factor_on(session, user.id or 0):
        # Failures are forgotten only after the code: a known password must not reset the count
        # of wrong codes.
        audit.record(
            session,
            action="user.sign_in_password",
            actor=normalised,
            owner_id=user.id,
            target_type="user",
            target_id=normalised,
            detail="password right; asking for the second factor",
            client_address=client_address,
        )
        return SignIn(user=_to_public(user), device_cookie=device_cookie, second_factor=True)
    throttle.forget_failures(session, normalised, device)
    user.last_sign_in_at = now
    session.add(user)
    audit.record(
        session,
        action="user.sign_in",
        actor=normalised,
        owner_id=user.id,
        target_type="user",
        target_id=normalised,
        client_address=client_address,
    )
    return SignIn(user=_to_public(user), device_cookie=throttle.remember_device(device_cookie, normalised))


def record_throttled(session: Session, email: str, *, client_address: str = "") -> None:
    """Count a refused (throttled) attempt, in a transaction of its own: one audit event per window."""
    throttle.record_refused(session, _clean(email).lower()[:EMAIL_MAX_LENGTH], client_address=client_address)


def change_password(
    session: Session, user_id: int, current_password: str, new_password: str, *, client_address: str = ""
) -> None:
    """Also ends every session of the user, so other browsers lose access at once.

    Guessing the current password is throttled and audited like a sign-in from a new browser:
    a stolen session cannot be used to brute-force the password.
    """
    user = session.get(User, user_id)
    if user is None:
        raise ValidationError("Current password is incorrect.", field="current_password")
    now = utc_now()
    if throttle.stranger_wait(session, user.email, "", now):
        raise ThrottledError(THROTTLED_MESSAGE, retry_after_seconds=1)
    if not _verify(user.password_hash, current_password[:PASSWORD_MAX_LENGTH]):
        raise PasswordCheckFailed("Current password is incorrect.", field="current_password")
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


def token_digest(token: str) -> str:
    """What the session table stores: a dump of it, or of any state that keeps it, signs nobody in."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def start_session(
    session: Session,
    user_id: int,
    *,
    client_address: str = "",
    now: dt.datetime | None = None,
    proved_at: dt.datetime | None = None,
) -> str:
    """A fresh random token for every sign-in; only its digest is stored. Every session is a
    sign-in (a password sign-in, or the one that follows sign-up), so it is the account's last.
    `proved_at` (never later than now) starts sudo mode's clock earlier than now."""
    now = now or utc_now()
    user = session.get(User, user_id)
    if user is not None:
        user.last_sign_in_at = now
        session.add(user)
    token = secrets.token_urlsafe(32)
    session.add(
        UserSession(
            token_digest=token_digest(token),
            user_id=user_id,
            created_at=now,
            expires_at=now + dt.timedelta(hours=get_settings().session_hours),
            client_address=client_address[:64],
            authenticated_at=min(proved_at, now) if proved_at else now,
        )
    )
    return token


def resolve_session(session: Session, token: str, now: dt.datetime | None = None) -> UserPublic | None:
    if not token or len(token) > 128:
        return None
    return resolve_session_digest(session, token_digest(token), now)


def resolve_session_digest(
    session: Session, digest: str, now: dt.datetime | None = None
) -> UserPublic | None:
    """The user behind a live session, by the digest of its cookie (the websocket keeps only that)."""
    if len(digest) != 64:
        return None
    now = now or utc_now()
    user = session.exec(
        select(User)
        .join(UserSession, col(UserSession.user_id) == col(User.id))
        .where(
            UserSession.token_digest == digest,
            col(UserSession.expires_at) > now,
            col(User.disabled).is_(False),
        )
    ).first()
    return _to_public(user) if user else None


def end_session(session: Session, token: str, *, client_address: str = "") -> None:
    digest = token_digest(token or "")
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


def record_password_check_failure(session: Session, user_id: int, *, client_address: str = "") -> None:
    """A wrong current password on the account page counts like a failed sign-in, and is audited."""
    throttle.record_failed_proof(
        session, user_id, "user.password_change_failed", "current password incorrect", client_address
    )
