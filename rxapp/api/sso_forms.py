"""Single sign-on (OIDC, services/sso.py): the sign-in button's link and the provider's callback.

1. `GET oidc/start` (the "Sign in with <name>" link): a new request with state, nonce and PKCE
   verifier, sealed into a ten-minute cookie (HttpOnly, SameSite=Lax so that it comes back with the
   provider's redirect, sent only to these two paths), then off to the provider. A link, not a
   form: the pages' CSP (`form-action 'self'`) would stop a form post redirected to the provider.
2. `GET oidc/callback` (the redirect URI registered at the provider): the state must be the one
   in this browser's cookie, the code is exchanged with the verifier, the ID token is checked, and
   the account signs in like after its password (a second factor is still asked for). Every
   failure lands on the sign-in page with a fixed message and no session; the cookie is spent.

The redirect URI is the address this backend was reached at (the trusted proxy's scheme and host
behind one) + `routes.API_OIDC_CALLBACK`: register exactly that at the provider.
"""

from __future__ import annotations

import logging
import re
from typing import Annotated
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from rxapp import metrics, routes
from rxapp.api.auth_forms import _redirect, _secure, _signed_in, _trusted_origin
from rxapp.api.errors import client_address, error_response
from rxapp.context import get_settings
from rxapp.db import session_scope
from rxapp.models import utc_now
from rxapp.security import is_allowed_origin, is_https, trusted_forwarded_host
from rxapp.services import oidc_client, sso
from rxapp.services import users as user_service
from rxapp.services.errors import ServiceError

log = logging.getLogger(__name__)
router = APIRouter()
_COOKIE_PATH = routes.API_OIDC_START.rsplit("/", 1)[0]  # /api/v1/auth/oidc: start and callback only
_HOST = re.compile(r"[A-Za-z0-9.\-]{1,253}(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]{2,45}\](:[0-9]{1,5})?")
_PROVIDER_ERROR = re.compile(r"[a-z_]{1,40}")
# A refusal's code on the sign-in page (SIGN_IN_MESSAGES in pages/auth.py says it in words).
_PAGE_CODES = {
    sso.UNVERIFIED: "sso_unverified",
    sso.EMAIL_INVALID: "sso_failed",
    sso.REFUSED: "sso_refused",
    sso.OTHER_PERSON: "sso_other_person",
    user_service.SIGNUP_CLOSED_CODE: "sso_signup_closed",
    user_service.SIGNUP_INVITE_ONLY_CODE: "sso_signup_invite_only",
}


def _own_origin(request: Request) -> str | None:
    """scheme://host this backend was reached at (X-Forwarded-* only from a trusted proxy)."""
    host = trusted_forwarded_host(request.headers.get("x-forwarded-host", "")) or request.headers.get(
        "host", ""
    )
    if not _HOST.fullmatch(host):
        return None
    return f"{'https' if is_https(request.scope) else 'http'}://{host}"


def _page_origin(request: Request, own: str, claimed: str) -> str:
    """The console page's origin (another port in development): the Referer's when it is ours,
    else the `origin` the page put in the link when it is ours, else this backend's own."""
    trusted = _trusted_origin(request)
    if trusted:
        return trusted
    allowed = get_settings().allowed_origins
    host, forwarded = request.headers.get("host", ""), request.headers.get("x-forwarded-host", "")
    if claimed and is_allowed_origin(claimed, host, allowed, forwarded):
        return claimed.rstrip("/")
    return own


def _invitation_in(next_path: str) -> str:
    """The invitation token when the sign-in started from an invitation link (`/invite?token=`)."""
    parts = urlsplit(next_path)
    if parts.path != routes.INVITATION:
        return ""
    return (parse_qs(parts.query).get("token") or [""])[0][:200]


def _drop_flow(response: Response) -> Response:
    response.delete_cookie(routes.OIDC_COOKIE, path=_COOKIE_PATH, httponly=True, samesite="lax")
    return response


