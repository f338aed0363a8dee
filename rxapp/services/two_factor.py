"""Two-factor sign-in with an authenticator app (TOTP, RFC 6238) and one-time recovery codes.

- The secret is sealed before it is stored (encrypt-then-MAC, keys derived from the pepper), and
  leaves this module only once: in the setup answer shown to its owner.
- A code is accepted once: the time step of the last accepted code is stored, and a code of that
  step or an earlier one is refused (no replay within its window).
- Ten recovery codes are shown once when two-factor is turned on; only their HMACs are stored, and
  each works once.
- Wrong codes count as failed sign-ins (services/throttle.py): per account and client address for
  a browser without a device cookie, per device for one with it.
- Between the password and the code, the browser holds a short-lived signed *pending sign-in*
  token (not a session): it names the user, expires, and dies when the password changes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import pyotp
import segno
import sqlalchemy as sa
from sqlmodel import Session, col, select

from rxapp.context import get_settings
from rxapp.models import RecoveryCode, User, UserTotp, as_utc, utc_now
from rxapp.services import audit, passkeys, sealing, throttle
from rxapp.services import users as user_service
from rxapp.services.errors import ConflictError, NotFoundError, ThrottledError, ValidationError

ISSUER = "API key console"
RECOVERY_CODE_COUNT = 10
PENDING_SECONDS = 300
WRONG_CODE = "two_factor_code_wrong"
NOT_ENABLED = "two_factor_off"
ALREADY_ENABLED = "two_factor_on"
NO_SETUP = "two_factor_no_setup"
_INTERVAL = 30


# ---------------------------------------------------------------- sealing the secret


def seal(secret: str) -> str:
    return sealing.seal(secret, "totp")


def unseal(sealed: str) -> str:
    return sealing.unseal(sealed, "totp")


# ---------------------------------------------------------------- status and setup


@dataclass(frozen=True)
class TwoFactorStatus:
    enabled: bool
    recovery_codes_left: int


@dataclass(frozen=True)
class TotpSetup:
    """Shown once to the account's owner: never stored in state longer than the setup dialog."""

    secret: str
    uri: str
    qr_data_uri: str


def _row(session: Session, user_id: int) -> UserTotp | None:
    return session.get(UserTotp, user_id)


def is_enabled(session: Session, user_id: int) -> bool:
    row = _row(session, user_id)
    return row is not None and row.enabled_at is not None


def status(session: Session, user_id: int) -> TwoFactorStatus:
    left = session.exec(
        select(sa.func.count(col(RecoveryCode.id))).where(
            RecoveryCode.user_id == user_id, col(RecoveryCode.used_at).is_(None)
        )
    ).one()
    return TwoFactorStatus(enabled=is_enabled(session, user_id), recovery_codes_left=int(left))


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise ValidationError("Sign in again.", code="NO_USER")
    return user


def begin_setup(session: Session, user_id: int) -> TotpSetup:
    """A new secret awaiting its first code (a setup begun again replaces the unconfirmed one)."""
    user = _user(session, user_id)
    row = _row(session, user_id)
    if row is not None and row.enabled_at is not None:
        raise ConflictError("Two-factor sign-in is already on.", code=ALREADY_ENABLED)
    secret = pyotp.random_base32()
    if row is None:
        row = UserTotp(user_id=user_id, secret_sealed=seal(secret))
    else:
        row.secret_sealed, row.created_at, row.last_step = seal(secret), utc_now(), 0
    session.add(row)
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    qr = segno.make(uri, error="m").svg_data_uri(scale=4, border=2, dark="#000", light="#fff")
    return TotpSetup(secret=secret, uri=uri, qr_data_uri=qr)


def _digest(code: str) -> str:
    key = hmac.new(get_settings().pepper, b"apikeys recovery code v1", hashlib.sha256).digest()
    return hmac.new(key, code.encode(), hashlib.sha256).hexdigest()


def _normalise_recovery(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())[:40]


def _new_recovery_codes(session: Session, user_id: int) -> list[str]:
    session.execute(sa.delete(RecoveryCode).where(col(RecoveryCode.user_id) == user_id))
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(alphabet) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        session.add(RecoveryCode(user_id=user_id, digest=_digest(raw)))
    return codes


