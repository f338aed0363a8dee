"""Passkeys (WebAuthn, through py_webauthn): sign in with a passkey alone, use one as the second
factor after the password, or to confirm identity (sudo mode).

- The relying party is the console's own origin: its host name is the RP ID, and the browser's
  signed client data must name exactly that origin (phishing-resistant by construction).
- Every challenge is issued here, stored as its SHA-256 with a purpose, an optional user and a
  5-minute life, and deleted by the one answer that uses it: a forged challenge (never issued) or a
  replayed one (used already) is refused before any signature is checked.
- Only the public key is stored. The signature counter must move forward when the authenticator
  keeps one (a cloned authenticator is refused).
- A passkey made here is discoverable (resident): "Sign in with a passkey" needs no email first.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
import webauthn
from sqlmodel import Session, col, select
from webauthn.helpers import exceptions as webauthn_errors
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from rxapp.context import get_settings
from rxapp.models import Passkey, PasskeyChallenge, PasskeyPublic, User, utc_now
from rxapp.services import audit, throttle
from rxapp.services import users as user_service
from rxapp.services.errors import ConflictError, NotFoundError, ValidationError

RP_NAME = "API key console"
CHALLENGE_SECONDS = 300
CREDENTIAL_MAX_LENGTH = 20_000
NAME_MAX_LENGTH = 60
MAX_PER_USER = 20
REGISTER, SIGN_IN, SECOND_FACTOR, REAUTH = "register", "sign_in", "second_factor", "reauth"
PURPOSES = (REGISTER, SIGN_IN, SECOND_FACTOR, REAUTH)
REFUSED = "passkey_refused"
BAD_ORIGIN = "passkey_origin"
TOO_MANY = "passkey_too_many"
NAME_TAKEN = "passkey_name_taken"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def relying_party(origin: str) -> tuple[str, str]:
    """(RP ID, origin) for the console's origin, e.g. ("keys.example.com", "https://keys.example.com").
    The caller passes an origin it has already checked (services' callers: the trusted Origin)."""
    clean = (origin or "").strip().rstrip("/")
    parts = urlsplit(clean)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("Passkeys need the console's own address.", code=BAD_ORIGIN)
    return parts.hostname, f"{parts.scheme}://{parts.netloc}"


def _refused(message: str = "That passkey was not accepted. Try again.") -> ValidationError:
    return ValidationError(message, field="passkey", code=REFUSED)


# ---------------------------------------------------------------- challenges


def _digest(challenge: bytes) -> str:
    return hashlib.sha256(challenge).hexdigest()


def _issue(session: Session, purpose: str, user_id: int | None, now: dt.datetime) -> bytes:
    """A new challenge, stored (as its digest) for one answer; stale ones are swept on the way."""
    assert purpose in PURPOSES
    session.execute(sa.delete(PasskeyChallenge).where(col(PasskeyChallenge.expires_at) < now))
    challenge = secrets.token_bytes(32)
    session.add(
        PasskeyChallenge(
            digest=_digest(challenge),
            purpose=purpose,
            user_id=user_id,
            expires_at=now + dt.timedelta(seconds=CHALLENGE_SECONDS),
        )
    )
    return challenge


def _parse(credential_json: str) -> dict[str, Any]:
    if not credential_json or len(credential_json) > CREDENTIAL_MAX_LENGTH:
        raise _refused()
    try:
        credential = json.loads(credential_json)
        client_data = json.loads(_unb64(credential["response"]["clientDataJSON"]))
        challenge = _unb64(str(client_data["challenge"]))
    except (ValueError, KeyError, TypeError):
        raise _refused() from None
    if not isinstance(credential, dict) or not challenge:
        raise _refused()
    credential["_challenge"] = challenge
    return credential


def _take(session: Session, challenge: bytes, purpose: str, user_id: int | None, now: dt.datetime) -> bool:
    """Spend the challenge: True only for one the server issued for this purpose (and user), not
    expired, not used before. A conditional delete, so two answers cannot both pass."""
    query = sa.delete(PasskeyChallenge).where(
        col(PasskeyChallenge.digest) == _digest(challenge),
        col(PasskeyChallenge.purpose) == purpose,
        col(PasskeyChallenge.expires_at) >= now,
    )
    if user_id is not None:
        query = query.where(col(PasskeyChallenge.user_id) == user_id)
    return getattr(session.execute(query), "rowcount", 0) == 1


# ---------------------------------------------------------------- the list on the Account page


def list_for(session: Session, user_id: int) -> list[PasskeyPublic]:
    rows = session.exec(select(Passkey).where(Passkey.user_id == user_id).order_by(col(Passkey.id))).all()
    return [
        PasskeyPublic(id=row.id or 0, name=row.name, created_at=row.created_at, last_used_at=row.last_used_at)
        for row in rows
    ]


def count(session: Session, user_id: int) -> int:
    return int(session.exec(select(sa.func.count(col(Passkey.id))).where(Passkey.user_id == user_id)).one())


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or user.disabled:
        raise ValidationError("Sign in again.", code="NO_USER")
    return user


_audit = audit.record_for_user  # the user is actor and target (shared with the other factor)


def _user_handle(user_id: int) -> bytes:
    """What the authenticator stores as the account's handle: opaque (no email, no row number)."""
    key = hmac.new(get_settings().pepper, b"apikeys passkey user handle v1", hashlib.sha256).digest()
    return hmac.new(key, str(user_id).encode(), hashlib.sha256).digest()


def _clean_name(name: str) -> str:
    return " ".join((name or "").split())[:NAME_MAX_LENGTH]


def registration_options(
    session: Session, user_id: int, origin: str, *, now: dt.datetime | None = None
) -> str:
    """The options for navigator.credentials.create(), as JSON (the browser's script decodes them)."""
    now = now or utc_now()
    user = _user(session, user_id)
    rp_id, _ = relying_party(origin)
    if count(session, user_id) >= MAX_PER_USER:
        raise ConflictError(f"An account holds at most {MAX_PER_USER} passkeys.", code=TOO_MANY)
    existing = session.exec(select(Passkey.credential_id).where(Passkey.user_id == user_id)).all()
    options = webauthn.generate_registration_options(
        rp_id=rp_id,
        rp_name=RP_NAME,
        user_name=user.email,
        user_id=_user_handle(user_id),
        user_display_name=user.email,
        challenge=_issue(session, REGISTER, user_id, now),
        timeout=CHALLENGE_SECONDS * 1000,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=_unb64(c)) for c in existing],
    )
    return webauthn.options_to_json(options)


