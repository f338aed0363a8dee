"""The management API's conventions, shared by its routes: RFC 9457 problem details with stable
codes (mapped from service error codes, never from message text), bearer-token authentication with
a per-token rate limit, scope checks, and ETag / If-Match from the version column."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlmodel import Session

from rxapp import routes
from rxapp.api.errors import client_address
from rxapp.context import app_context
from rxapp.db import session_scope
from rxapp.services import tokens as token_service
from rxapp.services.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    ServiceError,
    ThrottledError,
    ValidationError,
)

PROBLEM_JSON = "application/problem+json"
DB_INT_MAX = 2**31 - 1  # row ids are 32-bit INTEGER columns on PostgreSQL: bound every id a client sends
PROBLEM_BASE = "https://apikeys.invalid/problems/"  # a stable identifier, not a page to fetch


class ProblemOut(BaseModel):
    """RFC 9457 problem details; `code` is the stable, machine-readable part."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    field: str | None = None


class Problem(Exception):
    def __init__(
        self, status: int, code: str, detail: str, *, field: str = "", headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.field = status, code, detail, field
        self.headers = headers or {}


_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    412: "Precondition failed",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal error",
}


_MANAGEMENT_PREFIXES = tuple(
    f"{routes.API_PREFIX}/{part}" for part in ("keys", "profiles", "audit", "webhooks", "workspace")
)


def is_management_path(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in _MANAGEMENT_PREFIXES)


def problem_response(problem: Problem) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + problem.code.lower().replace("_", "-"),
        "title": _TITLES.get(problem.status, "Error"),
        "status": problem.status,
        "detail": problem.detail,
        "code": problem.code,
    }
    if problem.field:
        body["field"] = problem.field
    return JSONResponse(body, status_code=problem.status, headers=problem.headers, media_type=PROBLEM_JSON)


def from_service_error(error: ServiceError, *, stale_is_412: bool = False) -> Problem:
    """Service error code -> HTTP status. Missing and foreign look the same (404)."""
    if isinstance(error, token_service.TokenRejected):
        return Problem(401, error.code, error.message, headers={"WWW-Authenticate": "Bearer"})
    if isinstance(error, NotFoundError):
        return Problem(404, "NOT_FOUND", error.message)
    if isinstance(error, ForbiddenError):
        return Problem(403, error.code, error.message)
    if isinstance(error, ThrottledError):
        return Problem(
            429, error.code, error.message, headers={"Retry-After": str(error.retry_after_seconds)}
        )
    if isinstance(error, ConflictError):
        if error.code == "STALE" and stale_is_412:
            return Problem(412, "PRECONDITION_FAILED", error.message)
        if error.code == "IDEMPOTENCY_KEY_REUSED":
            return Problem(422, error.code, error.message)
        return Problem(409, error.code, error.message, field=error.field)
    if isinstance(error, ValidationError):
        return Problem(422, error.code, error.message, field=error.field)
    return Problem(400, error.code, error.message, field=error.field)


@contextmanager
def service_call(*, stale_is_412: bool = False) -> Iterator[Session]:
    """A unit of work whose service errors leave as problems."""
    try:
        with session_scope() as session:
            yield session
    except ServiceError as error:
        raise from_service_error(error, stale_is_412=stale_is_412) from None


_SCHEME = HTTPBearer(auto_error=False, bearerFormat="bpm_ management token")


def bearer(
    request: Request, _documented: Annotated[HTTPAuthorizationCredentials | None, Security(_SCHEME)] = None
) -> token_service.TokenAccess:
    """FastAPI dependency: the token's rights, re-derived from the creator's live role."""
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Problem(
            401,
            "UNAUTHORIZED",
            "Send a management token: Authorization: Bearer bpm_...",
            headers={"WWW-Authenticate": "Bearer"},
        )
    with service_call() as session:
        token = token_service.authenticate(session, secret)
    wait = app_context.management_limiter.retry_after(token.token_id)
    if wait:
        raise Problem(
            429, "RATE_LIMITED", "Too many requests for this token.", headers={"Retry-After": str(wait)}
        )
    return token


def need(token: token_service.TokenAccess, scope: str) -> None:
    if not token.has(scope):
        raise Problem(
            403, "MISSING_SCOPE", f"This token lacks the {scope} scope (or its creator's role does)."
        )


def etag(version: int) -> str:
    return f'"v{version}"'


def if_match(request: Request) -> int | None:
    """The version an If-Match names (None: no precondition, or `*`). Unparseable: 412."""
    value = request.headers.get("if-match", "").strip()
    if not value or value == "*":
        return None
    value = value.removeprefix("W/").strip('"')
    if value.startswith("v") and value[1:].isdigit():
        return int(value[1:])
    raise Problem(412, "PRECONDITION_FAILED", "If-Match must be an ETag this API sent.")


def check_version(expected: int | None, current: int) -> None:
    if expected is not None and expected != current:
        raise Problem(412, "PRECONDITION_FAILED", "The resource changed since that ETag. GET it again.")


def caller(request: Request) -> str:
    return client_address(request)
