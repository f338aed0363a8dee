"""Sign-in with a passkey (services/passkeys.py), alone or as the second step after the password.

1. `POST passkey/options` (`purpose=sign_in` or `second_factor`): a fresh single-use challenge as
   the JSON options for navigator.credentials.get(). The second step's options name the passkeys
   of the person in the pending sign-in (its cookie), and that challenge is bound to them.
2. `POST passkey/sign-in`: a plain form post (assets/passkeys.js fills `credential` with the
   browser's answer), answered like the other sign-in forms: the session cookie and a redirect.

The relying party is the page's own origin, accepted only when it is the console's (same host, or
APIKEYS_ALLOWED_ORIGINS), exactly as for the password form.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from rxapp import metrics, routes
from rxapp.api.auth_forms import _forbidden_origin, _redirect, _signed_in, _trusted_origin
from rxapp.api.errors import client_address, error_response
from rxapp.db import session_scope
from rxapp.services import passkeys, two_factor
from rxapp.services.errors import ValidationError

router = APIRouter()
_STEPS = (passkeys.SIGN_IN, passkeys.SECOND_FACTOR)


@router.post(routes.API_PASSKEY_OPTIONS, include_in_schema=False)
def passkey_options(request: Request, purpose: Annotated[str, Form(max_length=20)] = "") -> Response:
    origin = _trusted_origin(request)
    if origin is None:
        return _forbidden_origin()
    if purpose not in _STEPS:
        return error_response(400, "INVALID", "purpose must be sign_in or second_factor.")
    try:
        with session_scope() as session:
            user_id = None
            if purpose == passkeys.SECOND_FACTOR:
                waiting = two_factor.pending_user(session, request.cookies.get(routes.PENDING_COOKIE, ""))
                if waiting is None:
                    return error_response(409, "SIGN_IN_EXPIRED", "The sign-in took too long. Start again.")
                user_id = waiting.id
            options = passkeys.authentication_options(session, origin, purpose, user_id)
    except ValidationError as error:
        return error_response(400, error.code, error.message)
    return Response(options, media_type="application/json", headers={"Cache-Control": "no-store"})


@router.post(routes.API_PASSKEY_SIGN_IN, include_in_schema=False)
def passkey_sign_in(
    request: Request,
    credential: Annotated[str, Form(max_length=passkeys.CREDENTIAL_MAX_LENGTH)] = "",
    step: Annotated[str, Form(max_length=20)] = passkeys.SIGN_IN,
    next: Annotated[str, Form(max_length=routes.NEXT_MAX_LENGTH)] = "",
) -> Response:
    origin = _trusted_origin(request)
    if origin is None:
        return _forbidden_origin()
    address = client_address(request)
    device = request.cookies.get(routes.DEVICE_COOKIE, "")
    next_path = routes.safe_next(next)
    keep = {"next": next_path} if next_path else {}
    with session_scope() as session:
        if step == passkeys.SECOND_FACTOR:
            waiting = two_factor.pending_user(session, request.cookies.get(routes.PENDING_COOKIE, ""))
            if waiting is None:
                return _redirect(origin, routes.SIGN_IN, error="code_expired", **keep)
            signed = passkeys.complete_second_factor(
                session, waiting, credential, origin, client_address=address, device_cookie=device
            )
        else:
            signed = passkeys.sign_in(
                session, credential, origin, client_address=address, device_cookie=device
            )
    metrics.record_sign_in("success" if signed else "failure")
    if signed is None:
        again = {"step": "code"} if step == passkeys.SECOND_FACTOR else {}
        return _redirect(origin, routes.SIGN_IN, error="passkey_refused", **again, **keep)
    return _signed_in(request, origin, signed, address, next_path)
