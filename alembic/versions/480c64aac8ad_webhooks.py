"""webhooks: endpoints, the durable outbox (messages) and the delivery log (attempts)

Expand-only: three new tables. Old code keeps working beside it.

Revision ID: 480c64aac8ad
Revises: 7c7b0284ee8d
Create Date: 2026-12-06 06:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "480c64aac8ad"
down_revision: str | Sequence[str] | None = "7c7b0284ee8d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_str = sqlmodel.sql.sqltypes.AutoString
_time = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", _str(length=32), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("url", _str(length=2000), nullable=False),
        sa.Column("description", _str(length=500), nullable=False),
        sa.Column("events", _str(length=500), nullable=False),
        sa.Column("secret_sealed", _str(length=200), nullable=False),
        sa.Column("created_by", _str(length=254), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("updated_at", _time(), nullable=False),
        sa.Column("failing_since", _time(), nullable=True),
        sa.Column("disabled_at", _time(), nullable=True),
        sa.Column("disabled_reason", _str(length=300), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_webhook_endpoints_endpoint_id"), "webhook_endpoints", ["endpoint_id"], unique=True
    )
    op.create_index(
        op.f("ix_webhook_endpoints_workspace_id"), "webhook_endpoints", ["workspace_id"], unique=False
    )
    op.create_table(
        "webhook_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", _str(length=40), nullable=False),
        sa.Column("endpoint_row_id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("event_type", _str(length=40), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("dedupe_key", _str(length=200), nullable=True),
        sa.Column("status", _str(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("next_attempt_at", _time(), nullable=False),
        sa.Column("claimed_until", _time(), nullable=True),
        sa.Column("last_attempt_at", _time(), nullable=True),
        sa.ForeignKeyConstraint(["endpoint_row_id"], ["webhook_endpoints.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("endpoint_row_id", "dedupe_key", name="uq_webhook_messages_endpoint_dedupe"),
    )
    op.create_index(op.f("ix_webhook_messages_message_id"), "webhook_messages", ["message_id"], unique=True)
    op.create_index(
        op.f("ix_webhook_messages_workspace_id"), "webhook_messages", ["workspace_id"], unique=False
    )
    op.create_index(
        "ix_webhook_messages_due", "webhook_messages", ["status", "next_attempt_at"], unique=False
    )
    op.create_index(
        "ix_webhook_messages_endpoint_time",
        "webhook_messages",
        ["endpoint_row_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_row_id", sa.Integer(), nullable=False),
        sa.Column("attempted_at", _time(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("response_excerpt", _str(length=500), nullable=False),
        sa.Column("error", _str(length=300), nullable=False),
        sa.ForeignKeyConstraint(["message_row_id"], ["webhook_messages.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_webhook_attempts_message_time",
        "webhook_attempts",
        ["message_row_id", "attempted_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_messages")
    op.drop_table("webhook_endpoints")