def _step(now: dt.datetime) -> int:
    return int(as_utc(now).timestamp()) // _INTERVAL


def _totp_step(row: UserTotp, code: str, now: dt.datetime) -> int | None:
    """The time step this code belongs to (this one, or one either side), or None."""
    digits = "".join(ch for ch in code if ch.isdigit())
    if len(digits) != 6 or len(code.strip().replace(" ", "")) != 6:
        return None
    totp = pyotp.TOTP(unseal(row.secret_sealed))
    current = _step(now)
    for step in (current, current - 1, current + 1):
        if hmac.compare_digest(totp.at(step * _INTERVAL), digits):
            return step
    return None


def _accept(session: Session, row: UserTotp, code: str, now: dt.datetime, *, recovery: bool) -> str:
    """ "totp" or "recovery" when the code is accepted (and spent), "" when not."""
    step = _totp_step(row, code, now)
    if step is not None:
        if step <= row.last_step:
            return ""  # replayed: this code (or a later one) was accepted already
        # Conditional update: two concurrent uses of one code cannot both pass.
        taken = session.execute(
            sa.update(UserTotp)
            .where(col(UserTotp.user_id) == row.user_id, col(UserTotp.last_step) < step)
            .values(last_step=step)
        )
        session.refresh(row)
        return "totp" if getattr(taken, "rowcount", 0) == 1 else ""
    if not recovery:
        return ""
    normalised = _normalise_recovery(code)
    if len(normalised) != 10:
        return ""
    spent = session.execute(
        sa.update(RecoveryCode)
        .where(
            col(RecoveryCode.user_id) == row.user_id,
            col(RecoveryCode.digest) == _digest(normalised),
            col(RecoveryCode.used_at).is_(None),
        )
        .values(used_at=now)
    )
    return "recovery" if getattr(spent, "rowcount", 0) == 1 else ""


_audit = audit.record_for_user  # the user is actor and target (shared with the other factor)


def _device(session: Session, device_cookie: str, email: str, now: dt.datetime) -> str:
    """The browser's trusted-device nonce for this account, "" when it has none or lost the trust
    by failing too often itself (as in users.authenticate)."""
    device = throttle.trusted_device(device_cookie, email)
    return device if device and throttle.device_is_trusted(session, device, now) else ""


def _throttle_check(session: Session, user: User, device: str, client_address: str, now: dt.datetime) -> None:
    if device:
        return  # a trusted browser: judged on its own failures (see _device)
    wait = throttle.stranger_wait(session, user.email, client_address, now)
    if wait:
        raise ThrottledError(user_service.THROTTLED_MESSAGE, retry_after_seconds=wait)


def _wrong_code() -> ValidationError:
    return ValidationError(
        "That code is not valid. Enter the current code from your app.", field="code", code=WRONG_CODE
    )


def record_code_failure(
    session: Session,
    user_id: int,
    action: str,
    *,
    client_address: str = "",
    device_cookie: str = "",
    now: dt.datetime | None = None,
) -> None:
    """A wrong code, in a transaction of its own (the refused one was rolled back): counted for
    throttling like a wrong password, and audited."""
    user = session.get(User, user_id)
    if user is None:
        return
    now = now or utc_now()
    throttle.record_failure(
        session, user.email, client_address, _device(session, device_cookie, user.email, now), now
    )
    _audit(session, user, action, "code incorrect", client_address)


def confirm_setup(
    session: Session, user_id: int, code: str, *, client_address: str = "", now: dt.datetime | None = None
) -> list[str]:
    """Turn two-factor on with the first code; the ten recovery codes, to be shown once."""
    now = now or utc_now()
    user = _user(session, user_id)
    row = _row(session, user_id)
    if row is None or row.enabled_at is not None:
        raise ConflictError("Start the setup again.", code=NO_SETUP if row is None else ALREADY_ENABLED)
    _throttle_check(session, user, "", "", now)
    if not _accept(session, row, code, now, recovery=False):
        raise _wrong_code()
    row.enabled_at = now
    session.add(row)
    codes = _new_recovery_codes(session, user_id)
    _audit(session, user, "user.two_factor_on", client_address=client_address)
    return codes


