"""The verify stage of programmable keys (services/programs.py): only keys that have a `program`,
or calls that ask for permissions or named limits, come here; every other key takes today's path
in pipeline.py untouched.

The request body (`parse_body`, optional JSON: cost, permissions query, ratelimits) is checked
before the key is looked at: a malformed one is a 400 whatever the key. Then, in this order:

1. IP allowlist: the caller as seen through the trusted proxy hops (client_address.py) → FORBIDDEN;
2. permissions: the query against the key's permissions, its own and its roles' (the roles'
   come with the key row, in `program.role_permissions`, rewritten by services/roles.py on every
   role change: no extra query, no cache to go stale) → INSUFFICIENT_PERMISSIONS;
3. the key's own per-minute limit (today's), then its named limits and its identity's shared ones,
   all taken together or none → RATE_LIMITED with retry_after;
4. credits: one conditional UPDATE (key_lookup `spend`), committed before the answer is sent →
   USAGE_EXCEEDED when the balance is short (nothing is spent then).

A refused call spends no credit; a limit's units taken in step 3 stay taken when step 4 refuses.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import orjson

from rxapp.client_address import scope_client_address
from rxapp.context import app_context
from rxapp.hotpath.request_rules import Decision
from rxapp.services import permission_query, programs
from rxapp.services.errors import ValidationError
from rxapp.services.key_lookup import must_await
from rxapp.services.keys import Verification
from rxapp.services.last_used import buffer as last_used_buffer
from rxapp.services.usage import buffer as usage_buffer

BODY_MAX_BYTES = 8192
_FIELDS = frozenset({"cost", "permissions", "ratelimits"})
_LIMIT_FIELDS = frozenset({"name", "cost"})
_EMPTY = programs.Program(False, frozenset(), (), None, (), (), None)


@dataclass(frozen=True, slots=True)
class VerifyRequest:
    """What a verify body asks for (every field optional)."""

    cost: int = 1
    query: permission_query.Query | None = None
    ratelimits: tuple[tuple[str, int], ...] | None = None  # None: every limit of the key, cost 1

    @property
    def needs_program(self) -> bool:
        """A call asking for permissions or named limits is judged here even for a plain key."""
        return self.query is not None or bool(self.ratelimits)


DEFAULT_REQUEST = VerifyRequest()


def _invalid(message: str) -> Decision:
    return Decision(400, "INVALID_REQUEST", message)


def parse_body(body: bytes) -> VerifyRequest | Decision:
    """The optional JSON body of verify, or the 400 Decision that refuses it."""
    if not body.strip():
        return DEFAULT_REQUEST
    if len(body) > BODY_MAX_BYTES:
        return _invalid(f"The body is larger than {BODY_MAX_BYTES} bytes.")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _invalid("The body is not valid JSON.")
    if not isinstance(data, dict):
        return _invalid("The body is a JSON object: {cost, permissions, ratelimits}, all optional.")
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        return _invalid(f"Unknown field {unknown[0]!r}: the body may carry cost, permissions and ratelimits.")
    cost = data.get("cost", 1)
    if not _is_count(cost):
        return _invalid("cost is a whole number from 0.")
    query = None
    if data.get("permissions") is not None:
        if not isinstance(data["permissions"], str):
            return Decision(400, permission_query.CODE, "permissions is a query string.")
        try:
            query = permission_query.parse(data["permissions"])
        except ValidationError as error:
            return Decision(400, error.code, error.message)
    limits = None
    if data.get("ratelimits") is not None:
        items = data["ratelimits"]
        if not isinstance(items, list) or len(items) > programs.RATELIMITS_MAX * 2:
            return _invalid("ratelimits is a list of {name, cost}.")
        parsed = []
        for item in items:
            if (
                not isinstance(item, dict)
                or set(item) - _LIMIT_FIELDS
                or not isinstance(item.get("name"), str)
            ):
                return _invalid("Each of ratelimits is {name, cost} (cost optional, default 1).")
            limit_cost = item.get("cost", 1)
            if not _is_count(limit_cost):
                return _invalid("A rate limit's cost is a whole number from 0.")
            parsed.append((item["name"], limit_cost))
        limits = tuple(parsed)
    return VerifyRequest(cost, query, limits)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= programs.CREDITS_MAX


async def _call(lookup: Any, method: str, *args: Any) -> Any:
    """A lookup method's value; awaited when it is awaitable (PostgreSQL's, SQLite's grouped spend)."""
    result = getattr(lookup, method)(*args)
    return await result if must_await(lookup, result) else result


