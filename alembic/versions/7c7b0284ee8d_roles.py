"""roles: named sets of a workspace's permissions (programmable keys)

Expand-only: one new table. Keys name their roles inside their existing `program` JSON.

Revision ID: 7c7b0284ee8d
Revises: c3f8a1d5e9b2
Create Date: 2026-12-06 05:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "7c7b0284ee8d"
down_revision: str | Sequence[str] | None = "c3f8a1d5e9b2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "roles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("permissions", sa.JSON(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace_id", "name", name="uq_roles_ws_name"),
    )
    op.create_index(op.f("ix_roles_workspace_id"), "roles", ["workspace_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_roles_workspace_id"), table_name="roles")
    op.drop_table("roles")
