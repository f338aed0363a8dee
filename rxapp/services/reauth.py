"""Re-authentication ("sudo mode"), as GitHub does it.

Creating a management token, changing a member's role, deleting a workspace, turning two-factor
off and revealing an invitation link need a session that proved its identity (password, or
password and code) within APIKEYS_REAUTH_SECONDS (10 minutes by default). Older sessions get
REAUTH_REQUIRED; the page asks for the password (or an authenticator code when two-factor is on)
in the shared confirm-identity dialog, then retries the action.
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, select

from rxapp.context import get_settings
from rxapp.models import User, UserSession, as_utc, utc_now
from rxapp.services import audit, passkeys, throttle, two_factor
from rxapp.services import users as user_service
from rxapp.services.errors import ForbiddenError, ThrottledError, ValidationError

REAUTH_REQUIRED = "reauth_required"
REAUTH_FAILED = "reauth_failed"


class ReauthRequired(ForbiddenError):
    default_code = REAUTH_REQUIRED


def _session_row(session: Session, digest: str) -> UserSession | None:
    if len(digest or "") != 64:
        return None
    return session.exec(select(UserSession).where(UserSession.token_digest == digest)).first()


def is_recent(session: Session, digest: str, now: dt.datetime | None = None) -> bool:
    row = _session_row(session, digest)
    if row is None:
        return False
    proved = as_utc(row.authenticated_at or row.created_at)
    return (now or utc_now()) - proved <= dt.timedelta(seconds=get_settings().reauth_seconds)


def require_recent(session: Session, digest: str, now: dt.datetime | None = None) -> None:
    """Raise ReauthRequired unless this browser session proved its identity recently."""
    if not is_recent(session, digest, now):
        raise ReauthRequired("Confirm your identity to continue.", code=REAUTH_REQUIRED)


def confirm(
    session: Session,
    digest: str,
    user_id: int,
    secret: str,
    *,
    client_address: str = "",
    now: dt.datetime | None = None,
) -> None:
    """The password, or (two-factor on) a current authenticator or recovery code: the session's
    `authenticated_at` becomes now. Throttled like a sign-in from a new browser; a wrong answer
    raises ValidationError(REAUTH_FAILED), to be counted with `record_failure`."""
    now = now or utc_now()
    row = _session_row(session, digest)
    user = session.get(User, user_id)
    if row is None or user is None or row.user_id != user_id:
        raise ReauthRequired("Sign in again.", code=REAUTH_REQUIRED)
    if throttle.stranger_wait(session, user.email, "", now):
        raise ThrottledError(user_service.THROTTLED_MESSAGE, retry_after_seconds=1)
    candidate = secret.strip()
    ok = False
    if two_factor.is_enabled(session, user_id) and len(candidate) <= 12:
        ok = two_factor.check_code(session, user_id, candidate, now)
    if not ok:
        ok = user_service.check_password(user, secret)
    if not ok:
        raise ValidationError("That is not right. Try again.", field="password", code=REAUTH_FAILED)
    _proved(session, row, user, now, "", client_address)


def _proved(
    session: Session, row: UserSession, user: User, now: dt.datetime, detail: str, client_address: str
) -> None:
    row.authenticated_at = now
    session.add(row)
    audit.record(
        session,
        action="user.reauthenticated",
        actor=user.email,
        owner_id=user.id,
        target_type="user",
        target_id=user.email,
        detail=detail,
        client_address=client_address,
    )


def passkey_options(session: Session, user_id: int, origin: str) -> str:
    """A challenge for one of the user's passkeys, good only for re-authentication."""
    return passkeys.authentication_options(session, origin, passkeys.REAUTH, user_id)


def confirm_with_passkey(
    session: Session,
    digest: str,
    user_id: int,
    credential_json: str,
    origin: str,
    *,
    client_address: str = "",
    now: dt.datetime | None = None,
) -> None:
    """The same as `confirm`, proved with one of the user's passkeys instead of a secret."""
    now = now or utc_now()
    row = _session_row(session, digest)
    user = session.get(User, user_id)
    if row is None or user is None or row.user_id != user_id:
        raise ReauthRequired("Sign in again.", code=REAUTH_REQUIRED)
    if passkeys.verify_assertion(session, credential_json, origin, passkeys.REAUTH, user_id, now=now) is None:
        raise ValidationError(
            "That passkey was not accepted. Try again.", field="password", code=REAUTH_FAILED
        )
    _proved(session, row, user, now, "passkey", client_address)


def record_failure(session: Session, user_id: int, *, client_address: str = "") -> None:
    """A wrong answer in the confirm-identity dialog, in a transaction of its own."""
    throttle.record_failed_proof(session, user_id, "user.reauth_failed", client_address=client_address)
