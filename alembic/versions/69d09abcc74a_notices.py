"""notices: key moments (expiring, expired, leaked) recorded once, each person's notices (in the
console, and the email outbox), and the per-person email opt-out

Expand-only: two new tables and one column with a server default (everyone starts opted in).

Revision ID: 69d09abcc74a
Revises: c6d1a7e3f9b4
Create Date: 2026-12-06 10:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "69d09abcc74a"
down_revision: str | Sequence[str] | None = "c6d1a7e3f9b4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Text = sqlmodel.sql.sqltypes.AutoString
Moment = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("email_notices_opt_out", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        "key_moments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("key_row_id", sa.Integer(), nullable=True),
        sa.Column("key_id", Text(length=24), nullable=False),
        sa.Column("key_name", Text(length=100), nullable=False),
        sa.Column("kind", Text(length=16), nullable=False),
        sa.Column("days_before", sa.Integer(), nullable=False),
        sa.Column("key_expires_at", Moment(), nullable=True),
        sa.Column("leak_report_id", sa.Integer(), nullable=False),
        sa.Column("leak_url", Text(length=1000), nullable=False),
        sa.Column("leak_action", Text(length=8), nullable=False),
        sa.Column("created_at", Moment(), nullable=False),
        sa.ForeignKeyConstraint(["key_row_id"], ["api_keys.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "key_row_id",
            "kind",
            "days_before",
            "key_expires_at",
            "leak_report_id",
            name="uq_key_moments_moment",
        ),
    )
    op.create_index("ix_key_moments_created", "key_moments", ["created_at"], unique=False)
    op.create_index(op.f("ix_key_moments_workspace_id"), "key_moments", ["workspace_id"], unique=False)
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("moment_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("created_at", Moment(), nullable=False),
        sa.Column("dismissed_at", Moment(), nullable=True),
        sa.Column("email_status", Text(length=10), nullable=False),
        sa.Column("email_attempts", sa.Integer(), nullable=False),
        sa.Column("email_next_at", Moment(), nullable=False),
        sa.Column("email_claimed_until", Moment(), nullable=True),
        sa.Column("email_sent_at", Moment(), nullable=True),
        sa.Column("email_error", Text(length=300), nullable=False),
        sa.ForeignKeyConstraint(["moment_id"], ["key_moments.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("moment_id", "user_id", name="uq_notices_moment_user"),
    )
    op.create_index("ix_notices_user_time", "notices", ["user_id", "created_at"], unique=False)
    op.create_index("ix_notices_email_due", "notices", ["email_status", "email_next_at"], unique=False)
    op.create_index(op.f("ix_notices_workspace_id"), "notices", ["workspace_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_notices_workspace_id"), table_name="notices")
    op.drop_index("ix_notices_email_due", table_name="notices")
    op.drop_index("ix_notices_user_time", table_name="notices")
    op.drop_table("notices")
    op.drop_index(op.f("ix_key_moments_workspace_id"), table_name="key_moments")
    op.drop_index("ix_key_moments_created", table_name="key_moments")
    op.drop_table("key_moments")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("email_notices_opt_out")
