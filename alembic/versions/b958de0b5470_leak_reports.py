"""leak reports: secret-scanning reports that matched a key or token, and each workspace's policy

Expand-only: one new table and one column with a server default (every workspace starts on
`disable`, the issue's default).

Revision ID: b958de0b5470
Revises: 8559ad635c4f
Create Date: 2026-12-06 06:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "b958de0b5470"
down_revision: str | Sequence[str] | None = "8559ad635c4f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("workspaces") as batch:
        batch.add_column(
            sa.Column(
                "leak_policy",
                sqlmodel.sql.sqltypes.AutoString(length=8),
                server_default="disable",
                nullable=False,
            )
        )
    op.create_table(
        "leak_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("target_type", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("target_id", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("url", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_leak_reports_workspace_id"), "leak_reports", ["workspace_id"], unique=False)
    op.create_index(op.f("ix_leak_reports_target_id"), "leak_reports", ["target_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_leak_reports_target_id"), table_name="leak_reports")
    op.drop_index(op.f("ix_leak_reports_workspace_id"), table_name="leak_reports")
    op.drop_table("leak_reports")
    with op.batch_alter_table("workspaces") as batch:
        batch.drop_column("leak_policy")
