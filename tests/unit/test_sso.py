"""Single sign-on's decisions (services/sso.py) and its ID token checks (services/oidc_client.py):
an account matched by verified email in any case, the sign-up policy for a new email, an
unverified email refused, a second factor still asked, sudo mode's clock from the provider's
`auth_time`, the sealed request cookie, and every claim of a forged or stale ID token."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pyotp
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey
from sqlmodel import Session, select

from rxapp.context import app_context
from rxapp.models import AuditEvent, SsoLink, User, UserSession
from rxapp.services import admin, reauth, sso, throttle, two_factor
from rxapp.services import users as user_service
from rxapp.services import workspaces as workspace_service
from rxapp.services.errors import ConflictError, ForbiddenError, ValidationError
from rxapp.services.oidc_client import Identity, OidcError, _allowed_endpoint, validate_id_token
from tests.unit.helpers import PASSWORD, Person, utc

ISSUER = "https://id.example.com"
CLIENT = "console"
NOW = utc(2030, 1, 1, 12)


def _identity(
    email: str, *, verified: bool = True, auth_time: dt.datetime | None = None, subject: str = ""
) -> Identity:
    """The provider's person: by default one per address (as tests/oidc/provider.mjs makes them)."""
    when = int(auth_time.timestamp()) if auth_time else None
    return Identity(ISSUER, subject or f"sub-{email.lower()}", email, verified, when)


def _bindings(session: Session) -> list[tuple[int, str, str]]:
    return [(link.user_id, link.issuer, link.subject) for link in session.exec(select(SsoLink)).all()]


def _policy(monkeypatch: pytest.MonkeyPatch, policy: str) -> None:
    monkeypatch.setenv("APIKEYS_SIGNUP", policy)
    app_context.reset()


def _actions(session: Session) -> list[tuple[str, str]]:
    return [(e.action, e.detail) for e in session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()]


def test_a_verified_email_signs_its_account_in_whatever_its_case(session: Session, alice: Person) -> None:
    result = sso.sign_in(session, _identity("ALICE@Example.COM"), client_address="203.0.113.5", now=NOW)
    session.commit()
    assert result.signed.user.id == alice.id and not result.signed.second_factor
    assert result.signed.device_cookie == ""  # the browser's device cookie is left as it was
    assert ("user.sign_in", "single sign-on") in _actions(session)


