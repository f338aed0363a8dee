"""Background jobs run by every backend worker: key expiry (with credit refills, the prunes, the
reminders and the key policies' unused-key rule), the Last Used flush, webhook delivery and email
delivery.

All are safe with several workers: expiry is one conditional UPDATE per chunk, the flush never moves
Last Used backwards, reminders are recorded once by a unique key, and a webhook message or an email
is claimed with a lease by one conditional UPDATE.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from rxapp import metrics
from rxapp.context import get_settings
from rxapp.db import get_engine, redoable_session_scope, session_scope
from rxapp.models import utc_now
from rxapp.services import idempotency, usage
from rxapp.services import keys as key_service
from rxapp.services import users as user_service
from rxapp.services.keys import idle, refill
from rxapp.services.last_used import buffer as last_used_buffer
from rxapp.services.notices import emails as notice_emails
from rxapp.services.notices import inbox as notice_inbox
from rxapp.services.notices import moments as key_moments
from rxapp.services.notices import smtp
from rxapp.services.webhooks import delivery as webhook_delivery
from rxapp.services.webhooks import outbox as webhook_outbox

log = logging.getLogger("rxapp.jobs")


def expire_due_in_chunks(
    engine: sa.Engine | None = None, now: dt.datetime | None = None, chunk: int = key_service.EXPIRY_CHUNK
) -> int:
    """Due keys in chunks, each committed on its own (a run cut short is finished by the next).

    Chunks stop when one claims nothing: another worker may be claiming the same rows at the
    same moment, and then it finishes them. `scripts/bench` times exactly this.
    """
    now = now or utc_now()
    expired = 0
    while True:
        with redoable_session_scope(engine) as session:
            claimed = key_service.expire_due_keys(session, now=now, limit=chunk)
        expired += claimed
        if claimed == 0:
            return expired


def expire_keys_once() -> int:
    started = time.perf_counter()
    expired = 0
    try:
        expired = expire_due_in_chunks()
        with session_scope() as session:
            refill.refill_due_keys(session)
        with session_scope() as session:
            user_service.purge_expired(session)
            usage.prune(session, dt.timedelta(days=get_settings().usage_retention_days))
            idempotency.prune(session, dt.timedelta(hours=get_settings().idempotency_retention_hours))
            notice_inbox.prune(session)
        with session_scope() as session:
            key_moments.scan_expiring(session)  # reminders: webhooks, notices, emails
            webhook_outbox.scan_reminders(session, get_settings().webhook_credits_low)
        disable_unused_once()
    except Exception:
        metrics.record_expiry_run(time.perf_counter() - started, expired, ok=False)
        raise
    metrics.record_expiry_run(time.perf_counter() - started, expired)
    if expired:
        log.info("expiry job: %d key(s) marked EXPIRED", expired)
    return expired


def disable_unused_once(now: dt.datetime | None = None) -> tuple[int, int]:
    """The key policies' unused rule (services/keys/idle.py): warn the keys due a warning, then
    disable the keys whose warning date passed. Each its own transaction; safe on every worker."""
    with session_scope() as session:
        warned = len(idle.warn_unused_keys(session, now))
    with session_scope() as session:
        disabled = idle.disable_unused_keys(session, now)
    if warned or disabled:
        log.info("unused keys: %d warned, %d disabled (workspace key policy)", warned, disabled)
    return warned, disabled


async def expiry_loop() -> None:
    interval = max(get_settings().expiry_interval_seconds, 0.2)
    while True:
        try:
            await asyncio.to_thread(expire_keys_once)
        except Exception:
            log.exception("expiry job failed; retrying at the next interval")
        await asyncio.sleep(interval)


async def last_used_flush_loop() -> None:
    """Flushes at least every interval, and once more when the worker shuts down."""
    interval = max(min(get_settings().last_used_flush_seconds, 1.0), 0.05)
    engine = get_engine()
    try:
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(flush_last_used, engine)
            except Exception:
                log.exception("Last Used flush failed; the batch is kept for the next attempt")
    finally:
        try:
            flush_last_used(engine)
        except Exception:
            log.exception("final Last Used flush failed")


def flush_last_used(engine) -> int:
    """One flush, measured: duration and rows when it wrote something, a failure count when not."""
    started = time.perf_counter()
    try:
        rows = last_used_buffer.flush(engine)
        rows += usage.buffer.flush(engine)  # hourly usage counts, merged by upsert
    except Exception:
        metrics.record_last_used_flush_failure()
        raise
    if rows:
        metrics.record_last_used_flush(time.perf_counter() - started, rows)
    return rows


def deliver_webhooks_once(engine: sa.Engine | None = None) -> int:
    """Claim a batch of due webhook messages, send them side by side (outside any transaction),
    record each outcome. Returns how many were claimed."""
    settings = get_settings()
    lease = dt.timedelta(seconds=settings.webhook_timeout_seconds * 2 + 30)
    with session_scope(engine) as session:
        batch = webhook_delivery.claim_due(session, utc_now(), lease)
    if not batch:
        return 0

    def send(outgoing: webhook_delivery.Outgoing) -> webhook_delivery.Outcome:
        return webhook_delivery.send(
            outgoing, timeout=settings.webhook_timeout_seconds, allow_private=settings.webhook_allow_private
        )

    with ThreadPoolExecutor(max_workers=min(8, len(batch))) as pool:
        outcomes = list(pool.map(send, batch))
    disable_after = dt.timedelta(hours=settings.webhook_disable_after_hours)
    for outgoing, outcome in zip(batch, outcomes, strict=True):
        with session_scope(engine) as session:
            webhook_delivery.record(
                session,
                outgoing,
                outcome,
                schedule=settings.webhook_retry_seconds,
                disable_after=disable_after,
            )
        if not outcome.ok:  # ids and status only: never the URL (it may hold a token) or a secret
            log.info(
                "webhook %s (endpoint row %d) not delivered: status %s %s",
                outgoing.message_id,
                outgoing.endpoint_row_id,
                outcome.status_code,
                outcome.error[:120],
            )
    return len(batch)


async def _outbox_loop(what: str, deliver: Callable[[], int], batch: int, interval: float) -> None:
    """Drains an outbox every interval; a full batch means more are waiting, so it reads again at once."""
    while True:
        claimed = 0
        try:
            claimed = await asyncio.to_thread(deliver)
        except Exception:
            log.exception("%s delivery failed; retrying at the next interval", what)
        if claimed < batch:
            await asyncio.sleep(interval)


async def webhook_loop() -> None:
    interval = max(get_settings().webhook_interval_seconds, 0.1)
    await _outbox_loop("webhook", deliver_webhooks_once, webhook_delivery.BATCH, interval)


EMAIL_INTERVAL_SECONDS = 1.0  # how often each worker reads the email outbox


def deliver_emails_once(engine: sa.Engine | None = None, now: dt.datetime | None = None) -> int:
    """Claim a batch of due emails, send them over one SMTP connection (outside any transaction),
    record each outcome. Returns how many were claimed (0 without APIKEYS_SMTP_URL). `now` (tests)
    is the job's clock for the claim and the record alike."""
    settings = get_settings()
    if not settings.smtp_url:
        return 0
    fixed = now

    def clock() -> dt.datetime:
        return fixed or utc_now()

    now = clock()
    lease = dt.timedelta(seconds=settings.smtp_timeout_seconds * (notice_emails.BATCH + 2) + 30)
    with session_scope(engine) as session:
        batch = notice_emails.claim_due(
            session, now, lease, sender=settings.smtp_from, public_url=settings.public_url
        )
    if not batch:
        return 0
    outcomes = smtp.send_all(
        smtp.parse_url(settings.smtp_url),
        [email.message for email in batch],
        timeout=settings.smtp_timeout_seconds,
    )
    with session_scope(engine) as session:
        for email, outcome in zip(batch, outcomes, strict=True):
            status = notice_emails.record(
                session, email, outcome, now=clock(), schedule=settings.smtp_retry_seconds
            )
            if not outcome.ok:  # the notice's row id and the error: never the URL or its password
                log.warning(
                    "email notice %d not sent (attempt %d, now %s): %s",
                    email.notice_row_id,
                    email.attempts + 1,
                    status,
                    outcome.error[:200],
                )
    return len(batch)


async def email_loop() -> None:
    """Reads the email outbox every second; without APIKEYS_SMTP_URL there is nothing to do (the
    notices are shown in the console only)."""
    if not get_settings().smtp_url:
        return
    await _outbox_loop("email", deliver_emails_once, notice_emails.BATCH, EMAIL_INTERVAL_SECONDS)
