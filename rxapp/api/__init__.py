"""The HTTP API, one module per reason to change, assembled into one FastAPI app:

- `verify`: /verify and /authorize (the documented twins of rxapp/hotpath, which holds the rate
  limiter and the request rules);
- `auth_forms`: the browser's sign-in, sign-up and sign-out form posts;
- `passkey_forms`: sign-in with a passkey (alone, or as the second step): a challenge, then the answer;
- `sso_forms`: single sign-on (OIDC): the link to the provider, and its callback;
- `health`: /health;
- `management`: a package: keys, profiles, usage and audit for automation, with a management
  token (conventions in `problems` and `management.common`);
- `secret_scanning`: GitHub's secret-scanning partner endpoint (leak reports);
- `errors`: the JSON error shape and the caller's address.

Mounted into Reflex with `api_transformer`; its own lifespan never runs, so jobs live in jobs.py.
A new endpoint is a new module with an `APIRouter`, included below.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from rxapp import __version__, routes
from rxapp.api import (
    auth_forms,
    docs,
    health,
    management,
    passkey_forms,
    secret_scanning,
    sso_forms,
    verify,
)
from rxapp.api.errors import error_response
from rxapp.api.problems import Problem, is_management_path, problem_response

api = FastAPI(
    title="API key console",
    version=__version__,
    description=(
        "Verify API keys and read the Bias Profile attached to them; manage keys, profiles, usage and"
        " the audit trail with a management token (Authorization: Bearer bpm_...)."
    ),
    docs_url=None,  # FastAPI's Swagger UI pulls scripts from a CDN; rxapp/api/docs.py serves packaged ones
    redoc_url=None,
    openapi_url=f"{routes.API_PREFIX}/openapi.json",
)


@api.exception_handler(Problem)
async def _problem(_request: Request, problem: Problem) -> JSONResponse:
    return problem_response(problem)


@api.exception_handler(RequestValidationError)
async def _invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
    first = error.errors()[0] if error.errors() else {}
    where = ".".join(str(part) for part in first.get("loc", ()))
    if is_management_path(request.url.path):  # the management API answers RFC 9457 problems
        return problem_response(
            Problem(422, "INVALID_REQUEST", f"{first.get('msg', 'bad input')} ({where}).", field=where)
        )
    return error_response(
        422, "INVALID_REQUEST", f"Invalid request: {first.get('msg', 'bad input')} ({where})."
    )


@api.exception_handler(StarletteHTTPException)
async def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
    if is_management_path(request.url.path):
        return problem_response(Problem(error.status_code, "HTTP_ERROR", str(error.detail)))
    return error_response(error.status_code, "HTTP_ERROR", str(error.detail))


@api.exception_handler(Exception)
async def _unexpected(request: Request, _error_: Exception) -> JSONResponse:
    """Fail closed, without a stack trace or internals in the answer."""
    if is_management_path(request.url.path):
        return problem_response(Problem(500, "INTERNAL_ERROR", "The request could not be processed."))
    return error_response(500, "INTERNAL_ERROR", "The request could not be processed.")


api.include_router(verify.router)
api.include_router(health.router)
api.include_router(auth_forms.router)
api.include_router(passkey_forms.router)
api.include_router(sso_forms.router)
api.include_router(management.router)
api.include_router(docs.router)
api.include_router(secret_scanning.router)


def benchmark_noop() -> JSONResponse:
    """The benchmark's ceiling: same app, same middleware, same threadpool hop, no work."""
    return JSONResponse({"valid": False, "code": "NOOP"})


def serve_benchmark_noop(app: FastAPI) -> None:
    """Only when APIKEYS_BENCH_NOOP=1 (scripts/bench sets it): never part of a production console."""
    app.add_api_route(routes.API_NOOP, benchmark_noop, methods=["POST"], include_in_schema=False)


__all__ = ["api", "serve_benchmark_noop"]
