"""The browser's sign-in, sign-up and sign-out form posts: they set and clear the HttpOnly
session cookie, so passwords and tokens never pass through Reflex state."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from rxapp import metrics, routes
from rxapp.api.errors import client_address, error_response
from rxapp.context import get_settings
from rxapp.db import session_scope
from rxapp.security import is_allowed_origin
from rxapp.services import two_factor
from rxapp.services import users as user_service
from rxapp.services import workspaces as workspace_service
from rxapp.services.errors import ServiceError, ThrottledError

DEVICE_COOKIE_SECONDS = 400 * 24 * 3600  # browsers cap cookie lifetimes at 400 days
router = APIRouter()


def _trusted_origin(request: Request) -> str | None:
    """The page that posted the form, if it is one of ours (login CSRF and open-redirect guard)."""
    allowed = get_settings().allowed_origins
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        referer = request.headers.get("referer", "")
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    origin = origin.rstrip("/")
    host, forwarded = request.headers.get("host", ""), request.headers.get("x-forwarded-host", "")
    return origin if is_allowed_origin(origin, host, allowed, forwarded) else None


def _redirect(origin: str, path: str, **query: str) -> RedirectResponse:
    suffix = f"?{urlencode(query)}" if query else ""
    return RedirectResponse(f"{origin}{path}{suffix}", status_code=303)


def _secure(request: Request, origin: str) -> bool:
    return origin.startswith("https://") or request.url.scheme == "https"


def _set_session_cookie(response: Response, token: str, secure: bool) -> None:
    response.set_cookie(
        routes.SESSION_COOKIE,
        token,
        max_age=int(get_settings().session_hours * 3600),
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure,
    )


def _forbidden_origin() -> JSONResponse:
    return error_response(403, "FORBIDDEN_ORIGIN", "This form must be posted from the console's own pages.")


def _set_device_cookie(response: Response, value: str, secure: bool) -> None:
    """The trusted-device cookie (services/throttle.py): sent only to the sign-in forms."""
    response.set_cookie(
        routes.DEVICE_COOKIE,
        value,
        max_age=DEVICE_COOKIE_SECONDS,
        path=routes.API_AUTH_PREFIX,
        httponly=True,
        samesite="strict",
        secure=secure,
    )


def _ask_for_code(request: Request, origin: str, signed: user_service.SignIn, next_path: str) -> Response:
    """The password was right and the account has two-factor on: no session yet. The browser
    holds a short-lived signed pending token (HttpOnly, sent only to the sign-in forms)."""
    with session_scope() as session:
        pending = two_factor.pending_token(session, signed.user.id)
    response = _redirect(origin, routes.SIGN_IN, step="code", **({"next": next_path} if next_path else {}))
    response.set_cookie(
        routes.PENDING_COOKIE,
        pending,
        max_age=two_factor.PENDING_SECONDS,
        path=routes.API_AUTH_PREFIX,
        httponly=True,
        samesite="strict",
        secure=_secure(request, origin),
    )
    return response


def _signed_in(
    request: Request, origin: str, signed: user_service.SignIn, address: str, next_path: str = ""
) -> Response:
    if signed.second_factor:
        return _ask_for_code(request, origin, signed, next_path)
    with session_scope() as session:
        token = user_service.start_session(
            session, signed.user.id, client_address=address, proved_at=signed.proved_at
        )
        # the page asked for before signing in (a checked relative path on our own origin), else the
        # keys of the workspace a tab without a stored choice opens (the personal one): straight
        # there, not through the old /keys address and its forwarding round trip
        landing = routes.safe_next(next_path) or routes.in_workspace(
            workspace_service.resolve(session, signed.user.id).workspace_public_id, routes.KEYS
        )
    response = RedirectResponse(f"{origin}{landing}", status_code=303)
    secure = _secure(request, origin)
    _set_session_cookie(response, token, secure)
    if signed.device_cookie:  # single sign-on leaves the browser's device cookie as it was
        _set_device_cookie(response, signed.device_cookie, secure)
    response.delete_cookie(
        routes.PENDING_COOKIE, path=routes.API_AUTH_PREFIX, httponly=True, samesite="strict"
    )
    return response


def _throttled(origin: str, page: str, email: str, address: str, **query: str) -> Response:
    """Counted, not audited one row each; the answer does not say when the wait ends."""
    with session_scope() as session:
        user_service.record_throttled(session, email, client_address=address)
    return _redirect(origin, page, error="throttled", **query)


@router.post(routes.API_SIGN_IN, include_in_schema=False)
def sign_in(
    request: Request,
    email: Annotated[str, Form(max_length=1000)] = "",
    password: Annotated[str, Form(max_length=5000)] = "",
    next: Annotated[str, Form(max_length=routes.NEXT_MAX_LENGTH)] = "",
) -> Response:
    origin = _trusted_origin(request)
    if origin is None:
        return _forbidden_origin()
    address = client_address(request)
    device = request.cookies.get(routes.DEVICE_COOKIE, "")
    next_path = routes.safe_next(next)
    try:
        with session_scope() as session:
            signed = user_service.authenticate(
                session, email, password, client_address=address, device_cookie=device
            )
    except ThrottledError:
        metrics.record_sign_in("throttled")
        return _throttled(origin, routes.SIGN_IN, email, address)
    metrics.record_sign_in("success" if signed else "failure")
    if signed is None:  # back to the form, still knowing where to go afterwards
        return _redirect(
            origin, routes.SIGN_IN, error="invalid", **({"next": next_path} if next_path else {})
        )
    return _signed_in(request, origin, signed, address, next_path)


@router.post(routes.API_SIGN_IN_CODE, include_in_schema=False)
def sign_in_code(
    request: Request,
    code: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=routes.NEXT_MAX_LENGTH)] = "",
) -> Response:
    """The second step: an authenticator code (or a recovery code) after the password."""
    origin = _trusted_origin(request)
    if origin is None:
        return _forbidden_origin()
    address = client_address(request)
    device = request.cookies.get(routes.DEVICE_COOKIE, "")
    pending = request.cookies.get(routes.PENDING_COOKIE, "")
    next_path = routes.safe_next(next)
    keep = {"next": next_path} if next_path else {}
    with session_scope() as session:
        waiting = two_factor.pending_user(session, pending)
        user_id, email = (waiting.id or 0, waiting.email) if waiting else (0, "")
    try:
        with session_scope() as session:
            signed = two_factor.complete_sign_in(
                session, pending, code, client_address=address, device_cookie=device
            )
    except ThrottledError:
        metrics.record_sign_in("throttled")
        return _throttled(origin, routes.SIGN_IN, email, address, step="code", **keep)
    except ServiceError as error:
        if error.code != two_factor.WRONG_CODE:
            raise
        metrics.record_sign_in("failure")
        with session_scope() as session:
            two_factor.record_code_failure(
                session, user_id, "user.sign_in_failed", client_address=address, device_cookie=device
            )
        return _redirect(origin, routes.SIGN_IN, step="code", error="code_invalid", **keep)
    if signed is None:  # the pending step expired (or never was): start again
        return _redirect(origin, routes.SIGN_IN, error="code_expired", **keep)
    metrics.record_sign_in("success")
    return _signed_in(request, origin, signed, address, next_path)


@router.post(routes.API_SIGN_UP, include_in_schema=False)
def sign_up(
    request: Request,
    email: Annotated[str, Form(max_length=1000)] = "",
    password: Annotated[str, Form(max_length=5000)] = "",
    confirm_password: Annotated[str, Form(max_length=5000)] = "",
    invitation: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    origin = _trusted_origin(request)
    if origin is None:
        return _forbidden_origin()
    address = client_address(request)
    if password != confirm_password:
        return _redirect(origin, routes.SIGN_UP, error="mismatch")
    device = request.cookies.get(routes.DEVICE_COOKIE, "")
    landing = ""
    try:
        with session_scope() as session:
            signed = user_service.register(
                session, email, password, client_address=address, device_cookie=device, invitation=invitation
            )
            if signed is not None and invitation and not signed.second_factor:
                # Signed up (or in) through an invitation link: join in the same transaction, and
                # land in that workspace (the keys page switches the tab and says so).
                joined = workspace_service.accept_invitation(
                    session, signed.user.id, invitation, client_address=address
                )
                landing = routes.joined_keys(joined.public_id)
    except ThrottledError:
        return _throttled(origin, routes.SIGN_UP, email, address)
    except ServiceError as error:
        if error.code in _POLICY_ERRORS:
            with session_scope() as session:
                user_service.record_signup_refused(session, email, error.code, client_address=address)
        return _redirect(origin, routes.SIGN_UP, error=sign_up_error_code(error))
    if signed is None:  # an existing account and not its password: say no more than that
        return _redirect(origin, routes.SIGN_UP, error="not_created")
    return _signed_in(request, origin, signed, address, landing)


SIGN_UP_ERROR_CODES = {"email_invalid", "password_short", "password_long", "password_common"}
_POLICY_ERRORS = {
    user_service.SIGNUP_CLOSED_CODE: "signup_closed",
    user_service.SIGNUP_INVITE_ONLY_CODE: "signup_invite_only",
    "INVITATION_INVALID": "invitation_invalid",
}


def sign_up_error_code(error: ServiceError) -> str:
    """A fixed code per failure: the page maps it to text, so nothing user-supplied is reflected."""
    if error.code in _POLICY_ERRORS:
        return _POLICY_ERRORS[error.code]
    return error.code if error.code in SIGN_UP_ERROR_CODES else "not_created"


@router.post(routes.API_SIGN_OUT, include_in_schema=False)
def sign_out(request: Request) -> Response:
    origin = _trusted_origin(request)
    if origin is None:
        return _forbidden_origin()
    token = request.cookies.get(routes.SESSION_COOKIE, "")
    if token:
        with session_scope() as session:
            user_service.end_session(session, token, client_address=client_address(request))
    response = _redirect(origin, routes.SIGN_IN, signed_out="1")
    response.delete_cookie(routes.SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response
