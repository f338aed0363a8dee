"""Delivering the outbox: claim due messages with a lease, send each signed, record the attempt.

Claiming is one conditional UPDATE (PostgreSQL: over rows picked with FOR UPDATE SKIP LOCKED;
SQLite: writes are serialised), so with every worker running the job a message is sent by one of
them in the normal case. A worker that dies mid-send loses its lease and another sends the message
again: at least once, never lost. A failed attempt waits per APIKEYS_WEBHOOK_RETRY_SECONDS, then
the message is given up; an endpoint failing for APIKEYS_WEBHOOK_DISABLE_AFTER_HOURS (3 days) is
disabled, with the reason on its page and in the activity log.

The HTTP request itself runs outside any transaction (`send`), between `claim_due` and `record`.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx
import sqlalchemy as sa
from sqlmodel import Session, col

from rxapp.models import WebhookAttempt, WebhookEndpoint, WebhookMessage, core_table, utc_now
from rxapp.services import audit
from rxapp.services.webhooks import signing, targets
from rxapp.services.webhooks.endpoints import signing_secret

USER_AGENT = "KeyConsole-Webhooks/1"
EXCERPT_LENGTH = 300
BATCH = 10


@dataclass(frozen=True)
class Outgoing:
    row_id: int
    message_id: str
    endpoint_row_id: int
    url: str
    body: bytes
    attempts: int
    secret: str = field(repr=False)
    lease_until: dt.datetime  # the claim this attempt holds (see `record`)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None
    latency_ms: int
    excerpt: str = ""
    error: str = ""


def backoff(schedule: Sequence[float], attempts: int) -> dt.timedelta | None:
    """The wait after the `attempts`-th failed attempt (1-based), or None: give up."""
    if attempts < 1 or attempts > len(schedule):
        return None
    return dt.timedelta(seconds=schedule[attempts - 1])


def claim_due(session: Session, now: dt.datetime, lease: dt.timedelta, limit: int = BATCH) -> list[Outgoing]:
    """Due messages of enabled endpoints, leased to this worker until `now + lease`."""
    messages = core_table(WebhookMessage)
    endpoints = core_table(WebhookEndpoint)
    due = (
        messages.c.status == "pending",
        messages.c.next_attempt_at <= now,
        sa.or_(messages.c.claimed_until.is_(None), messages.c.claimed_until < now),
    )
    enabled = sa.select(endpoints.c.id).where(endpoints.c.disabled_at.is_(None))
    pick = (
        sa.select(messages.c.id)
        .where(*due, messages.c.endpoint_row_id.in_(enabled))
        .order_by(messages.c.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True, of=messages)
    )
    claimed = (
        session.execute(
            sa.update(messages)
            .where(*due, messages.c.id.in_(pick.scalar_subquery()))
            .values(claimed_until=now + lease)
            .returning(messages.c.id)
        )
        .scalars()
        .all()
    )
    if not claimed:
        return []
    lease_until = now + lease
    rows = session.execute(
        sa.select(WebhookMessage, WebhookEndpoint)
        .join(WebhookEndpoint, col(WebhookEndpoint.id) == col(WebhookMessage.endpoint_row_id))
        .where(col(WebhookMessage.id).in_(claimed))
    ).all()
    return [
        Outgoing(
            row_id=message.id or 0,
            message_id=message.message_id,
            endpoint_row_id=endpoint.id or 0,
            url=endpoint.url,
            body=message.payload.encode(),
            attempts=message.attempts,
            secret=signing_secret(endpoint),
            lease_until=lease_until,
        )
        for message, endpoint in rows
    ]


def send(
    outgoing: Outgoing, *, timeout: float, allow_private: bool, client: httpx.Client | None = None
) -> Outcome:
    """One signed POST to the endpoint's URL, pinned to its checked address; no redirects followed."""
    started = time.perf_counter()
    try:
        target = targets.resolve(outgoing.url, allow_private)
    except targets.TargetRefused as refused:
        return Outcome(False, None, 0, error=str(refused)[:300])
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "accept-encoding": "identity",  # the excerpt is read raw, never decompressed
        "host": target.host,
        **signing.headers(outgoing.secret, outgoing.message_id, int(time.time()), outgoing.body),
    }
    owned = client is None
    client = client or httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False)
    try:
        request = client.build_request(
            "POST",
            target.url,
            content=outgoing.body,
            headers=headers,
            extensions={"sni_hostname": target.server_name},
        )
        response = client.send(request, stream=True)
        try:  # only the start of the answer is read: a receiver cannot make the job read megabytes
            head = b""
            for chunk in response.iter_raw():
                head += chunk
                if len(head) >= EXCERPT_LENGTH * 4:
                    break
        finally:
            response.close()
        text = head.decode(response.encoding or "utf-8", errors="replace")[:EXCERPT_LENGTH]
    except httpx.HTTPError as error:
        return Outcome(False, None, _ms(started), error=f"{type(error).__name__}: {error}"[:300])
    finally:
        if owned:
            client.close()
    ok = 200 <= response.status_code < 300
    return Outcome(ok, response.status_code, _ms(started), excerpt=_printable(text))


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _printable(text: str) -> str:
    return "".join(ch if ch.isprintable() or ch in "\n\t" else "?" for ch in text)


