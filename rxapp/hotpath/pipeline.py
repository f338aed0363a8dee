"""The verify pipeline: one request in, one `Decision` out. The fast path and its FastAPI twin both
get here through `answer` (rxapp/hotpath/__init__.py); the tests call `check_key`, its key stage.

1. the request rules (`decide_request`, request_rules.py): key in the URL, per-client rate limit,
   credential headers; a refusal ends the request here;
2. the key (`check_key`): format and checksum (`digest_for`, no database work), one indexed lookup
   by digest (`lookup_for`, services/key_lookup.py), the row rules at call time (`decide_row`,
   services/keys/verification.py: status, end date, profile);
3. what a known key's call costs: its own rate limit when it has one, its usage count, Last Used.
   A key with programmable features (or a call that asks for permissions or named limits) takes
   program.py's stage instead: one `is not None` test is all the others pay.

Verify and authorize only differ in how they render the Decision (answers.py).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from rxapp.context import app_context
from rxapp.db import get_engine
from rxapp.hotpath.program import DEFAULT_REQUEST, VerifyRequest, parse_body, programmed
from rxapp.hotpath.request_rules import Decision, decide_request
from rxapp.models import utc_now
from rxapp.services.key_lookup import Lookup, lookup_for, must_await
from rxapp.services.keys import MALFORMED, NOT_FOUND, Verification, decide_row, digest_for
from rxapp.services.last_used import buffer as last_used_buffer
from rxapp.services.usage import buffer as usage_buffer

_UNKNOWN = {
    "MALFORMED": Decision(200, "MALFORMED", verification=MALFORMED),
    "NOT_FOUND": Decision(200, "NOT_FOUND", verification=NOT_FOUND),
}


async def decide(scope: Any, body: bytes = b"") -> Decision:
    """Every verify rule, in order, for one HTTP request scope and its body (verify's optional
    JSON; authorize passes none)."""
    secret = decide_request(scope)
    if isinstance(secret, Decision):
        return secret
    request: VerifyRequest | None = None
    if body:
        parsed = parse_body(body)
        if isinstance(parsed, Decision):
            return parsed
        request = parsed
    now = utc_now()
    lookup = lookup_for(get_engine())
    outcome = await check_key(lookup, secret, now)
    if outcome.key_row_id is None:  # MALFORMED or NOT_FOUND: no key to count against
        return _UNKNOWN[outcome.code]
    if not outcome.valid:  # INACTIVE or EXPIRED: a known key, counted in its usage
        usage_buffer.count(outcome.key_row_id, outcome.code, now)
        return Decision(200, outcome.code, verification=outcome)
    if outcome.program is not None or (request is not None and request.needs_program):
        return await programmed(lookup, scope, outcome, request or DEFAULT_REQUEST, now)
    if outcome.rate_limit is not None:  # only keys with a limit pay for the check
        wait = await app_context.key_limiter.retry_after(outcome.key_row_id, outcome.rate_limit)
        if wait:
            usage_buffer.count(outcome.key_row_id, "RATE_LIMITED", now)
            limited = Verification(
                valid=False, code="RATE_LIMITED", key_row_id=outcome.key_row_id, key_id=outcome.key_id
            )
            return Decision(200, "RATE_LIMITED", "This key's rate limit is reached.", wait, limited)
    last_used_buffer.record(outcome.key_row_id, now)
    usage_buffer.count(outcome.key_row_id, "", now)
    return Decision(200, "", verification=outcome)


async def check_key(lookup: Lookup, secret: str, now: dt.datetime | None = None) -> Verification:
    """Is this secret a good key at `now`? Format and checksum, one lookup, the row rules.

    No side effects: nothing is counted or recorded (that is `decide`'s third step). A synchronous
    lookup (SQLite) is called on the event loop, as it costs less than a hop to a thread.
    """
    digest = digest_for(secret)
    if digest is None:
        return MALFORMED
    found = lookup(digest)
    row = await found if must_await(lookup, found) else found
    return decide_row(row, now)