def _refused(outcome: Verification, code: str, now: dt.datetime, **extra: Any) -> Decision:
    assert outcome.key_row_id is not None
    usage_buffer.count(outcome.key_row_id, code, now)
    refused = Verification(valid=False, code=code, key_row_id=outcome.key_row_id, key_id=outcome.key_id)
    return Decision(200, code, "", int(extra.get("retry_after", 0)), refused, extra)


async def programmed(
    lookup: Any, scope: Any, outcome: Verification, request: VerifyRequest, now: dt.datetime
) -> Decision:
    """Steps 1-4 of the module docstring for a valid key; the Decision carries the answer's extras."""
    program = outcome.program or _EMPTY
    row_id = outcome.key_row_id
    assert row_id is not None
    if program.networks and not programs.ip_allowed(scope_client_address(scope), program.networks):
        return _refused(outcome, "FORBIDDEN", now)
    if request.query is not None and not permission_query.satisfied(request.query, program.permissions):
        return _refused(outcome, "INSUFFICIENT_PERMISSIONS", now)
    identity = None
    identity_limits: tuple[programs.Limit, ...] = ()
    if program.identity_id is not None:
        row = await _call(lookup, "identity", program.identity_id)
        if row is not None:
            external_id, meta, stored_limits = row
            identity = {
                "external_id": external_id,
                "meta": orjson.loads(meta) if isinstance(meta, str) else meta,
            }
            identity_limits = programs.limits_from(stored_limits)
    if outcome.rate_limit is not None:  # today's per-key limit, unchanged
        wait = await app_context.key_limiter.retry_after(row_id, outcome.rate_limit)
        if wait:
            return _refused(outcome, "RATE_LIMITED", now, retry_after=wait)
    checks, applied, unknown = _limit_checks(row_id, program, identity_limits, program.identity_id, request)
    if unknown:
        return Decision(400, "UNKNOWN_RATELIMIT", f"The key has no rate limit named {unknown!r}.")
    ratelimits: list[dict[str, Any]] = []
    if checks:
        ok, taken, wait = await app_context.named_limiter.take(checks)
        if not ok:
            return _refused(outcome, "RATE_LIMITED", now, retry_after=wait)
        ratelimits = [
            {"name": limit.name, "limit": limit.limit, "remaining": remaining, "reset": reset}
            for (limit, _), (remaining, reset) in zip(applied, taken, strict=True)
        ]
    extra: dict[str, Any] = {}
    if program.credits:
        if request.cost > 0:
            remaining = await _call(lookup, "spend", row_id, request.cost)
            if remaining is None:
                balance = await _call(lookup, "credits", row_id)
                return _refused(outcome, "USAGE_EXCEEDED", now, credits=balance or 0)
        else:
            remaining = await _call(lookup, "credits", row_id) or 0
            if remaining <= 0:
                return _refused(outcome, "USAGE_EXCEEDED", now, credits=0)
        extra["credits"] = remaining
    extra["meta"] = program.meta
    extra["permissions"] = list(program.permission_list)
    extra["identity"] = identity
    extra["ratelimits"] = ratelimits
    last_used_buffer.record(row_id, now)
    usage_buffer.count(row_id, "", now)
    return Decision(200, "", verification=outcome, extra=extra)


def _limit_checks(
    row_id: int,
    program: programs.Program,
    identity_limits: tuple[programs.Limit, ...],
    identity_id: int | None,
    request: VerifyRequest,
) -> tuple[list[Any], list[tuple[programs.Limit, int]], str]:
    """The limiter checks for this call, (bucket, limit, duration, cost), and what they apply; the
    third item names a limit the call asked for that neither the key nor its identity has."""
    mine = [(programs.key_bucket(row_id, limit.name), limit) for limit in program.ratelimits]
    shared = [
        (programs.identity_bucket(identity_id, limit.name), limit)
        for limit in identity_limits
        if identity_id is not None
    ]
    available = mine + shared
    if request.ratelimits is None:
        chosen = [(bucket, limit, 1) for bucket, limit in available]
    else:
        chosen = []
        for name, cost in request.ratelimits:
            found = [(bucket, limit, cost) for bucket, limit in available if limit.name == name]
            if not found:
                return [], [], name
            chosen += found
    checks = [(bucket, limit.limit, limit.duration, cost) for bucket, limit, cost in chosen]
    return checks, [(limit, cost) for _, limit, cost in chosen], ""