def finish_registration(
    session: Session,
    user_id: int,
    name: str,
    credential_json: str,
    origin: str,
    *,
    client_address: str = "",
    now: dt.datetime | None = None,
) -> PasskeyPublic:
    """Store the new passkey (its public key and counter) under its name; audited."""
    now = now or utc_now()
    user = _user(session, user_id)
    rp_id, expected_origin = relying_party(origin)
    label = _clean_name(name) or f"Passkey {count(session, user_id) + 1}"
    if session.exec(select(Passkey).where(Passkey.user_id == user_id, Passkey.name == label)).first():
        raise ConflictError("You already have a passkey with that name.", field="name", code=NAME_TAKEN)
    credential = _parse(credential_json)
    challenge = credential.pop("_challenge")
    if not _take(session, challenge, REGISTER, user_id, now):
        raise _refused("That request has expired. Add the passkey again.")
    try:
        verified = webauthn.verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=expected_origin,
        )
    except (webauthn_errors.WebAuthnException, ValueError, KeyError, TypeError):
        raise _refused() from None
    credential_id = _b64(verified.credential_id)
    if session.exec(select(Passkey).where(Passkey.credential_id == credential_id)).first():
        raise _refused("That passkey is registered already.")
    row = Passkey(
        user_id=user_id,
        name=label,
        credential_id=credential_id,
        public_key=_b64(verified.credential_public_key),
        sign_count=verified.sign_count,
        created_at=now,
    )
    session.add(row)
    session.flush()
    _audit(session, user, "user.passkey_added", f"passkey: {label}", client_address)
    return PasskeyPublic(id=row.id or 0, name=row.name, created_at=row.created_at)


def remove(session: Session, user_id: int, passkey_id: int, *, client_address: str = "") -> str:
    """Delete one of the user's passkeys (the caller asks for sudo mode first); its name."""
    user = _user(session, user_id)
    row = session.get(Passkey, passkey_id)
    if row is None or row.user_id != user_id:
        raise NotFoundError(
            "That passkey no longer exists.", target_type="passkey", target_id=str(passkey_id)
        )
    name = row.name
    session.delete(row)
    _audit(session, user, "user.passkey_removed", f"passkey: {name}", client_address)
    return name


def remove_all(session: Session, user_id: int) -> int:
    """Every passkey of the user (the operator's reset-2fa); how many there were."""
    result = session.execute(sa.delete(Passkey).where(col(Passkey.user_id) == user_id))
    session.execute(sa.delete(PasskeyChallenge).where(col(PasskeyChallenge.user_id) == user_id))
    return int(getattr(result, "rowcount", 0) or 0)


# ---------------------------------------------------------------- using a passkey


