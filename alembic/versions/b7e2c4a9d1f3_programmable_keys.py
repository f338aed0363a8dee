"""programmable keys: credits and refill, named limits, permissions, meta, IP allowlist, identities

Expand-only: new nullable columns and new tables. Old code keeps working beside it (a key whose
`program` is NULL is verified exactly as before).

Revision ID: b7e2c4a9d1f3
Revises: b7d2e4f6a8c1
Create Date: 2026-12-06 02:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "b7e2c4a9d1f3"
down_revision: str | Sequence[str] | None = "b7d2e4f6a8c1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=True),
        sa.Column("ratelimits", sa.JSON(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace_id", "external_id", name="uq_identities_ws_external"),
    )
    op.create_index(op.f("ix_identities_workspace_id"), "identities", ["workspace_id"], unique=False)
    op.create_table(
        "permissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace_id", "name", name="uq_permissions_ws_name"),
    )
    op.create_index(op.f("ix_permissions_workspace_id"), "permissions", ["workspace_id"], unique=False)
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("program", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("credits_remaining", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("refill_amount", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("refill_interval", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True)
        )
        batch.add_column(sa.Column("refill_day", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("last_refill_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("identity_id", sa.Integer(), nullable=True))
        batch.create_index(batch.f("ix_api_keys_identity_id"), ["identity_id"], unique=False)
        batch.create_index("ix_api_keys_refill", ["refill_interval", "refill_day", "last_refill_at"], unique=False)
        batch.create_foreign_key(
            "fk_api_keys_identity_id_identities", "identities", ["identity_id"], ["id"], ondelete="RESTRICT"
        )
    with op.batch_alter_table("key_usage_hours") as batch:
        for name in ("usage_exceeded", "insufficient_permissions", "forbidden"):
            batch.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("key_usage_hours") as batch:
        for name in ("usage_exceeded", "insufficient_permissions", "forbidden"):
            batch.drop_column(name)
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_constraint("fk_api_keys_identity_id_identities", type_="foreignkey")
        batch.drop_index("ix_api_keys_refill")
        batch.drop_index(batch.f("ix_api_keys_identity_id"))
        for name in (
            "identity_id",
            "last_refill_at",
            "refill_day",
            "refill_interval",
            "refill_amount",
            "credits_remaining",
            "program",
        ):
            batch.drop_column(name)
    op.drop_index(op.f("ix_permissions_workspace_id"), table_name="permissions")
    op.drop_table("permissions")
    op.drop_index(op.f("ix_identities_workspace_id"), table_name="identities")
    op.drop_table("identities")
