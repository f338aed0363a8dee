"""The HTTP API for services (verify, health) and the browser's sign-in form posts.

Mounted into Reflex with `api_transformer`; its own lifespan never runs, so jobs live in jobs.py.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from rxapp import __version__, hotpath, metrics, routes
from rxapp.db import get_engine, session_scope
from rxapp.hotpath.answers import Answer, authorize_answer, verify_answer
from rxapp.hotpath.rules import scope_client_address
from rxapp.security import is_allowed_origin
from rxapp.services import users as user_service
from rxapp.services.errors import ServiceError, ThrottledError
from rxapp.settings import get_settings

DEVICE_COOKIE_SECONDS = 400 * 24 * 3600  # browsers cap cookie lifetimes at 400 days


class BiasProfileOut(BaseModel):
    id: int
    name: str
    description: str
    categories: list[str]
    sensitivity: float
    action: str


class VerifyOut(BaseModel):
    valid: bool
    code: str | None = None
    key_id: str | None = None
    status: str | None = None
    expires_at: str | None = None
    bias_profile: BiasProfileOut | None = None
    retry_after: int | None = None  # with code RATE_LIMITED: the key's own per-minute limit


class ErrorOut(BaseModel):
    error: str
    message: str


def _error(status: int, error: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "message": message}, status_code=status, headers=headers)


def client_address(request: Request) -> str:
    """The peer address, or X-Forwarded-For's entry written by the trusted proxy in front of us."""
    return scope_client_address(request.scope)


# ---------------------------------------------------------------- app

api = FastAPI(
    title="API key console",
    version=__version__,
    description="Verify API keys and read the Bias Profile attached to them.",
    docs_url=None,  # Swagger UI would pull scripts from a CDN; the schema itself is served below
    redoc_url=None,
    openapi_url=f"{routes.API_PREFIX}/openapi.json",
)


@api.exception_handler(RequestValidationError)
async def _invalid_request(_request: Request, error: RequestValidationError) -> JSONResponse:
    first = error.errors()[0] if error.errors() else {}
    where = ".".join(str(part) for part in first.get("loc", ()))
    return _error(422, "INVALID_REQUEST", f"Invalid request: {first.get('msg', 'bad input')} ({where}).")


@api.exception_handler(StarletteHTTPException)
async def _http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
    return _error(error.status_code, "HTTP_ERROR", str(error.detail))


@api.exception_handler(Exception)
async def _unexpected(_request: Request, _error_: Exception) -> JSONResponse:
    """Fail closed, without a stack trace or internals in the answer."""
    return _error(500, "INTERNAL_ERROR", "The request could not be processed.")


_CREDENTIAL_HEADERS: dict[str, Any] = {
    "parameters": [
        {
            "name": "authorization",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": "`Bearer <key>`",
        },
        {
            "name": "x-api-key",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": "The key itself (alternative to Authorization)",
        },
    ]
}


@api.post(
    routes.API_VERIFY,
    response_model=VerifyOut,
    response_model_exclude_none=True,
    responses={400: {"model": ErrorOut}, 401: {"model": ErrorOut}, 429: {"model": ErrorOut}},
    summary="Verify an API key",
    openapi_extra=_CREDENTIAL_HEADERS,
    description=(
        "Send the key in `Authorization: Bearer <key>` or `X-API-Key`. Answers 200 with "
        "`valid: true` and the key's Bias Profile, or `valid: false` with a code: NOT_FOUND, "
        "INACTIVE, EXPIRED, MALFORMED, or RATE_LIMITED with `retry_after` (seconds) when the key's "
        "own per-minute limit is reached. A 429 (with `Retry-After`) is the endpoint's per-client "
        "limit instead."
    ),
)
async def verify(request: Request) -> Response:
    # The documented twin of the fast path (rxapp/hotpath), which answers this path before FastAPI's
    # routing. Both call the same `answer`. Headers are read from the scope, not declared as
    # parameters; they are documented through `openapi_extra` above.
    return _as_response(await hotpath.answer(request.scope, verify_answer, "verify"))


def _as_response(reply: Answer) -> Response:
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in reply.headers}
    return Response(reply.body, reply.status, headers=headers, media_type="application/json")


_OTHER_METHODS = ["HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@api.get(
    routes.API_AUTHORIZE,
    summary="Forward auth for gateways (nginx auth_request, Traefik, Caddy, Envoy)",
    openapi_extra=_CREDENTIAL_HEADERS,
    responses={
        200: {
            "description": "Valid key. Identity headers for the gateway to forward: `X-Key-Id`, "
            "`X-Bias-Profile` (percent-encoded UTF-8 name, at most 960 bytes) and "
            "`X-Bias-Profile-Settings` (unpadded base64url of JSON `{id, categories, sensitivity, "
            "action}`, at most 512 bytes); both empty when the key has no profile."
        },
        400: {"description": "KEY_IN_URL or HEADER_TOO_LARGE"},
        401: {"description": "MISSING_KEY, MALFORMED or NOT_FOUND, with `WWW-Authenticate: Bearer`"},
        403: {"description": "INACTIVE or EXPIRED"},
        429: {"description": "RATE_LIMITED, with `Retry-After`"},
    },
    description=(
        "Same key rules as verify, answered as status codes for a gateway: any method (only GET "
        "is listed here), body ignored. Every answer carries a tiny JSON body `{valid, code}` "
        "(`{valid, key_id}` when valid). Paths below this one are accepted too (Envoy's "
        "`path_prefix`). Do not point a gateway at `/verify`: it answers 200 for an invalid key."
    ),
)
async def authorize(request: Request) -> Response:
    return _as_response(await hotpath.answer(request.scope, authorize_answer, "authorize"))