def authentication_options(
    session: Session, origin: str, purpose: str, user_id: int | None = None, *, now: dt.datetime | None = None
) -> str:
    """Options for navigator.credentials.get(), as JSON. Without a user (sign-in with a passkey
    alone) the browser offers the passkeys it holds for this site; with one, that user's."""
    now = now or utc_now()
    rp_id, _ = relying_party(origin)
    allowed: list[PublicKeyCredentialDescriptor] = []
    if user_id is not None:
        ids = session.exec(select(Passkey.credential_id).where(Passkey.user_id == user_id)).all()
        allowed = [PublicKeyCredentialDescriptor(id=_unb64(c)) for c in ids]
    options = webauthn.generate_authentication_options(
        rp_id=rp_id,
        challenge=_issue(session, purpose, user_id, now),
        timeout=CHALLENGE_SECONDS * 1000,
        allow_credentials=allowed,
        user_verification=(
            UserVerificationRequirement.REQUIRED
            if purpose == SIGN_IN
            else UserVerificationRequirement.PREFERRED
        ),
    )
    return webauthn.options_to_json(options)


def verify_assertion(
    session: Session,
    credential_json: str,
    origin: str,
    purpose: str,
    user_id: int | None = None,
    *,
    now: dt.datetime | None = None,
) -> Passkey | None:
    """The passkey that signed this challenge, or None (forged, replayed or expired challenge,
    unknown or someone else's passkey, bad signature, counter gone backwards). The challenge is
    spent either way; the counter and last use are updated on success."""
    now = now or utc_now()
    rp_id, expected_origin = relying_party(origin)
    try:
        credential = _parse(credential_json)
    except ValidationError:
        return None
    challenge = credential.pop("_challenge")
    if not _take(session, challenge, purpose, user_id, now):
        return None
    row = session.exec(
        select(Passkey).where(Passkey.credential_id == str(credential.get("rawId", ""))[:1400])
    ).first()
    if row is None or (user_id is not None and row.user_id != user_id):
        return None
    try:
        verified = webauthn.verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=expected_origin,
            credential_public_key=_unb64(row.public_key),
            credential_current_sign_count=row.sign_count,
            require_user_verification=purpose == SIGN_IN,
        )
    except (webauthn_errors.WebAuthnException, ValueError, KeyError, TypeError):
        return None
    # Conditional: two uses of one counter value cannot both pass.
    moved = session.execute(
        sa.update(Passkey)
        .where(col(Passkey.id) == row.id, col(Passkey.sign_count) == row.sign_count)
        .values(sign_count=verified.new_sign_count, last_used_at=now)
    )
    if getattr(moved, "rowcount", 0) != 1:
        return None
    session.refresh(row)
    return row


def sign_in(
    session: Session,
    credential_json: str,
    origin: str,
    *,
    client_address: str = "",
    device_cookie: str = "",
    now: dt.datetime | None = None,
) -> user_service.SignIn | None:
    """Sign in with a passkey alone (it proves possession and, verified by the authenticator, the
    person): the SignIn, or None (audited as a failed sign-in when the passkey is known)."""
    now = now or utc_now()
    row = verify_assertion(session, credential_json, origin, SIGN_IN, now=now)
    user = session.get(User, row.user_id) if row is not None else None
    if row is None or user is None or user.disabled:
        owner = user or _owner_of(session, credential_json)
        if owner is not None:  # a known passkey refused: on its owner's trail
            _audit(session, owner, "user.sign_in_failed", "passkey refused", client_address)
        return None
    return _signed_in(session, user, row, device_cookie, client_address, now)


def _owner_of(session: Session, credential_json: str) -> User | None:
    try:
        raw_id = str(json.loads(credential_json[:CREDENTIAL_MAX_LENGTH]).get("rawId", ""))[:1400]
    except (ValueError, AttributeError):
        return None
    row = session.exec(select(Passkey).where(Passkey.credential_id == raw_id)).first()
    return session.get(User, row.user_id) if row is not None else None


def _signed_in(
    session: Session, user: User, row: Passkey, device_cookie: str, client_address: str, now: dt.datetime
) -> user_service.SignIn:
    device = throttle.trusted_device(device_cookie, user.email)
    throttle.forget_failures(session, user.email, device)
    user.last_sign_in_at = now
    session.add(user)
    _audit(session, user, "user.sign_in", f"passkey: {row.name}", client_address)
    return user_service.SignIn(
        user=user_service.to_public(user), device_cookie=throttle.remember_device(device_cookie, user.email)
    )


def complete_second_factor(
    session: Session,
    user: User,
    credential_json: str,
    origin: str,
    *,
    client_address: str = "",
    device_cookie: str = "",
    now: dt.datetime | None = None,
) -> user_service.SignIn | None:
    """After the password (the pending sign-in named `user`): one of the user's passkeys."""
    now = now or utc_now()
    row = verify_assertion(session, credential_json, origin, SECOND_FACTOR, user.id, now=now)
    if row is None:
        _audit(session, user, "user.sign_in_failed", "passkey refused (second factor)", client_address)
        return None
    return _signed_in(session, user, row, device_cookie, client_address, now)
