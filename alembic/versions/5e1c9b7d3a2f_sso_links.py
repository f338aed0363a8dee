"""sso_links: each account's person at the single sign-on provider (its `iss` and `sub`)

Expand-only: one new table, which the previous release never reads.

Revision ID: 5e1c9b7d3a2f
Revises: 69d09abcc74a
Create Date: 2026-12-07 00:10:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "5e1c9b7d3a2f"
down_revision: str | Sequence[str] | None = "69d09abcc74a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Text = sqlmodel.sql.sqltypes.AutoString
Moment = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "sso_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("issuer", Text(length=500), nullable=False),
        sa.Column("subject", Text(length=255), nullable=False),
        sa.Column("created_at", Moment(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("issuer", "subject", name="uq_sso_links_subject"),
        sa.UniqueConstraint("user_id", "issuer", name="uq_sso_links_account"),
    )


def downgrade() -> None:
    op.drop_table("sso_links")
