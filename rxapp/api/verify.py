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


class IdentityOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    external_id: str
    meta: dict[str, Any] | None = None


class RateLimitOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    limit: int
    remaining: int
    reset: int  # when the window ends, in Unix milliseconds


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
    # Programmable keys only (absent for a key without those features): the credits left after
    # this call (keys with credits), the key's meta and permissions, its identity, and each named
    # limit this call was counted against.
    credits: int | None = None
    meta: dict[str, Any] | None = None
    permissions: list[str] | None = None
    identity: IdentityOut | None = None
    ratelimits: list[RateLimitOut] | None = None


_VERIFY_BODY: dict[str, Any] = {
    "required": False,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "cost": {
                        "type": "integer",
                        "minimum": 0,
                        "maximum": 2_000_000_000,
                        "default": 1,
                        "description": "Credits this call spends (0: check without spending).",
                    },
                    "permissions": {
                        "type": ["string", "null"],
                        "maxLength": 1000,
                        "description": "A permission query: names with AND, OR and parentheses, "
                        "e.g. `documents.read AND (documents.write OR admin)`.",
                    },
                    "ratelimits": {
                        "type": ["array", "null"],
                        "description": "The named limits to apply (default: all of the key's and its "
                        "identity's, cost 1 each).",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["name"],
                            "properties": {
                                "name": {"type": "string"},
                                "cost": {
                                    "type": "integer",
                                    "minimum": 0,
                                    "maximum": 2_000_000_000,
                                    "default": 1,
                                },
                            },
                        },
                    },
                },
            },
            "example": {"cost": 1, "permissions": "documents.read", "ratelimits": [{"name": "requests"}]},
        }
    },
}

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
    openapi_extra={**_CREDENTIAL_HEADERS, "requestBody": _VERIFY_BODY},
    description=(
        "Send the key in `Authorization: Bearer <key>` or `X-API-Key`, and optionally a JSON body "
        "(cost, permissions query, ratelimits; unknown fields are a 400). Answers 200 with "
        "`valid: true` and the key's Bias Profile (plus credits, meta, permissions, identity and "
        "ratelimits for a programmable key), or `valid: false` with a code: NOT_FOUND, INACTIVE, "
        "EXPIRED, MALFORMED, USAGE_EXCEEDED (no credits left for this cost; `credits` is the "
        "balance), INSUFFICIENT_PERMISSIONS, FORBIDDEN (the caller's IP is not on the key's "
        "allowlist), or RATE_LIMITED with `retry_after` (seconds) when one of the key's limits is "
        "reached. 400: a malformed body or permission query (INVALID_REQUEST, "
        "INVALID_PERMISSION_QUERY) or a limit the key does not have (UNKNOWN_RATELIMIT). A 429 "
        "(with `Retry-After`) is the endpoint's per-client limit instead."
    ),
)
async def verify(request: Request) -> Response:
    # The documented twin of the fast path (rxapp/hotpath), which answers this path before FastAPI's
    # routing. Both call the same `answer`. Headers are read from the scope, not declared as
    # parameters; they are documented through `openapi_extra` above.
    body = await request.body()
    reply = await hotpath.answer(request.scope, verify_answer, "verify", body[: hotpath.BODY_MAX_BYTES + 1])
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
            "action}`, at most 512 bytes); both empty when the key has no profile. Programmable "
            "keys: `X-Key-Credits` (credits left after this call), `X-Key-Identity` (the "
            "identity's external id, percent-encoded UTF-8) and `X-Key-Meta` (unpadded base64url "
            "of the key's meta JSON); always sent, empty when not applicable. The call spends 1 "
            "credit and counts against all of the key's and its identity's limits."
        },
        400: {"description": "KEY_IN_URL or HEADER_TOO_LARGE"},
        401: {"description": "MISSING_KEY, MALFORMED or NOT_FOUND, with `WWW-Authenticate: Bearer`"},
        403: {"description": "INACTIVE, EXPIRED, USAGE_EXCEEDED, INSUFFICIENT_PERMISSIONS or FORBIDDEN"},
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
