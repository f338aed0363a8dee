"""Webhook endpoints of a workspace (owners only): register, change, roll the signing secret,
delete; and each endpoint's delivery log with Redeliver.

The signing secret (`whsec_...`) is shown once, when it is made (create, roll); it is stored
sealed with the pepper, since every delivery must sign with it.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlmodel import Session, col, select

from rxapp.context import get_settings
from rxapp.models import (
    WebhookAttempt,
    WebhookDeliveryPublic,
    WebhookEndpoint,
    WebhookEndpointPublic,
    WebhookMessage,
    utc_now,
)
from rxapp.services import audit, sealing
from rxapp.services.access import Access, Need, require
from rxapp.services.errors import ConflictError, NotFoundError, ValidationError
from rxapp.services.webhooks import signing, targets
from rxapp.services.webhooks.outbox import EVENTS

SEAL_PURPOSE = "webhook"
DESCRIPTION_MAX_LENGTH = 500
ENDPOINTS_MAX = 20  # per workspace
DELIVERIES_SHOWN = 50
STALE_MESSAGE = "This endpoint was changed somewhere else. Reload and try again."


@dataclass(frozen=True)
class CreatedEndpoint:
    """The only object that holds a signing secret in the clear; callers show it once and drop it."""

    endpoint: WebhookEndpointPublic
    secret: str = field(repr=False)


def _new_endpoint_id() -> str:
    return "whep_" + base64.b32encode(secrets.token_bytes(10)).decode().lower()


def clean_events(events: list[str] | tuple[str, ...] | str) -> list[str]:
    if isinstance(events, str):
        events = [part for part in events.replace(",", " ").split() if part]
    unknown = sorted(set(events) - set(EVENTS))
    if unknown:
        raise ValidationError(
            f"Unknown event {unknown[0][:40]!r}: choose from {', '.join(EVENTS)}.",
            field="events",
            code="BAD_EVENT",
        )
    if not events:
        raise ValidationError("Choose at least one event.", field="events", code="BAD_EVENT")
    return sorted(set(events), key=EVENTS.index)


def _clean_description(text: str | None) -> str:
    text = " ".join((text or "").split())
    if len(text) > DESCRIPTION_MAX_LENGTH:
        raise ValidationError(
            f"Keep the description under {DESCRIPTION_MAX_LENGTH} characters.", field="description"
        )
    return text


def public(endpoint: WebhookEndpoint) -> WebhookEndpointPublic:
    return WebhookEndpointPublic(
        endpoint_id=endpoint.endpoint_id,
        url=endpoint.url,
        description=endpoint.description,
        events=endpoint.events.split(),
        created_by=endpoint.created_by,
        created_at=endpoint.created_at,
        updated_at=endpoint.updated_at,
        enabled=endpoint.disabled_at is None,
        disabled_at=endpoint.disabled_at,
        disabled_reason=endpoint.disabled_reason,
        failing_since=endpoint.failing_since,
        version=endpoint.version,
    )


def _owned(session: Session, workspace_id: int, endpoint_id: str) -> WebhookEndpoint:
    endpoint = session.exec(
        select(WebhookEndpoint).where(
            WebhookEndpoint.endpoint_id == endpoint_id, WebhookEndpoint.workspace_id == workspace_id
        )
    ).first()
    if endpoint is None:
        raise NotFoundError("Webhook endpoint not found.", target_type="webhook", target_id=endpoint_id[:100])
    return endpoint


def _audit(
    session: Session, access: Access, actor: str, action: str, endpoint_id: str, detail: str, client: str
):
    audit.record_for(
        session,
        access,
        action=action,
        actor=actor,
        target_type="webhook",
        target_id=endpoint_id,
        detail=detail[:1000],
        client_address=client,
    )


def create_endpoint(
    session: Session,
    access: Access,
    actor: str,
    url: str,
    events: list[str] | str,
    description: str = "",
    *,
    client_address: str = "",
) -> CreatedEndpoint:
    workspace_id = require(access, Need.MANAGE).workspace_id
    url = targets.clean_url(url, get_settings().webhook_allow_private)
    chosen = clean_events(events)
    count = session.execute(
        sa.select(sa.func.count()).where(col(WebhookEndpoint.workspace_id) == workspace_id)
    ).scalar_one()
    if count >= ENDPOINTS_MAX:
        raise ConflictError(f"A workspace has at most {ENDPOINTS_MAX} webhook endpoints.", code="TOO_MANY")
    secret = signing.new_secret()
    now = utc_now()
    endpoint = WebhookEndpoint(
        endpoint_id=_new_endpoint_id(),
        workspace_id=workspace_id,
        url=url,
        description=_clean_description(description),
        events=" ".join(chosen),
        secret_sealed=sealing.seal(secret, SEAL_PURPOSE),
        created_by=access.email,
        created_at=now,
        updated_at=now,
    )
    session.add(endpoint)
    _audit(
        session,
        access,
        actor,
        "webhook.create",
        endpoint.endpoint_id,
        f"events={','.join(chosen)}",
        client_address,
    )
    session.flush()
    return CreatedEndpoint(endpoint=public(endpoint), secret=secret)


def list_endpoints(session: Session, access: Access) -> list[WebhookEndpointPublic]:
    workspace_id = require(access, Need.MANAGE).workspace_id
    rows = session.exec(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.workspace_id == workspace_id)
        .order_by(col(WebhookEndpoint.created_at), col(WebhookEndpoint.id))
    ).all()
    return [public(row) for row in rows]


def get_endpoint(session: Session, access: Access, endpoint_id: str) -> WebhookEndpointPublic:
    return public(_owned(session, require(access, Need.MANAGE).workspace_id, endpoint_id))


def update_endpoint(
    session: Session,
    access: Access,
    actor: str,
    endpoint_id: str,
    *,
    url: str | None = None,
    events: list[str] | str | None = None,
    description: str | None = None,
    enabled: bool | None = None,
    expected_version: int | None = None,
    client_address: str = "",
) -> WebhookEndpointPublic:
    """Change what is given. Enabling a disabled endpoint clears its failure streak; the
    deliveries that waited while it was off are sent."""
    endpoint = _owned(session, require(access, Need.MANAGE).workspace_id, endpoint_id)
    if expected_version is not None and expected_version != endpoint.version:
        raise ConflictError(STALE_MESSAGE, code="STALE")
    notes = []
    if url is not None:
        endpoint.url = targets.clean_url(url, get_settings().webhook_allow_private)
        notes.append("url changed")
    if events is not None:
        endpoint.events = " ".join(clean_events(events))
        notes.append(f"events={endpoint.events.replace(' ', ',')}")
    if description is not None:
        endpoint.description = _clean_description(description)
    if enabled is not None and enabled != (endpoint.disabled_at is None):
        endpoint.disabled_at = None if enabled else utc_now()
        endpoint.disabled_reason = "" if enabled else f"Disabled by {access.email}."
        endpoint.failing_since = None
        notes.append("enabled" if enabled else "disabled")
    endpoint.updated_at = utc_now()
    endpoint.version += 1
    session.add(endpoint)
    _audit(
        session,
        access,
        actor,
        "webhook.update",
        endpoint_id,
        " ".join(notes) or "description",
        client_address,
    )
    session.flush()
    return public(endpoint)


def roll_secret(
    session: Session, access: Access, actor: str, endpoint_id: str, *, client_address: str = ""
) -> CreatedEndpoint:
    """A new signing secret, used from the next delivery on; the old one stops at once."""
    endpoint = _owned(session, require(access, Need.MANAGE).workspace_id, endpoint_id)
    secret = signing.new_secret()
    endpoint.secret_sealed = sealing.seal(secret, SEAL_PURPOSE)
    endpoint.updated_at = utc_now()
    endpoint.version += 1
    session.add(endpoint)
    _audit(
        session, access, actor, "webhook.roll_secret", endpoint_id, "signing secret rolled", client_address
    )
    session.flush()
    return CreatedEndpoint(endpoint=public(endpoint), secret=secret)


def delete_endpoint(
    session: Session, access: Access, actor: str, endpoint_id: str, *, client_address: str = ""
) -> None:
    """The endpoint, its queued messages and its delivery log go."""
    endpoint = _owned(session, require(access, Need.MANAGE).workspace_id, endpoint_id)
    messages = core_ids(session, endpoint.id or 0)
    if messages:
        session.execute(sa.delete(WebhookAttempt).where(col(WebhookAttempt.message_row_id).in_(messages)))
    session.execute(sa.delete(WebhookMessage).where(col(WebhookMessage.endpoint_row_id) == endpoint.id))
    session.delete(endpoint)
    _audit(
        session,
        access,
        actor,
        "webhook.delete",
        endpoint_id,
        f"url host={_host(endpoint.url)}",
        client_address,
    )
    session.flush()


def core_ids(session: Session, endpoint_row_id: int) -> list[int]:
    return list(
        session.execute(
            sa.select(col(WebhookMessage.id)).where(col(WebhookMessage.endpoint_row_id) == endpoint_row_id)
        ).scalars()
    )


def _host(url: str) -> str:
    return urlsplit(url).hostname or ""


def list_deliveries(
    session: Session, access: Access, endpoint_id: str, limit: int = DELIVERIES_SHOWN
) -> list[WebhookDeliveryPublic]:
    """The newest deliveries first, each with its latest attempt (status, latency, response excerpt)."""
    endpoint = _owned(session, require(access, Need.MANAGE).workspace_id, endpoint_id)
    messages = session.exec(
        select(WebhookMessage)
        .where(WebhookMessage.endpoint_row_id == endpoint.id)
        .order_by(col(WebhookMessage.created_at).desc(), col(WebhookMessage.id).desc())
        .limit(max(1, min(limit, 200)))
    ).all()
    latest: dict[int, WebhookAttempt] = {}
    if messages:
        newest = (
            sa.select(col(WebhookAttempt.message_row_id), sa.func.max(WebhookAttempt.id).label("last"))
            .where(col(WebhookAttempt.message_row_id).in_([m.id for m in messages]))
            .group_by(col(WebhookAttempt.message_row_id))
            .subquery()
        )
        for attempt in session.exec(
            select(WebhookAttempt).join(newest, col(WebhookAttempt.id) == newest.c.last)
        ):
            latest[attempt.message_row_id] = attempt
    return [_delivery(m, latest.get(m.id or 0)) for m in messages]


def _delivery(message: WebhookMessage, attempt: WebhookAttempt | None) -> WebhookDeliveryPublic:
    return WebhookDeliveryPublic(
        delivery_id=message.message_id,
        event_type=message.event_type,
        status=message.status,
        attempts=message.attempts,
        created_at=message.created_at,
        next_attempt_at=message.next_attempt_at if message.status == "pending" else None,
        last_attempt_at=message.last_attempt_at,
        status_code=attempt.status_code if attempt else None,
        latency_ms=attempt.latency_ms if attempt else None,
        response_excerpt=attempt.response_excerpt if attempt else "",
        error=attempt.error if attempt else "",
    )


def redeliver(
    session: Session,
    access: Access,
    actor: str,
    endpoint_id: str,
    delivery_id: str,
    *,
    client_address: str = "",
    now: dt.datetime | None = None,
) -> WebhookDeliveryPublic:
    """Send a delivery again, now, with the same `webhook-id` (receivers dedupe on it) and a fresh
    retry schedule. A disabled endpoint is enabled first, by its owner, on purpose."""
    endpoint = _owned(session, require(access, Need.MANAGE).workspace_id, endpoint_id)
    if endpoint.disabled_at is not None:
        raise ConflictError("This endpoint is disabled: enable it first.", code="ENDPOINT_DISABLED")
    message = session.exec(
        select(WebhookMessage).where(
            WebhookMessage.message_id == delivery_id, WebhookMessage.endpoint_row_id == endpoint.id
        )
    ).first()
    if message is None:
        raise NotFoundError("Delivery not found.", target_type="delivery", target_id=delivery_id[:100])
    now = now or utc_now()
    message.status, message.attempts, message.next_attempt_at, message.claimed_until = "pending", 0, now, None
    session.add(message)
    _audit(
        session, access, actor, "webhook.redeliver", endpoint_id, f"delivery={delivery_id}", client_address
    )
    session.flush()
    return _delivery(message, None)


def signing_secret(endpoint: WebhookEndpoint) -> str:
    """For the delivery job only: the secret to sign with."""
    return sealing.unseal(endpoint.secret_sealed, SEAL_PURPOSE)