@router.get(routes.API_OIDC_START, include_in_schema=False)
def sso_start(
    request: Request,
    next: Annotated[str, Query(max_length=routes.NEXT_MAX_LENGTH)] = "",
    origin: Annotated[str, Query(max_length=200)] = "",
    reauth: Annotated[str, Query(max_length=1)] = "",
) -> Response:
    own = _own_origin(request)
    if own is None:
        return error_response(400, "BAD_HOST", "The Host header is not a host name.")
    page = _page_origin(request, own, origin)
    next_path = routes.safe_next(next)
    keep = {"next": next_path} if next_path else {}
    if not get_settings().oidc_enabled:
        return _redirect(page, routes.SIGN_IN, error="sso_unavailable", **keep)
    redirect_uri = own + routes.API_OIDC_CALLBACK
    try:
        request_ = oidc_client.provider().authorization(redirect_uri, fresh_login=reauth == "1")
    except oidc_client.OidcError as error:
        log.warning("single sign-on unavailable: %s", error.reason)
        return _redirect(page, routes.SIGN_IN, error="sso_unavailable", **keep)
    flow = sso.Flow(
        state=request_.state,
        nonce=request_.nonce,
        verifier=request_.code_verifier,
        origin=page,
        next_path=next_path,
        redirect_uri=redirect_uri,
        expires=sso.new_flow_expiry(),
    )
    response = RedirectResponse(request_.url, status_code=303)
    response.headers["Cache-Control"] = "no-store"
    response.set_cookie(
        routes.OIDC_COOKIE,
        sso.seal_flow(flow),
        max_age=sso.FLOW_SECONDS,
        path=_COOKIE_PATH,
        httponly=True,
        samesite="lax",  # the provider's redirect back is a cross-site top-level navigation
        secure=_secure(request, page) or own.startswith("https://"),
    )
    return response


def _failed(
    page: str, page_code: str, reason: str, keep: dict[str, str], *, email: str = "", address: str
) -> Response:
    """Counted, audited, logged (fixed words only), and back to the sign-in page without a session."""
    log.info("single sign-on refused: %s", reason)
    metrics.record_sign_in("failure")
    with session_scope() as session:
        sso.record_failure(session, reason, email=email, client_address=address)
    return _drop_flow(_redirect(page, routes.SIGN_IN, error=page_code, **keep))


@router.get(routes.API_OIDC_CALLBACK, include_in_schema=False)
def sso_callback(
    request: Request,
    code: Annotated[str, Query(max_length=2000)] = "",
    state: Annotated[str, Query(max_length=500)] = "",
    error: Annotated[str, Query(max_length=200)] = "",
    iss: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    address = client_address(request)
    flow = sso.open_flow(request.cookies.get(routes.OIDC_COOKIE, ""), state, utc_now())
    page = flow.origin if flow else (_trusted_origin(request) or _own_origin(request) or "")
    keep = {"next": flow.next_path} if flow and flow.next_path else {}
    with session_scope() as session:
        waiting = sso.address_wait(session, address)
    if waiting:
        metrics.record_sign_in("throttled")
        with session_scope() as session:
            user_service.record_throttled(session, "", client_address=address)
        return _drop_flow(_redirect(page, routes.SIGN_IN, error="throttled", **keep))
    if flow is None:
        return _failed(page, "sso_state", "state missing, forged or expired", keep, address=address)
    if error:
        said = error if _PROVIDER_ERROR.fullmatch(error) else "an unknown error"
        page_code = "sso_cancelled" if error == "access_denied" else "sso_failed"
        return _failed(page, page_code, f"the provider answered {said}", keep, address=address)
    if not get_settings().oidc_enabled:
        return _failed(page, "sso_unavailable", "single sign-on is off", keep, address=address)
    provider = oidc_client.provider()
    if iss and iss != provider.issuer:  # RFC 9207: the answer came from another provider
        return _failed(page, "sso_failed", "iss parameter names another issuer", keep, address=address)
    try:
        identity = provider.identity(code, flow.redirect_uri, flow.verifier, flow.nonce)
    except oidc_client.OidcError as refused:
        return _failed(page, "sso_failed", refused.reason, keep, address=address)
    invitation = _invitation_in(flow.next_path)
    try:
        with session_scope() as session:
            result = sso.sign_in(session, identity, invitation=invitation, client_address=address)
    except ServiceError as refusal:
        page_code = _PAGE_CODES.get(refusal.code, "sso_failed")
        if refusal.code in (user_service.SIGNUP_CLOSED_CODE, user_service.SIGNUP_INVITE_ONLY_CODE):
            with session_scope() as session:
                user_service.record_signup_refused(
                    session, identity.email, refusal.code, client_address=address
                )
            return _drop_flow(_redirect(page, routes.SIGN_IN, error=page_code, **keep))
        return _failed(page, page_code, refusal.code, keep, email=identity.email, address=address)
    metrics.record_sign_in("success")
    landing = routes.joined_keys(result.joined) if result.joined else flow.next_path
    return _drop_flow(_signed_in(request, page, result.signed, address, landing))
