"""Single sign-on (OIDC): what an identity the operator's provider vouched for may do here.

- The account is found by its email, case-insensitive as everywhere, and only when the provider
  says `email_verified: true`: an unverified email signs nobody in and creates nothing.
- Then the account is bound to the provider's person (`iss` + `sub`, table `sso_links`): OIDC never
  gives a `sub` to someone else, where a company may hand a leaver's address to a newcomer. From
  then on that person signs in to that account (even after a change of address at the provider),
  and another person showing the same email is refused (OTHER_PERSON) until the operator runs
  `sso-unlink EMAIL`. An account with a second factor is not bound by a sign-in (its second factor
  is what a stranger with the address lacks; binding before it is proved would let that stranger
  lock the owner out), but one bound earlier is still held to its person.
- A new email follows the sign-up policy exactly as the sign-up form does (open: an account;
  invite: only with a pending invitation, which it then joins; closed: refused), under the same
  sign-up lock. An account made this way has no password (no password matches it); it signs in
  with single sign-on, or the operator's `reset-password` gives it one.
- The provider's own second factors are unknown to us, so an account with an authenticator app or
  a passkey is still asked for it after single sign-on, exactly as after its password.
- Sudo mode's clock starts when the provider last authenticated the person (`auth_time`), not when
  the browser came back: an old provider session does not count as a fresh proof.
- Failures (a forged or expired state, the provider's refusal, a token that fails its checks, an
  unverified email) are counted by the sign-in throttle per client address (no account is named
  before the provider answers, so no stranger can lock an account this way) and audited.
- The request in flight (state, nonce, PKCE verifier, the page to return to) is one cookie,
  sealed with a pepper-derived key (services/sealing.py), living ten minutes: readable by no one,
  forged by no one, and bound to the browser that started it.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
from dataclasses import asdict, dataclass

import sqlalchemy as sa
from sqlmodel import Session, select

from rxapp.models import SsoLink, User, utc_now
from rxapp.services import audit, factors, instance, reauth, sealing, throttle, workspaces
from rxapp.services import users as user_service
from rxapp.services.errors import ConflictError, ForbiddenError, ValidationError
from rxapp.services.oidc_client import Identity

FLOW_SECONDS = 600
NO_PASSWORD = "!single-sign-on"  # noqa: S105 - not an argon2 hash: no password ever matches it
UNVERIFIED = "sso_unverified"
REFUSED = "sso_refused"
EMAIL_INVALID = "sso_email_invalid"
OTHER_PERSON = "sso_other_person"
RACED = "sso_raced"
SUBJECT_MAX, ISSUER_MAX = 255, 500  # OIDC: a sub is at most 255 ASCII characters
_SEAL_PURPOSE = "oidc flow"
_REFUSED_SIGN_UP = {
    user_service.SIGNUP_CLOSED_CODE: (
        "No account here uses this email, and sign-up is closed on this console. Ask its operator."
    ),
    user_service.SIGNUP_INVITE_ONLY_CODE: (
        "No account here uses this email, and new accounts need an invitation link on this console."
    ),
}


@dataclass(frozen=True)
class Flow:
    """One sign-in request in flight, kept sealed in the browser's cookie until the callback."""

    state: str
    nonce: str
    verifier: str
    origin: str  # the console page's origin, to come back to
    next_path: str  # a checked relative path (routes.safe_next), or ""
    redirect_uri: str
    expires: int  # epoch seconds


def seal_flow(flow: Flow) -> str:
    return sealing.seal(json.dumps(asdict(flow), separators=(",", ":")), _SEAL_PURPOSE)


def open_flow(sealed: str, state: str, now: dt.datetime | None = None) -> Flow | None:
    """The flow this browser started, if `state` is its state and it has not expired; else None
    (no cookie, another browser's or a forged state, a tampered or another pepper's cookie)."""
    if not sealed or not state or len(sealed) > 4000 or len(state) > 500:
        return None
    try:
        flow = Flow(**json.loads(sealing.unseal(sealed, _SEAL_PURPOSE)))
    except (ValueError, TypeError):
        return None
    if flow.expires < int((now or utc_now()).timestamp()):
        return None
    return flow if hmac.compare_digest(flow.state.encode(), state.encode()) else None


def new_flow_expiry(now: dt.datetime | None = None) -> int:
    return int((now or utc_now()).timestamp()) + FLOW_SECONDS


@dataclass(frozen=True)
class SsoSignIn:
    """The sign-in, and the workspace a new account joined through its invitation ("" if none)."""

    signed: user_service.SignIn
    joined: str = ""


def _proved_at(identity: Identity, now: dt.datetime) -> dt.datetime:
    if identity.auth_time is None:
        return now
    return min(dt.datetime.fromtimestamp(identity.auth_time, dt.UTC), now)


