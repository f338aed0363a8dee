"""The webhook tables and their public shapes (re-exported by rxapp.models, the one place callers
import models from; they live here only to keep each module short).

- `WebhookEndpoint`: where a workspace wants events sent, which events, and its signing secret
  (sealed with the pepper: the console must read it back to sign, so it cannot be a digest);
- `WebhookMessage`: the durable outbox, one row per (event, endpoint), written in the same
  transaction as the change it tells of; the delivery job claims due rows with a lease;
- `WebhookAttempt`: the delivery log, one row per HTTP attempt.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlmodel import Field, SQLModel

from rxapp.clock import utc_now


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoints"

    id: int | None = Field(default=None, primary_key=True)
    endpoint_id: str = Field(max_length=32, unique=True, index=True)  # public: `whep_...`
    workspace_id: int = Field(foreign_key="workspaces.id", index=True, ondelete="CASCADE")
    url: str = Field(max_length=2000)
    description: str = Field(default="", max_length=500)
    events: str = Field(max_length=500)  # space-separated, from services/webhooks.EVENTS
    secret_sealed: str = Field(max_length=200)
    created_by: str = Field(default="", max_length=254)
    created_at: dt.datetime = Field(default_factory=utc_now)
    updated_at: dt.datetime = Field(default_factory=utc_now)
    # The first failed attempt since the last success; None while deliveries succeed.
    failing_since: dt.datetime | None = Field(default=None)
    disabled_at: dt.datetime | None = Field(default=None)
    disabled_reason: str = Field(default="", max_length=300)
    version: int = Field(default=1)


class WebhookMessage(SQLModel, table=True):
    __tablename__ = "webhook_messages"
    __table_args__ = (
        # one reminder per endpoint (key.expiring, key.credits_low), however many workers scan
        sa.UniqueConstraint("endpoint_row_id", "dedupe_key", name="uq_webhook_messages_endpoint_dedupe"),
        sa.Index("ix_webhook_messages_due", "status", "next_attempt_at"),
        sa.Index("ix_webhook_messages_endpoint_time", "endpoint_row_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(max_length=40, unique=True, index=True)  # the `webhook-id` header: `msg_...`
    endpoint_row_id: int = Field(foreign_key="webhook_endpoints.id", ondelete="CASCADE")
    workspace_id: int = Field(foreign_key="workspaces.id", index=True, ondelete="CASCADE")
    event_type: str = Field(max_length=40)
    payload: str = Field(sa_column=sa.Column(sa.Text, nullable=False))  # the exact JSON body sent
    dedupe_key: str | None = Field(default=None, max_length=200)
    status: str = Field(default="pending", max_length=16)  # pending | delivered | failed
    attempts: int = Field(default=0)
    created_at: dt.datetime = Field(default_factory=utc_now)
    next_attempt_at: dt.datetime = Field(default_factory=utc_now)
    # A worker's lease: the row is its own until then (a worker that dies mid-send loses it).
    claimed_until: dt.datetime | None = Field(default=None)
    last_attempt_at: dt.datetime | None = Field(default=None)


class WebhookAttempt(SQLModel, table=True):
    __tablename__ = "webhook_attempts"
    __table_args__ = (sa.Index("ix_webhook_attempts_message_time", "message_row_id", "attempted_at"),)

    id: int | None = Field(default=None, primary_key=True)
    message_row_id: int = Field(foreign_key="webhook_messages.id", ondelete="CASCADE")
    attempted_at: dt.datetime = Field(default_factory=utc_now)
    status_code: int | None = Field(default=None)
    ok: bool = Field(default=False)
    latency_ms: int = Field(default=0)
    response_excerpt: str = Field(default="", max_length=500)
    error: str = Field(default="", max_length=300)


class WebhookEndpointPublic(BaseModel):
    model_config = ConfigDict(frozen=True)

    endpoint_id: str
    url: str
    description: str
    events: list[str]
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime
    enabled: bool
    disabled_at: dt.datetime | None = None
    disabled_reason: str = ""
    failing_since: dt.datetime | None = None
    version: int = 1


class WebhookDeliveryPublic(BaseModel):
    """One message to one endpoint, with its latest attempt."""

    model_config = ConfigDict(frozen=True)

    delivery_id: str  # the message id, also the `webhook-id` header
    event_type: str
    status: str
    attempts: int
    created_at: dt.datetime
    next_attempt_at: dt.datetime | None
    last_attempt_at: dt.datetime | None
    status_code: int | None = None
    latency_ms: int | None = None
    response_excerpt: str = ""
    error: str = ""
