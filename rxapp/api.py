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

from rxapp import hotpath, routes
from rxapp.db import get_engine, session_scope
from rxapp.hotpath.answers import Answer, authorize_answer, verify_answer
from rxapp.hotpath.rules import scope_client_address
from rxapp.services import users as user_service
from rxapp.services.errors import ServiceError, ThrottledError
from rxapp.settings import get_settings


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
    version="1.0.0",
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
        "INACTIVE, EXPIRED or MALFORMED."
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
    return origin if origin in allowed else None


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
    try:
        with session_scope() as session:
            user = user_service.authenticate(session, email, password, client_address=address)
            token = user_service.start_session(session, user.id, client_address=address) if user else None
    except ThrottledError as error:
        with session_scope() as session:
            user_service.record_throttled(session, email, client_address=address)
        return _redirect(origin, routes.SIGN_IN, error="throttled", wait=str(error.retry_after_seconds))
    if token is None:
        return _redirect(origin, routes.SIGN_IN, error="invalid")
    response = _redirect(origin, routes.KEYS)
    _set_session_cookie(response, token, _secure(request, origin))
    return response


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
    try:
        with session_scope() as session:
            user = user_service.sign_up(session, email, password, client_address=address)
            token = user_service.start_session(session, user.id, client_address=address)
    except ServiceError as error:
        return _redirect(origin, routes.SIGN_UP, error=sign_up_error_code(error))
    response = _redirect(origin, routes.KEYS)
    _set_session_cookie(response, token, _secure(request, origin))
    return response


def sign_up_error_code(error: ServiceError) -> str:
    """A fixed code per failure: the page maps it to text, so nothing user-supplied is reflected."""
    message = error.message.lower()
    if error.field == "email":
        return "email_taken" if "exists" in message else "email_invalid"
    if "common" in message:
        return "password_common"
    if "at most" in message:
        return "password_long"
    return "password_short"


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