def sign_in(
    session: Session,
    identity: Identity,
    *,
    invitation: str = "",
    client_address: str = "",
    now: dt.datetime | None = None,
) -> SsoSignIn:
    """The account for a verified identity, made under the sign-up policy when it is new.

    Raises ValidationError (UNVERIFIED, EMAIL_INVALID), ForbiddenError (REFUSED for a disabled
    account, OTHER_PERSON for an account bound to someone else at the provider, the policy's
    SIGNUP_* codes for a new email it refuses) or ConflictError (RACED); the caller records it.
    """
    now = now or utc_now()
    if not identity.email_verified:
        raise ValidationError("The provider has not verified this email address.", code=UNVERIFIED)
    try:
        email = user_service.normalise_email(identity.email)
    except ValidationError:
        raise ValidationError(
            "The provider sent an email this console cannot use.", code=EMAIL_INVALID
        ) from None
    if not identity.subject or len(identity.subject) > SUBJECT_MAX or len(identity.issuer) > ISSUER_MAX:
        raise ValidationError("The provider sent an identity this console cannot use.", code=EMAIL_INVALID)
    proved = _proved_at(identity, now)
    link = session.exec(
        select(SsoLink).where(SsoLink.issuer == identity.issuer, SsoLink.subject == identity.subject)
    ).first()
    user = (
        session.get(User, link.user_id)
        if link
        else session.exec(select(User).where(User.email == email)).first()
    )
    if user is None:
        made = _new_account(session, email, invitation, client_address, proved)
        _bind(session, made.signed.user.id, identity)
        return made
    if user.disabled:
        raise ForbiddenError("This account cannot sign in.", code=REFUSED)
    if link is None and bound_elsewhere(session, user.id or 0, identity.issuer):
        raise ForbiddenError(
            "This email's account here belongs to another person at the provider.", code=OTHER_PERSON
        )
    public = user_service.to_public(user)
    if factors.has_second_factor(session, public.id):
        audit.record_for_user(
            session,
            user,
            "user.sign_in_sso",
            "single sign-on right; asking for the second factor",
            client_address,
        )
        return SsoSignIn(user_service.SignIn(user=public, device_cookie="", second_factor=True))
    if link is None:
        _bind(session, public.id, identity)
    audit.record_for_user(session, user, "user.sign_in", "single sign-on", client_address)
    return SsoSignIn(user_service.SignIn(user=public, device_cookie="", proved_at=proved))


def bound_elsewhere(session: Session, user_id: int, issuer: str) -> bool:
    """Is this account bound to a person at this provider (any `sub`)?"""
    found = session.exec(select(SsoLink.id).where(SsoLink.user_id == user_id, SsoLink.issuer == issuer))
    return found.first() is not None


def _bind(session: Session, user_id: int, identity: Identity) -> None:
    session.add(SsoLink(user_id=user_id, issuer=identity.issuer, subject=identity.subject))
    try:
        session.flush()
    except sa.exc.IntegrityError:  # a first sign-in of the same account or person ran alongside
        raise ConflictError("Single sign-on was finished twice at once. Try again.", code=RACED) from None


def _refuse_unless_allowed(session: Session, invitation: str) -> None:
    refused = user_service.signup_allowed(session, invitation)
    if refused:
        raise ForbiddenError(_REFUSED_SIGN_UP[refused], code=refused)


def _new_account(
    session: Session, email: str, invitation: str, client_address: str, proved: dt.datetime
) -> SsoSignIn:
    _refuse_unless_allowed(session, invitation)  # early: a refusal takes no lock
    instance.hold_sign_up_lock(session)
    _refuse_unless_allowed(session, invitation)  # the decision and the insert are one
    public = user_service.create_account(session, email, NO_PASSWORD, client_address=client_address)
    user = session.get(User, public.id)
    assert user is not None
    audit.record_for_user(session, user, "user.sign_in", "single sign-on (new account)", client_address)
    joined = ""
    if invitation and workspaces.invitation_is_pending(session, invitation):
        joined = workspaces.accept_invitation(
            session, public.id, invitation, client_address=client_address
        ).public_id
    return SsoSignIn(user_service.SignIn(user=public, device_cookie="", proved_at=proved), joined)


def address_wait(session: Session, client_address: str, now: dt.datetime | None = None) -> int:
    """Seconds this client must wait before its next single sign-on callback is tried."""
    return throttle.address_wait(session, client_address, now or utc_now())


def record_failure(
    session: Session,
    reason: str,
    *,
    email: str = "",
    client_address: str = "",
    now: dt.datetime | None = None,
) -> None:
    """A failed single sign-on, in a transaction of its own: counted per client address by the
    sign-in throttle, and audited (on the account's trail when the email names one, else one
    counted event per client address, reason and window)."""
    now = now or utc_now()
    throttle.record_failure(session, "", client_address, "", now)
    cleaned = (email or "").strip().lower()[: user_service.EMAIL_MAX_LENGTH]
    user = session.exec(select(User).where(User.email == cleaned)).first() if cleaned else None
    detail = f"single sign-on: {reason}"[:300]
    if user is not None:
        audit.record_for_user(session, user, "user.sign_in_failed", detail, client_address)
        return
    audit.record_counted(
        session,
        window=throttle.WINDOW,
        same=("client_address", "detail"),
        action="user.sign_in_failed",
        actor=cleaned or "single sign-on",
        owner_id=None,
        target_type="user",
        target_id=cleaned,
        detail=detail,
        client_address=client_address,
        when=now,
    )


HAS_PASSWORD_CODE = "has_password"  # noqa: S105 - an error code


def has_password(session: Session, user_id: int) -> bool:
    user = session.get(User, user_id)
    return user is not None and user.password_hash != NO_PASSWORD


def set_first_password(
    session: Session, user_id: int, session_digest: str, new_password: str, *, client_address: str = ""
) -> None:
    """An account single sign-on made has no password; its owner may give it one in sudo mode (a
    recent sign-in at the provider is the proof). Other sessions stay: nothing was exposed."""
    user = session.get(User, user_id)
    if user is None or user.password_hash != NO_PASSWORD:
        raise ValidationError(
            "This account already has a password: change it with the current one.", code=HAS_PASSWORD_CODE
        )
    reauth.require_recent(session, session_digest)
    user_service.validate_password(new_password)
    user.password_hash = user_service.hash_password(new_password)
    session.add(user)
    audit.record_for_user(session, user, "user.password_set", client_address=client_address)