def disable(
    session: Session, user_id: int, code: str, *, client_address: str = "", now: dt.datetime | None = None
) -> None:
    """Turn two-factor off: needs a current code or an unused recovery code."""
    now = now or utc_now()
    user = _user(session, user_id)
    row = _row(session, user_id)
    if row is None or row.enabled_at is None:
        raise ConflictError("Two-factor sign-in is off.", code=NOT_ENABLED)
    _throttle_check(session, user, "", "", now)
    if not _accept(session, row, code, now, recovery=True):
        raise _wrong_code()
    _remove(session, user_id)
    _audit(session, user, "user.two_factor_off", client_address=client_address)


def _remove(session: Session, user_id: int) -> None:
    session.execute(sa.delete(RecoveryCode).where(col(RecoveryCode.user_id) == user_id))
    session.execute(sa.delete(UserTotp).where(col(UserTotp.user_id) == user_id))


def reset(session: Session, email: str, *, actor: str = "operator (cli)") -> None:
    """The operator's `reset-2fa EMAIL`: authenticator, recovery codes and passkeys gone, for a user
    who lost every factor (audited)."""
    user = session.exec(select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        raise NotFoundError(f"No user with the email {email!r}.", field="email")
    _remove(session, user.id or 0)
    removed = passkeys.remove_all(session, user.id or 0)
    audit.record_for_user(
        session,
        user,
        "user.two_factor_reset",
        f"two-factor turned off by the operator; passkeys removed: {removed}",
        "cli",
        actor=actor,
    )


def check_code(session: Session, user_id: int, code: str, now: dt.datetime | None = None) -> bool:
    """A current authenticator code (or recovery code) for re-authentication; spends it."""
    row = _row(session, user_id)
    if row is None or row.enabled_at is None:
        return False
    return bool(_accept(session, row, code, now or utc_now(), recovery=True))


# ---------------------------------------------------------------- the sign-in's second step


def _pending_mac(user: User, expires: int) -> str:
    key = hmac.new(get_settings().pepper, b"apikeys pending sign-in v1", hashlib.sha256).digest()
    message = f"{user.id}.{expires}.{user.password_hash}".encode()
    return sealing.b64(hmac.new(key, message, hashlib.sha256).digest())


def pending_token(session: Session, user_id: int, now: dt.datetime | None = None) -> str:
    """What the browser holds between the password and the code (a cookie): not a session."""
    user = _user(session, user_id)
    expires = int(as_utc(now or utc_now()).timestamp()) + PENDING_SECONDS
    return f"{user_id}.{expires}.{_pending_mac(user, expires)}"


def pending_user(session: Session, token: str, now: dt.datetime | None = None) -> User | None:
    parts = (token or "")[:200].split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    user = session.get(User, int(parts[0]))
    expires = int(parts[1])
    if user is None or user.disabled or expires < int(as_utc(now or utc_now()).timestamp()):
        return None
    return user if hmac.compare_digest(parts[2], _pending_mac(user, expires)) else None


def complete_sign_in(
    session: Session,
    token: str,
    code: str,
    *,
    client_address: str = "",
    device_cookie: str = "",
    now: dt.datetime | None = None,
) -> user_service.SignIn | None:
    """The second step: the SignIn for a right code, None for a wrong one or an expired step.

    Raises ThrottledError like the password step; a wrong code raises ValidationError
    (WRONG_CODE) so the caller can count it in a transaction of its own.
    """
    now = now or utc_now()
    user = pending_user(session, token, now)
    if user is None:
        return None
    device = _device(session, device_cookie, user.email, now)
    _throttle_check(session, user, device, client_address, now)
    row = _row(session, user.id or 0)
    if row is None or row.enabled_at is None:
        # No authenticator app: the account's second factor is a passkey, so no code is right.
        if passkeys.count(session, user.id or 0):
            raise _wrong_code()
        return None
    used = _accept(session, row, code, now, recovery=True)
    if not used:
        raise _wrong_code()
    throttle.forget_failures(session, user.email, device)
    user.last_sign_in_at = now
    session.add(user)
    _audit(session, user, "user.sign_in", f"second factor: {used}", client_address)
    return user_service.SignIn(
        user=user_service.to_public(user), device_cookie=throttle.remember_device(device_cookie, user.email)
    )