def test_an_unverified_email_signs_nobody_in_and_makes_nothing(
    session: Session, alice: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    _policy(monkeypatch, "open")
    for email in (alice.email, "new@example.com"):
        with pytest.raises(ValidationError) as refused:
            sso.sign_in(session, _identity(email, verified=False), now=NOW)
        assert refused.value.code == sso.UNVERIFIED
    assert user_service.find_user(session, "new@example.com") is None


def test_open_sign_up_makes_an_account_without_a_password(
    session: Session, alice: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    _policy(monkeypatch, "open")
    result = sso.sign_in(session, _identity("New.Person@example.com"), now=NOW)
    session.commit()
    user = session.get(User, result.signed.user.id)
    assert user is not None and user.email == "new.person@example.com" and not user.is_admin
    assert user.password_hash == sso.NO_PASSWORD
    assert workspace_service.resolve(session, user.id or 0).role == "owner"  # a personal workspace
    # no password opens it, the unusable marker included
    for guess in (sso.NO_PASSWORD, "", PASSWORD):
        assert user_service.authenticate(session, user.email, guess) is None
    assert ("user.sign_in", "single sign-on (new account)") in _actions(session)


def test_invite_only_needs_a_pending_invitation_which_the_account_then_joins(
    session: Session, alice: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    _policy(monkeypatch, "invite")
    with pytest.raises(ForbiddenError) as refused:
        sso.sign_in(session, _identity("carol@example.com"), now=NOW)
    assert refused.value.code == user_service.SIGNUP_INVITE_ONLY_CODE
    session.rollback()
    token, _ = workspace_service.create_invitation(session, alice.access, "viewer")
    session.commit()
    result = sso.sign_in(session, _identity("carol@example.com"), invitation=token, now=NOW)
    session.commit()
    assert result.joined == alice.access.workspace_public_id
    joined = workspace_service.resolve(session, result.signed.user.id, result.joined)
    assert joined.role == "viewer"
    # spent: the next new email with the same link is refused
    with pytest.raises(ForbiddenError):
        sso.sign_in(session, _identity("dave@example.com"), invitation=token, now=NOW)


def test_closed_sign_up_refuses_a_new_email_but_not_an_account(
    session: Session, alice: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    _policy(monkeypatch, "closed")
    with pytest.raises(ForbiddenError) as refused:
        sso.sign_in(session, _identity("erin@example.com"), now=NOW)
    assert refused.value.code == user_service.SIGNUP_CLOSED_CODE
    session.rollback()
    assert sso.sign_in(session, _identity(alice.email), now=NOW).signed.user.id == alice.id


def test_a_disabled_account_is_refused(session: Session, alice: Person) -> None:
    session.get(User, alice.id).disabled = True  # type: ignore[union-attr]
    session.commit()
    with pytest.raises(ForbiddenError) as refused:
        sso.sign_in(session, _identity(alice.email), now=NOW)
    assert refused.value.code == sso.REFUSED


def test_an_account_with_a_second_factor_is_still_asked_for_it(session: Session, alice: Person) -> None:
    setup = two_factor.begin_setup(session, alice.id)
    two_factor.confirm_setup(session, alice.id, pyotp.TOTP(setup.secret).at(NOW), now=NOW)
    session.commit()
    result = sso.sign_in(session, _identity(alice.email), now=NOW)
    assert result.signed.second_factor  # no session yet: the code step comes next
    assert _actions(session)[-1][0] == "user.sign_in_sso"


def test_the_account_is_bound_to_the_providers_person_who_keeps_it_after_a_change_of_address(
    session: Session, alice: Person
) -> None:
    sso.sign_in(session, _identity(alice.email, subject="person-a"), now=NOW)
    session.commit()
    assert _bindings(session) == [(alice.id, ISSUER, "person-a")]
    # the provider now says another address for the same person: still Alice's account
    moved = sso.sign_in(session, _identity("alice.new@example.org", subject="person-a"), now=NOW)
    assert moved.signed.user.id == alice.id
    assert user_service.find_user(session, "alice.new@example.org") is None  # no new account


def test_another_person_with_the_address_is_refused_until_the_operator_unbinds(
    session: Session, alice: Person
) -> None:
    """An address handed on to someone else at the provider does not hand on the account."""
    sso.sign_in(session, _identity(alice.email, subject="person-a"), now=NOW)
    session.commit()
    with pytest.raises(ForbiddenError) as refused:
        sso.sign_in(session, _identity(alice.email, subject="person-b"), now=NOW)
    assert refused.value.code == sso.OTHER_PERSON
    session.rollback()
    assert admin.unlink_sso(session, "operator (cli)", alice.email, client_address="cli") == 1
    session.commit()
    assert ("admin.sso_unlink", "") in _actions(session)
    assert (
        sso.sign_in(session, _identity(alice.email, subject="person-b"), now=NOW).signed.user.id == alice.id
    )
    session.commit()
    assert _bindings(session) == [(alice.id, ISSUER, "person-b")]
    assert admin.unlink_sso(session, "operator (cli)", alice.email) == 1
    assert admin.unlink_sso(session, "operator (cli)", alice.email) == 0  # nothing left: not audited


def test_a_second_factor_account_is_not_bound_by_a_sign_in_but_held_to_an_earlier_binding(
    session: Session, alice: Person
) -> None:
    """Binding before the code is proved would let a stranger with the address lock Alice out."""
    setup = two_factor.begin_setup(session, alice.id)
    two_factor.confirm_setup(session, alice.id, pyotp.TOTP(setup.secret).at(NOW), now=NOW)
    session.commit()
    assert sso.sign_in(session, _identity(alice.email, subject="stranger"), now=NOW).signed.second_factor
    session.commit()
    assert _bindings(session) == []
    session.add(SsoLink(user_id=alice.id, issuer=ISSUER, subject="person-a"))
    session.commit()
    with pytest.raises(ForbiddenError) as refused:
        sso.sign_in(session, _identity(alice.email, subject="stranger"), now=NOW)
    assert refused.value.code == sso.OTHER_PERSON
    session.rollback()
    assert sso.sign_in(session, _identity(alice.email, subject="person-a"), now=NOW).signed.second_factor


def test_a_binding_made_twice_at_once_is_refused_not_doubled(session: Session, alice: Person) -> None:
    sso._bind(session, alice.id, _identity(alice.email))
    with pytest.raises(ConflictError) as raced:
        sso._bind(session, alice.id, _identity(alice.email))
    assert raced.value.code == sso.RACED


def test_sudo_mode_counts_from_the_providers_last_authentication(session: Session, alice: Person) -> None:
    """An old session at the provider is not a fresh proof: sensitive actions ask again."""
    now = dt.datetime.now(dt.UTC)
    for auth_time, recent in ((now - dt.timedelta(hours=2), False), (now - dt.timedelta(seconds=30), True)):
        signed = sso.sign_in(session, _identity(alice.email, auth_time=auth_time)).signed
        token = user_service.start_session(session, alice.id, proved_at=signed.proved_at)
        session.commit()
        assert reauth.is_recent(session, user_service.token_digest(token)) is recent
    future = sso.sign_in(session, _identity(alice.email, auth_time=now + dt.timedelta(hours=1))).signed
    user_service.start_session(session, alice.id, proved_at=future.proved_at, now=now)
    session.commit()
    latest = session.exec(select(UserSession).order_by(UserSession.id.desc())).first()  # type: ignore[union-attr]
    assert latest is not None and latest.authenticated_at is not None
    assert latest.authenticated_at.replace(tzinfo=dt.UTC) <= now  # never later than now


def _flow(**changes: object) -> sso.Flow:
    flow = sso.Flow("state-1", "nonce-1", "v" * 64, "https://keys.example", "/account", "https://k/cb", 0)
    return dataclasses.replace(flow, expires=sso.new_flow_expiry(NOW), **changes)


def test_the_request_cookie_opens_only_with_its_state_in_time(app_settings: object) -> None:
    sealed = sso.seal_flow(_flow())
    assert "state-1" not in sealed and "nonce-1" not in sealed  # sealed, not just signed
    assert sso.open_flow(sealed, "state-1", NOW) == _flow()
    assert sso.open_flow(sealed, "state-2", NOW) is None  # another request's (or a forged) state
    assert sso.open_flow(sealed, "", NOW) is None
    assert sso.open_flow("", "state-1", NOW) is None  # no cookie: another browser
    assert sso.open_flow(sealed, "state-1", NOW + dt.timedelta(seconds=sso.FLOW_SECONDS + 1)) is None
    version, nonce, cipher, tag = sealed.split(".")
    # the first character: the last one may carry base64's unused bits, which decode the same
    flipped = ("A" if cipher[0] != "A" else "B") + cipher[1:]
    assert sso.open_flow(".".join((version, nonce, flipped, tag)), "state-1", NOW) is None
    assert sso.open_flow("not.a.sealed.value", "state-1", NOW) is None
    assert sso.open_flow(sealed, "stäte-1", NOW) is None  # not ASCII: refused, not an error


def test_failures_throttle_the_client_address_not_the_account(
    session: Session, alice: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APIKEYS_LOGIN_FAILURES_PER_CLIENT", "3")
    app_context.reset()
    for _ in range(3):
        sso.record_failure(session, "state did not match", client_address="198.51.100.7", now=NOW)
    sso.record_failure(session, sso.UNVERIFIED, email=alice.email, client_address="198.51.100.7", now=NOW)
    session.commit()
    assert sso.address_wait(session, "198.51.100.7", NOW) > 0
    assert sso.address_wait(session, "198.51.100.8", NOW) == 0
    assert throttle.stranger_wait(session, alice.email, "", NOW) == 0  # alice's password still works
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "user.sign_in_failed")).all()
    counted = [e for e in events if e.owner_id is None]
    assert len(counted) == 1 and counted[0].occurrences == 3  # one row per address, reason, window
    assert [e.detail for e in events if e.owner_id == alice.id] == ["single sign-on: sso_unverified"]


# ---------------------------------------------------------------- the ID token's checks


@pytest.fixture(scope="module")
def signing_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "k1"})


def _keys(key: RSAKey) -> KeySet:
    return KeySet.import_key_set({"keys": [key.as_dict(private=False)]})


def _token(key: object, alg: str = "RS256", **claims: object) -> str:
    now = int(NOW.timestamp())
    body = {"iss": ISSUER, "aud": CLIENT, "sub": "sub-1", "iat": now, "exp": now + 300, "nonce": "n-1"}
    body.update(claims)
    return jwt.encode({"alg": alg, "kid": "k1"}, {k: v for k, v in body.items() if v is not None}, key)


def _check(raw: str, keys: KeySet, nonce: str = "n-1") -> dict:
    return validate_id_token(
        raw, keys, issuer=ISSUER, client_id=CLIENT, nonce=nonce, now=int(NOW.timestamp())
    )


def test_a_good_id_token_passes(signing_key: RSAKey) -> None:
    raw = _token(signing_key, email="a@example.com", aud=[CLIENT, "other"], azp=CLIENT)
    claims = _check(raw, _keys(signing_key))
    assert claims["sub"] == "sub-1" and claims["email"] == "a@example.com"


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": "https://evil.example"},
        {"iss": None},
        {"aud": "another-client"},
        {"aud": ["another-client"]},
        {"aud": [CLIENT, "other"], "azp": "other"},  # issued to another party
        {"exp": int(NOW.timestamp()) - 120},  # expired beyond the minute of skew
        {"exp": None},
        {"iat": int(NOW.timestamp()) + 3600},  # issued in the future
        {"nonce": "n-2"},  # another request's token (replay)
        {"nonce": None},
        {"sub": None},
    ],
)
def test_a_token_failing_a_claim_is_refused(signing_key: RSAKey, claims: dict) -> None:
    with pytest.raises(OidcError):
        _check(_token(signing_key, **claims), _keys(signing_key))


