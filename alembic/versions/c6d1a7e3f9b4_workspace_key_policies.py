"""workspace key policies: each workspace's optional rules for its keys (maximum and default
lifetime, a required Bias Profile, disabling unused keys) and the unused-key notices

Expand-only: two new tables; no existing row changes (a workspace without a row has no policy).

Revision ID: c6d1a7e3f9b4
Revises: b958de0b5470
Create Date: 2026-12-07 09:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "c6d1a7e3f9b4"
down_revision: str | Sequence[str] | None = "b958de0b5470"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "workspace_key_policies",
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("max_lifetime_days", sa.Integer(), nullable=True),
        sa.Column("default_lifetime_days", sa.Integer(), nullable=True),
        sa.Column("require_bias_profile", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("disable_unused_after_days", sa.Integer(), nullable=True),
        sa.Column("max_lifetime_since", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("disable_unused_since", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workspace_id"),
    )
    op.create_table(
        "key_idle_notices",
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("idle_since", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("disable_on", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("warned_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("after_days", sa.Integer(), nullable=True),
        sa.Column("disabled_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("clock_from", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_keys.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("api_key_id"),
    )
    op.create_index(
        op.f("ix_key_idle_notices_workspace_id"), "key_idle_notices", ["workspace_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_key_idle_notices_workspace_id"), table_name="key_idle_notices")
    op.drop_table("key_idle_notices")
    op.drop_table("workspace_key_policies")
