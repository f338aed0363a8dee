"""management tokens and idempotency records (management API)

Revision ID: f3b5d7e9a1c2
Revises: e7c9a2b4d6f1
Create Date: 2026-11-27 14:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "f3b5d7e9a1c2"
down_revision: str | Sequence[str] | None = "e7c9a2b4d6f1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "management_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_id", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("creator_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("scopes", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("masked", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("last_used_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("revoked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["creator_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_management_tokens_creator_id"), "management_tokens", ["creator_id"], unique=False
    )
    op.create_index(op.f("ix_management_tokens_digest"), "management_tokens", ["digest"], unique=True)
    op.create_index(op.f("ix_management_tokens_token_id"), "management_tokens", ["token_id"], unique=True)
    op.create_index(
        op.f("ix_management_tokens_workspace_id"), "management_tokens", ["workspace_id"], unique=False
    )
    op.create_table(
        "idempotency_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_row_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("request_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("resource_type", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("resource_id", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["token_row_id"], ["management_tokens.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_row_id", "idempotency_key", name="uq_idempotency_token_key"),
    )
    op.create_index(
        op.f("ix_idempotency_records_created_at"), "idempotency_records", ["created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_idempotency_records_created_at"), table_name="idempotency_records")
    op.drop_table("idempotency_records")
    op.drop_index(op.f("ix_management_tokens_workspace_id"), table_name="management_tokens")
    op.drop_index(op.f("ix_management_tokens_token_id"), table_name="management_tokens")
    op.drop_index(op.f("ix_management_tokens_digest"), table_name="management_tokens")
    op.drop_index(op.f("ix_management_tokens_creator_id"), table_name="management_tokens")
    op.drop_table("management_tokens")