@api.api_route(routes.API_AUTHORIZE, methods=_OTHER_METHODS, include_in_schema=False)
@api.api_route(
    f"{routes.API_AUTHORIZE}/{{rest:path}}", methods=["GET", *_OTHER_METHODS], include_in_schema=False
)
async def authorize_any_method(request: Request) -> Response:
    return _as_response(await hotpath.answer(request.scope, authorize_answer, "authorize"))


@api.api_route(routes.API_VERIFY, methods=["GET", "PUT", "PATCH", "DELETE"], include_in_schema=False)
def verify_wrong_method() -> JSONResponse:
    return _error(405, "METHOD_NOT_ALLOWED", "Use POST to verify a key.", {"Allow": "POST"})


@api.get(routes.API_HEALTH, summary="Health of the app, its database and (when configured) Redis")
async def health() -> JSONResponse:
    settings = get_settings()
    report: dict[str, Any] = {
        "status": "ok",
        "version": __version__,
        "database": "ok",
        "database_backend": get_engine().dialect.name,
        "redis": "not configured",
    }
    try:
        await asyncio.to_thread(_ping_database)
    except Exception:
        report.update(status="unavailable", database="unavailable")
    if settings.redis_url:
        try:
            await asyncio.to_thread(_ping_redis, settings.redis_url)
            report["redis"] = "ok"
        except Exception:
            report.update(status="unavailable", redis="unavailable")
    return JSONResponse(report, status_code=200 if report["status"] == "ok" else 503)


def _ping_database() -> None:
    import sqlalchemy as sa

    with get_engine().connect() as connection:
        connection.execute(sa.text("SELECT 1"))


def _ping_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    finally:
        client.close()


@api.post(routes.API_NOOP, include_in_schema=False)
def noop() -> JSONResponse:
    """What a FastAPI route costs doing nothing (routing, middleware, threadpool hop); scripts/bench
    shows it next to the fast path and a bare Starlette app."""
    return JSONResponse({"valid": False, "code": "NOOP"})


# ---------------------------------------------------------------- browser sign-in (form posts)


def _trusted_origin(request: Request) -> str | None:
    """The page that posted the form, if it is one of ours (login CSRF and open-redirect guard)."""
    allowed = get_settings().allowed_origins
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        referer = request.headers.get("referer", "")
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    origin = origin.rstrip("/")
    return origin if is_allowed_origin(origin, request.headers.get("host", ""), allowed) else None


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
    return _error(403, "FORBIDDEN_ORIGIN", "This form must be posted from the console's own pages.")


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


def _signed_in(request: Request, origin: str, signed: user_service.SignIn, address: str) -> Response:
    with session_scope() as session:
        token = user_service.start_session(session, signed.user.id, client_address=address)
    response = _redirect(origin, routes.KEYS)
    secure = _secure(request, origin)
    _set_session_cookie(response, token, secure)
    _set_device_cookie(response, signed.device_cookie, secure)
    return response


def _throttled(origin: str, page: str, email: str, address: str) -> Response:
    """Counted, not audited one row each; the answer does not say when the wait ends."""
    with session_scope() as session:
        user_service.record_throttled(session, email, client_address=address)
    return _redirect(origin, page, error="throttled")


@api.post(routes.API_SIGN_IN, include_in_schema=False)
def sign_in(
    request: Request,
    email: Annotated[str, Form(max_length=1000)] = "",
    password: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    origin = _trusted_origin(request)
    if origin is None:
        return _forbidden_origin()
    address = client_address(request)
    device = request.cookies.get(routes.DEVICE_COOKIE, "")
    try:
        with session_scope() as session:
            signed = user_service.authenticate(
                session, email, password, client_address=address, device_cookie=device
            )
    except ThrottledError:
        metrics.record_sign_in("throttled")
        return _throttled(origin, routes.SIGN_IN, email, address)
    metrics.record_sign_in("success" if signed else "failure")
    if signed is None:
        return _redirect(origin, routes.SIGN_IN, error="invalid")
    return _signed_in(request, origin, signed, address)


@api.post(routes.API_SIGN_UP, include_in_schema=False)
def sign_up(
    request: Request,
    email: Annotated[str, Form(max_length=1000)] = "",
    password: Annotated[str, Form(max_length=5000)] = "",
    confirm_password: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    origin = _trusted_origin(request)
    if origin is None:
        return _forbidden_origin()
    address = client_address(request)
    if password != confirm_password:
        return _redirect(origin, routes.SIGN_UP, error="mismatch")
    device = request.cookies.get(routes.DEVICE_COOKIE, "")
    try:
        with session_scope() as session:
            signed = user_service.register(
                session, email, password, client_address=address, device_cookie=device
            )
    except ThrottledError:
        return _throttled(origin, routes.SIGN_UP, email, address)
    except ServiceError as error:
        return _redirect(origin, routes.SIGN_UP, error=sign_up_error_code(error))
    if signed is None:  # an existing account and not its password: say no more than that
        return _redirect(origin, routes.SIGN_UP, error="not_created")
    return _signed_in(request, origin, signed, address)


SIGN_UP_ERROR_CODES = {"email_invalid", "password_short", "password_long", "password_common"}


def sign_up_error_code(error: ServiceError) -> str:
    """A fixed code per failure: the page maps it to text, so nothing user-supplied is reflected."""
    return error.code if error.code in SIGN_UP_ERROR_CODES else "not_created"


@api.post(routes.API_SIGN_OUT, include_in_schema=False)
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
