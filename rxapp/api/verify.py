"""The documented twins of the fast path: /verify and /authorize as FastAPI routes.

rxapp/hotpath answers these paths before FastAPI's routing; these routes run the same `answer`
for requests that take the normal road (e.g. with an Origin header) and document the API in the
OpenAPI schema. `VerifyOut` is the response model of /verify: every body is validated against it
before it is sent, so the schema cannot drift from what is answered.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict

from rxapp import hotpath, routes
from rxapp.api.errors import ErrorOut, error_response
from rxapp.hotpath.answers import Answer, authorize_answer, verify_answer

router = APIRouter()


class BiasProfileOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int
    name: str
    description: str
    categories: list[str]
    sensitivity: float
    action: str


class VerifyOut(BaseModel):
    """Every 200 body of /verify; a field the answer gains must be added here first (extra=forbid)."""

    model_config = ConfigDict(extra="forbid")

    valid: bool
    code: str | None = None
    key_id: str | None = None
    status: str | None = None
    expires_at: str | None = None
    bias_profile: BiasProfileOut | None = None
    retry_after: int | None = None  # with code RATE_LIMITED: the key's own per-minute limit
    # Whose key it is (valid answers only): the workspace's stable public id (`ws_` + 16 base32
    # characters, never a row number) and its name, for attribution and billing. Nothing else
    # about the workspace or its members is sent.
    workspace_id: str | None = None
    workspace_name: str | None = None


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


@router.post(
    routes.API_VERIFY,
    response_model=VerifyOut,
    response_model_exclude_none=True,  # what the schema documents; the body is `reply.body` itself
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
    reply = await hotpath.answer(request.scope, verify_answer, "verify")
    if reply.status == 200:
        VerifyOut.model_validate_json(reply.body)  # the schema is the answer: a drift fails loudly
    return _as_response(reply)


def _as_response(reply: Answer) -> Response:
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in reply.headers}
    return Response(reply.body, reply.status, headers=headers, media_type="application/json")


_OTHER_METHODS = ["HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@router.get(
    routes.API_AUTHORIZE,
    summary="Forward auth for gateways (nginx auth_request, Traefik, Caddy, Envoy)",
    openapi_extra=_CREDENTIAL_HEADERS,
    responses={
        200: {
            "description": "Valid key. Identity headers for the gateway to forward: `X-Key-Id`, "
            "`X-Workspace-Id` (the owning workspace's public id), "
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


@router.api_route(routes.API_AUTHORIZE, methods=_OTHER_METHODS, include_in_schema=False)
@router.api_route(
    f"{routes.API_AUTHORIZE}/{{rest:path}}", methods=["GET", *_OTHER_METHODS], include_in_schema=False
)
async def authorize_any_method(request: Request) -> Response:
    return _as_response(await hotpath.answer(request.scope, authorize_answer, "authorize"))


@router.api_route(routes.API_VERIFY, methods=["GET", "PUT", "PATCH", "DELETE"], include_in_schema=False)
def verify_wrong_method() -> JSONResponse:
    return error_response(405, "METHOD_NOT_ALLOWED", "Use POST to verify a key.", {"Allow": "POST"})