def record(
    session: Session,
    outgoing: Outgoing,
    outcome: Outcome,
    *,
    now: dt.datetime | None = None,
    schedule: Sequence[float],
    disable_after: dt.timedelta,
) -> None:
    """The attempt in the log; the message delivered, rescheduled or given up; the endpoint's
    failure streak updated (and the endpoint disabled when the streak is too long)."""
    now = now or utc_now()
    session.add(
        WebhookAttempt(
            message_row_id=outgoing.row_id,
            attempted_at=now,
            status_code=outcome.status_code,
            ok=outcome.ok,
            latency_ms=outcome.latency_ms,
            response_excerpt=outcome.excerpt[:500],
            error=outcome.error[:300],
        )
    )
    attempts = outgoing.attempts + 1
    values: dict[str, object] = {"attempts": attempts, "last_attempt_at": now, "claimed_until": None}
    if outcome.ok:
        values["status"] = "delivered"
    else:
        wait = backoff(schedule, attempts)
        if wait is None:
            values["status"] = "failed"
        else:
            values["next_attempt_at"] = now + wait
    # Only while this attempt's claim still stands: a Redeliver during the attempt released it
    # (claimed_until None, attempts 0) and must not be overwritten by the attempt's outcome.
    session.execute(
        sa.update(WebhookMessage)
        .where(
            col(WebhookMessage.id) == outgoing.row_id,
            col(WebhookMessage.status) == "pending",
            col(WebhookMessage.claimed_until) == outgoing.lease_until,
        )
        .values(**values)
    )
    endpoint = session.get(WebhookEndpoint, outgoing.endpoint_row_id)
    if endpoint is None:
        return
    if outcome.ok:
        if endpoint.failing_since is not None:
            endpoint.failing_since = None
            session.add(endpoint)
        return
    endpoint.failing_since = endpoint.failing_since or now
    if endpoint.disabled_at is None and now - endpoint.failing_since >= disable_after:
        hours = disable_after.total_seconds() / 3600
        span = f"{hours / 24:g} days" if hours >= 24 else f"{hours:g} hours"
        endpoint.disabled_at = now
        endpoint.disabled_reason = (
            f"Disabled automatically: every delivery failed for {span}. Fix the receiver, then enable it."
        )
        audit.record(
            session,
            action="webhook.disable",
            actor=audit.SYSTEM_ACTOR,
            owner_id=None,
            workspace_id=endpoint.workspace_id,
            target_type="webhook",
            target_id=endpoint.endpoint_id,
            detail=f"deliveries failing since {endpoint.failing_since.isoformat()}",
            when=now,
        )
    session.add(endpoint)
