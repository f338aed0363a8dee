"""The OpenID Connect side of single sign-on: this console as a relying party of one provider.

Authlib does the protocol: the authorization URL with PKCE (S256), the code exchange at the token
endpoint (client_secret_basic) and the ID token's claims rules (CodeIDToken, over joserfc's JWT
checks). What this module adds:

- the discovery document (`<issuer>/.well-known/openid-configuration`) is fetched once per worker
  and kept for an hour; its `issuer` must be exactly the configured one, and every endpoint it
  names must be HTTPS (plain HTTP only for a provider on this machine, as in the tests);
- the ID token's signature is checked against the provider's JWKS, cached with the document and
  fetched again (at most once a minute) when a token names a key it does not hold; only
  asymmetric algorithms are accepted, never `none` or a MAC;
- the claims must name this provider (`iss`), this client (`aud`, and `azp` when present), be
  current (`exp`, `iat`, with a minute of clock skew) and carry the nonce this browser's request
  sent; the email comes from the ID token or, when it holds none, from the userinfo endpoint
  (whose `sub` must be the token's).

Nothing here touches the database; services/sso.py decides what an identity may do. Every outbound
request of the console's single sign-on goes to the provider's own endpoints, from here.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import warnings
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from authlib.deprecate import AuthlibDeprecationWarning
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from rxapp.context import app_context, get_settings

with warnings.catch_warnings():
    # Authlib 1.9 prefers the httpx2 fork and says so once at import; the console uses httpx (the
    # pinned version Authlib still supports), and a start prints no deprecation warning.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import OAuth2Client

log = logging.getLogger(__name__)

DISCOVERY_PATH = "/.well-known/openid-configuration"
SCOPE = "openid email"
HTTP_TIMEOUT_SECONDS = 10.0
METADATA_SECONDS = 3600.0  # discovery document and keys are fetched again after an hour
KEYS_REFETCH_SECONDS = 60.0  # an unknown key id fetches the JWKS again, at most this often
CLOCK_SKEW_SECONDS = 60
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class OidcError(Exception):
    """The provider could not confirm an identity. `reason` is for the audit trail and the log
    (fixed words, never the provider's own text); the person sees one fixed message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Identity:
    """What the provider vouched for, after every check above."""

    issuer: str
    subject: str
    email: str
    email_verified: bool
    auth_time: int | None  # when the person last authenticated at the provider (epoch seconds)


@dataclass(frozen=True)
class Authorization:
    """Where to send the browser, and what its callback must match (kept sealed in its cookie)."""

    url: str
    state: str
    nonce: str
    code_verifier: str


def _allowed_endpoint(url: object, issuer: str) -> bool:
    """HTTPS; plain HTTP only when the issuer itself is a provider on this machine."""
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.netloc:
        return True
    issuer_parts = urlsplit(issuer)
    return (
        parts.scheme == "http"
        and issuer_parts.scheme == "http"
        and parts.hostname in _LOOPBACK
        and issuer_parts.hostname in _LOOPBACK
    )


def _as_bool(value: object) -> bool:
    """`email_verified` is a JSON boolean; some providers send the string "true"."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def validate_id_token(
    raw: str, keys: KeySet, *, issuer: str, client_id: str, nonce: str, now: int, access_token: str = ""
) -> dict[str, Any]:
    """The ID token's claims, or OidcError: signature (JWKS), iss, aud/azp, exp, iat, nonce."""
    if not nonce:
        raise OidcError("no nonce to compare")
    try:
        token = jwt.decode(raw, keys, algorithms=list(ALGORITHMS))
    except InvalidKeyIdError:
        raise
    except (JoseError, ValueError, TypeError) as error:
        raise OidcError(f"id token signature or format ({type(error).__name__})") from None
    options: dict[str, Any] = {
        "iss": {"essential": True, "value": issuer},
        "aud": {"essential": True, "value": client_id},
        "sub": {"essential": True},
    }
    params = {"nonce": nonce, "client_id": client_id}
    if access_token:
        params["access_token"] = access_token
    claims = CodeIDToken(token.claims, token.header, options, params)
    try:
        claims.validate(now=now, leeway=CLOCK_SKEW_SECONDS)
    except (JoseError, ValueError, TypeError) as error:
        raise OidcError(f"id token claims ({type(error).__name__}: {getattr(error, 'claim', '')})") from None
    return dict(claims)


class Provider:
    """One configured provider: discovery and keys cached per worker (thread-safe)."""

    def __init__(self, issuer: str, client_id: str, client_secret: str, *, clock: Any = time.time) -> None:
        self.issuer, self.client_id, self._client_secret = issuer, client_id, client_secret
        self._clock = clock
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._fetched_at = 0.0
        self._keys_fetched_at = 0.0

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = httpx.get(url, timeout=HTTP_TIMEOUT_SECONDS, follow_redirects=False)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise OidcError(f"provider unreachable ({type(error).__name__})") from None
        if not isinstance(document, dict):
            raise OidcError("provider answered something that is not a JSON object")
        return document

    def metadata(self) -> dict[str, Any]:
        """The discovery document (cached for an hour), checked before it is believed."""
        with self._lock:
            if self._metadata is not None and self._clock() - self._fetched_at < METADATA_SECONDS:
                return self._metadata
        document = self._get_json(self.issuer.rstrip("/") + DISCOVERY_PATH)
        if document.get("issuer") != self.issuer:
            raise OidcError("discovery document names another issuer")
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not _allowed_endpoint(document.get(name), self.issuer):
                raise OidcError(f"discovery document has no usable {name}")
        userinfo = document.get("userinfo_endpoint")
        if userinfo is not None and not _allowed_endpoint(userinfo, self.issuer):
            raise OidcError("discovery document has no usable userinfo_endpoint")
        with self._lock:
            self._metadata, self._fetched_at, self._keys = document, self._clock(), None
        return document

    def keys(self, *, refresh: bool = False) -> KeySet:
        """The provider's signing keys; `refresh` fetches them again unless that was just done."""
        metadata = self.metadata()
        with self._lock:
            fresh = self._clock() - self._keys_fetched_at < KEYS_REFETCH_SECONDS
            if self._keys is not None and (not refresh or fresh):
                return self._keys
        document = self._get_json(metadata["jwks_uri"])
        try:
            keys = KeySet.import_key_set(
                {
                    "keys": [
                        k for k in document.get("keys", []) if isinstance(k, dict) and k.get("kty") != "oct"
                    ]
                }
            )
        except (JoseError, ValueError, TypeError):
            raise OidcError("provider's JWKS could not be read") from None
        with self._lock:
            self._keys, self._keys_fetched_at = keys, self._clock()
        return keys

    def _client(self, redirect_uri: str) -> OAuth2Client:
        return OAuth2Client(
            client_id=self.client_id,
            client_secret=self._client_secret,
            scope=SCOPE,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic",  # noqa: S106 - a method name
            timeout=HTTP_TIMEOUT_SECONDS,
        )

    def authorization(self, redirect_uri: str, *, fresh_login: bool = False) -> Authorization:
        """A new request: random state, nonce and PKCE verifier. `fresh_login` asks the provider
        to authenticate the person again (re-authentication for sudo mode)."""
        endpoint = self.metadata()["authorization_endpoint"]
        state, nonce, verifier = (
            secrets.token_urlsafe(32),
            secrets.token_urlsafe(32),
            secrets.token_urlsafe(48),
        )
        extra = {"prompt": "login", "max_age": "0"} if fresh_login else {}
        with self._client(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                endpoint, state=state, code_verifier=verifier, nonce=nonce, **extra
            )
        return Authorization(url=url, state=state, nonce=nonce, code_verifier=verifier)

    def identity(self, code: str, redirect_uri: str, code_verifier: str, nonce: str) -> Identity:
        """Exchange the code (with the verifier), check the ID token, read the email."""
        metadata = self.metadata()
        if not code or len(code) > 2000:
            raise OidcError("no authorization code")
        with self._client(redirect_uri) as client:
            try:
                token = client.fetch_token(
                    metadata["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=code_verifier,
                )
            except Exception as error:  # Authlib's OAuthError, httpx errors, a bad body
                raise OidcError(f"token exchange failed ({type(error).__name__})") from None
            raw = token.get("id_token")
            if not isinstance(raw, str):
                raise OidcError("token response has no id_token")
            claims = self._claims(raw, nonce, str(token.get("access_token") or ""))
            if "email" not in claims and metadata.get("userinfo_endpoint"):
                claims = {**claims, **self._userinfo(client, metadata["userinfo_endpoint"], claims["sub"])}
        email = claims.get("email")
        if not isinstance(email, str) or not email:
            raise OidcError("provider sent no email (is the email scope allowed for this client?)")
        auth_time = claims.get("auth_time")
        return Identity(
            issuer=self.issuer,
            subject=str(claims["sub"]),
            email=email,
            email_verified=_as_bool(claims.get("email_verified")),
            auth_time=int(auth_time) if isinstance(auth_time, int | float) else None,
        )

    def _claims(self, raw: str, nonce: str, access_token: str) -> dict[str, Any]:
        check = {"issuer": self.issuer, "client_id": self.client_id, "nonce": nonce}
        try:
            return validate_id_token(
                raw, self.keys(), now=int(self._clock()), access_token=access_token, **check
            )
        except InvalidKeyIdError:  # the provider rotated its keys: fetch them once more
            try:
                return validate_id_token(
                    raw, self.keys(refresh=True), now=int(self._clock()), access_token=access_token, **check
                )
            except InvalidKeyIdError:
                raise OidcError("id token signed with an unknown key") from None

    @staticmethod
    def _userinfo(client: OAuth2Client, url: str, subject: str) -> dict[str, Any]:
        try:
            response = client.get(url)
            response.raise_for_status()
            info = response.json()
        except Exception as error:
            raise OidcError(f"userinfo failed ({type(error).__name__})") from None
        if not isinstance(info, dict) or info.get("sub") != subject:
            raise OidcError("userinfo names another subject")
        return {name: info[name] for name in ("email", "email_verified") if name in info}


def provider() -> Provider:
    """The configured provider, built once per worker (app_context.oidc_provider)."""
    built = app_context.oidc_provider
    if built is None:
        settings = get_settings()
        built = Provider(settings.oidc_issuer, settings.oidc_client_id, settings.oidc_client_secret)
        app_context.oidc_provider = built
    return built