def test_a_token_signed_by_another_key_or_with_a_mac_is_refused(signing_key: RSAKey) -> None:
    stranger = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    with pytest.raises(OidcError):
        _check(_token(stranger), _keys(signing_key))
    secret = OctKey.import_key("a-client-secret-that-is-long-enough-for-hs256")
    with pytest.raises(OidcError):
        _check(_token(secret, alg="HS256"), _keys(signing_key))
    header, body, _signature = _token(signing_key).split(".")
    with pytest.raises(OidcError):
        _check(f"{header}.{body}.", _keys(signing_key))  # signature stripped
    with pytest.raises(OidcError):
        _check(_token(signing_key), _keys(signing_key), nonce="")  # nothing to compare: never accepted


def test_only_https_endpoints_unless_the_provider_is_on_this_machine() -> None:
    assert _allowed_endpoint("https://id.example.com/token", ISSUER)
    assert not _allowed_endpoint("http://id.example.com/token", ISSUER)
    assert not _allowed_endpoint(None, ISSUER)
    assert _allowed_endpoint("http://127.0.0.1:9000/token", "http://127.0.0.1:9000")
    assert not _allowed_endpoint("http://evil.example/token", "http://127.0.0.1:9000")


def test_an_account_single_sign_on_made_sets_its_first_password_in_sudo_mode(
    session: Session, alice: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No current password to give: a recent sign-in at the provider is the proof instead."""
    _policy(monkeypatch, "open")
    now = dt.datetime.now(dt.UTC)
    stale = sso.sign_in(session, _identity("sso-only@example.com", auth_time=now - dt.timedelta(hours=2)))
    user_id = stale.signed.user.id
    old_token = user_service.start_session(session, user_id, proved_at=stale.signed.proved_at)
    old = user_service.token_digest(old_token)
    session.commit()
    assert not sso.has_password(session, user_id)
    with pytest.raises(ForbiddenError) as asked:
        sso.set_first_password(session, user_id, old, "a-brand-new-password-77")
    assert asked.value.code == reauth.ReauthRequired.default_code
    fresh = sso.sign_in(session, _identity("sso-only@example.com", auth_time=now)).signed
    fresh_token = user_service.start_session(session, user_id, proved_at=fresh.proved_at)
    digest = user_service.token_digest(fresh_token)
    session.commit()
    with pytest.raises(ValidationError):  # the same rules as every password
        sso.set_first_password(session, user_id, digest, "short")
    sso.set_first_password(session, user_id, digest, "a-brand-new-password-77")
    session.commit()
    assert sso.has_password(session, user_id)
    assert user_service.authenticate(session, "sso-only@example.com", "a-brand-new-password-77") is not None
    assert ("user.password_set", "") in _actions(session)
    with pytest.raises(ValidationError) as again:  # from now on it is changed with the current one
        sso.set_first_password(session, user_id, digest, "another-new-password-88")
    assert again.value.code == sso.HAS_PASSWORD_CODE
    assert sso.has_password(session, alice.id)
