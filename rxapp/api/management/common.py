"""What every management route shares: the token dependency, the problem responses the schema
lists, JSON answers with an ETag, keyset cursors, and creates under Idempotency-Key.

Idempotency-Key (POST): the first request stores (token, key, body hash) -> the created resource
in the same transaction; a retry with the same body gets that resource (200, `Idempotent-Replayed:
true`, `"secret": null, "secret_shown": true`: secrets are never stored), a different body gets
422 IDEMPOTENCY_KEY_REUSED, and concurrent retries race on a unique constraint so one resource
is made (rxapp/services/idempotency.py).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from rxapp import routes
from rxapp.api.problems import (
    DB_INT_MAX,
    PROBLEM_JSON,
    Problem,
    ProblemOut,
    bearer,
    etag,
    from_service_error,
    service_call,
)
from rxapp.services import idempotency, keyset
from rxapp.services.tokens import TokenAccess

Token = Annotated[TokenAccess, Depends(bearer)]
IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", description="Retry-safe create: same key, same answer.")
]
Cursor = Annotated[str | None, Query(max_length=200)]
PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"model": ProblemOut, "content": {PROBLEM_JSON: {}}, "description": text}
    for status, text in (
        (401, "Missing, unknown, revoked or expired token"),
        (403, "The token lacks the scope, or its creator's role does"),
        (404, "Not found (or in another workspace)"),
        (409, "Conflicts with current data"),
        (412, "If-Match names an older version"),
        (422, "Invalid request body or parameters"),
        (429, "Too many requests for this token"),
    )
}


def make_router() -> APIRouter:
    """One router per module, all under the API prefix and the schema's `management` tag."""
    return APIRouter(prefix=routes.API_PREFIX, tags=["management"])


def one_of(choices: Iterable[str]) -> Any:
    """A `Literal` of a service's choices, built from them, so the API offers what the service
    accepts (validation, error text and schema are a written-out Literal's). mypy sees `str`:
    annotate with `Choice = str if TYPE_CHECKING else one_of(...)`."""
    return Literal[tuple(choices)]


def responses(ok: int, model: Any, links: dict[str, Any] | None = None, *codes: int) -> dict[int | str, Any]:
    """The `responses` of a route: its success, then the problems every route can answer and `codes`."""
    answer: dict[int | str, Any] = {ok: {"model": model} if model else {"description": "Done"}}
    if links:
        answer[ok]["links"] = links
    answer.update({code: PROBLEMS[code] for code in (401, 403, 404, 422, 429, *codes)})
    return answer


def json_answer(
    model: BaseModel, status: int = 200, version: int | None = None, **headers: str
) -> JSONResponse:
    """The model as JSON; with `version`, the ETag that If-Match sends back."""
    if version is not None:
        headers["ETag"] = etag(version)
    return JSONResponse(model.model_dump(mode="json"), status_code=status, headers=headers)


def encode_cursor(position: Sequence[Any], fingerprint: str) -> str:
    """An opaque cursor: where the next page starts (a keyset position), bound to the query it came from."""
    return base64.urlsafe_b64encode(json.dumps([position, fingerprint]).encode()).decode().rstrip("=")


def next_cursor(position: Sequence[Any] | None, fingerprint: str) -> str | None:
    return encode_cursor(position, fingerprint) if position else None


def decode_position(cursor: str | None, fingerprint: str) -> tuple[str | None, int] | None:
    """A keyset cursor: the last row's (sort value, row id), or None without a cursor. Only what
    `encode_cursor` writes is accepted: `[[value, row_id], fingerprint]` with this query's
    fingerprint, a text or null value and a row id in the database's range. Anything else is the
    BAD_CURSOR 422; the service checks the value's form (keyset.parse_time, parse_text)."""
    if not cursor:
        return None
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError, RecursionError):
        raise from_service_error(keyset.bad_cursor()) from None
    match decoded:
        case [[str() | None as value, int() as row_id], str() as made_for] if (
            made_for == fingerprint and type(row_id) is int and 0 < row_id <= DB_INT_MAX
        ):
            return value, row_id
    raise from_service_error(keyset.bad_cursor())


def created(
    request: Request,
    token: TokenAccess,
    idempotency_key: str | None,
    body: BaseModel,
    make: Callable[[Any], tuple[str, JSONResponse]],
    replay: Callable[[Any, str], JSONResponse],
) -> JSONResponse:
    """Run a create under the Idempotency-Key rules (see the module docstring)."""
    if not idempotency_key:
        with service_call() as session:
            return make(session)[1]
    digest = idempotency.request_hash(request.method, request.url.path, body.model_dump(mode="json"))
    try:
        with service_call() as session:
            earlier = idempotency.find(session, token.token_row_id, idempotency_key, digest)
            if earlier is None:
                record = idempotency.claim(session, token.token_row_id, idempotency_key, digest)
                resource_id, answer = make(session)
                idempotency.complete(session, record, request.url.path, resource_id)
                return answer
    except idempotency.IdempotencyRace:
        pass
    with service_call() as session:
        earlier = idempotency.find(session, token.token_row_id, idempotency_key, digest)
        if earlier is None:  # the winner failed and rolled back: nothing was made
            raise Problem(409, "IDEMPOTENCY_RETRY", "A request with this key failed; retry it.")
        answer = replay(session, earlier.resource_id)
    answer.headers["Idempotent-Replayed"] = "true"
    return answer
