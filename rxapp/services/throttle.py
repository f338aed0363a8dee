"""Sign-in throttling that an attacker cannot turn against the real user (OWASP device cookies).

- A browser that signs in successfully gets a *device cookie*: a random nonce plus an HMAC binding
  it to the account's email. Next time, that browser's attempts for that account are judged on
  their own failures only, so a stranger hammering the account (from anywhere, behind the same
  NAT or not) never locks it out. A device that fails too often itself loses that privilege for
  the window.
- Attempts from browsers without such a cookie are throttled per account and per client address
  (the address comes through trusted proxy hops only): after a free allowance, each failure makes
  the next attempt wait 2, 4, 8 ... s (capped). The answer does not say when the wait ends.
- Refused (throttled) attempts write no row each: one audit event per account and window, whose
  `occurrences` counts them.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from functools import lru_cache

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from rxapp.context import get_settings
from rxapp.models import LoginFailure, User
from rxapp.services import audit

WINDOW = dt.timedelta(minutes=15)
ACCOUNT_FREE_FAILURES = 5  # from browsers this account never signed in with
DEVICE_FREE_FAILURES = 10  # from one trusted browser, before it is treated as a stranger
MAX_DELAY_SECONDS = 300
MAX_DEVICE_ENTRIES = 5  # accounts remembered per browser
THROTTLED_ACTION = "user.sign_in_throttled"
_NONCE_BYTES = 12
_MAC_CHARS = 27


@lru_cache(maxsize=4)
def _device_key(pepper: bytes) -> bytes:
    return hmac.new(pepper, b"apikeys device cookie v1", hashlib.sha256).digest()


def _mac(email: str, nonce: str) -> str:
    digest = hmac.new(_device_key(get_settings().pepper), f"{email}\n{nonce}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")[:_MAC_CHARS]


def _entries(cookie_value: str) -> list[tuple[str, str]]:
    entries = []
    for part in (cookie_value or "")[:1000].split("~")[:MAX_DEVICE_ENTRIES]:
        nonce, _, mac = part.partition(".")
        if nonce and mac:
            entries.append((nonce[:32], mac))
    return entries


def trusted_device(cookie_value: str, email: str) -> str:
    """The nonce of the device-cookie entry issued to this browser for this account, or ""."""
    for nonce, mac in _entries(cookie_value):
        if hmac.compare_digest(mac, _mac(email, nonce)):
            return nonce
    return ""


def remember_device(cookie_value: str, email: str) -> str:
    """The device cookie after a successful sign-in: this account's entry first, at most five."""
    if trusted_device(cookie_value, email):
        return cookie_value
    nonce = secrets.token_urlsafe(_NONCE_BYTES)
    kept = [f"{n}.{m}" for n, m in _entries(cookie_value)][: MAX_DEVICE_ENTRIES - 1]
    return "~".join([f"{nonce}.{_mac(email, nonce)}", *kept])


def _wait(session: Session, condition: sa.ColumnElement[bool], free: int, now: dt.datetime) -> int:
    failures, latest = session.exec(
        select(func.count(col(LoginFailure.id)), func.max(LoginFailure.created_at)).where(
            condition, col(LoginFailure.created_at) > now - WINDOW
        )
    ).one()
    if failures < free or latest is None:
        return 0
    if latest.tzinfo is None:
        latest = latest.replace(tzinfo=dt.UTC)
    delay = min(2 ** (failures - free + 1), MAX_DELAY_SECONDS)
    return max(int((latest + dt.timedelta(seconds=delay) - now).total_seconds() + 0.999), 0)


def device_is_trusted(session: Session, nonce: str, now: dt.datetime) -> bool:
    return bool(nonce) and _wait(session, col(LoginFailure.device) == nonce, DEVICE_FREE_FAILURES, now) == 0


def stranger_wait(session: Session, email: str, client_address: str, now: dt.datetime) -> int:
    """Seconds an attempt from an untrusted browser must wait: per account and per address."""
    untrusted = col(LoginFailure.device) == ""
    account = _wait(session, sa.and_(col(LoginFailure.email) == email, untrusted), ACCOUNT_FREE_FAILURES, now)
    address = 0
    if client_address:
        address = _wait(
            session,
            sa.and_(col(LoginFailure.client_address) == client_address, untrusted),
            get_settings().login_free_failures_per_client,
            now,
        )
    return max(account, address)


def address_wait(session: Session, client_address: str, now: dt.datetime) -> int:
    """Seconds an attempt that names no account yet must wait (a single sign-on callback): per
    client address only, so nobody's failures lock an account they never named."""
    if not client_address:
        return 0
    untrusted = col(LoginFailure.device) == ""
    condition = sa.and_(col(LoginFailure.client_address) == client_address, untrusted)
    return _wait(session, condition, get_settings().login_free_failures_per_client, now)


def record_failure(session: Session, email: str, client_address: str, device: str, now: dt.datetime) -> None:
    session.add(LoginFailure(email=email, client_address=client_address[:64], device=device, created_at=now))


def forget_failures(session: Session, email: str, device: str) -> None:
    """After a successful sign-in, forget the failures it answers for.

    From a trusted browser only that browser's own count is cleared: the strangers' count on the
    account is someone else's doing and keeps throttling them.
    """
    if device:
        session.execute(sa.delete(LoginFailure).where(col(LoginFailure.device) == device))
    else:
        session.execute(
            sa.delete(LoginFailure).where(col(LoginFailure.email) == email, col(LoginFailure.device) == "")
        )


def record_refused(
    session: Session, email: str, *, client_address: str = "", now: dt.datetime | None = None
) -> None:
    """Count a throttled attempt: one audit event per account and window, `occurrences` += 1."""
    audit.record_counted(
        session,
        window=WINDOW,
        same=("target_id",),
        action=THROTTLED_ACTION,
        actor=email,
        owner_id=session.exec(select(User.id).where(User.email == email)).first(),
        target_type="user",
        target_id=email,
        detail="sign-in attempts refused while throttled",
        client_address=client_address,
        when=now,
    )


def record_failed_proof(
    session: Session, user_id: int, action: str, detail: str = "", client_address: str = ""
) -> None:
    """A signed-in person's wrong password or code (account page, confirm-identity dialog): counted
    by the sign-in throttle like a failed sign-in, and audited under `action`."""
    user = session.get(User, user_id)
    if user is None:
        return
    record_failure(session, user.email, client_address, "", dt.datetime.now(dt.UTC))
    audit.record_for_user(session, user, action, detail, client_address)
