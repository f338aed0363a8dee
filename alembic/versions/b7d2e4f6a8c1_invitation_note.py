"""invitations: an optional note saying whom the invitation is for (an email or a few words)

Expand-only: a new column with a server default, so the previous release keeps working beside it.

Revision ID: b7d2e4f6a8c1
Revises: a9c4e1f7b2d3
Create Date: 2026-12-06 01:50:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "b7d2e4f6a8c1"
down_revision: str | Sequence[str] | None = "a9c4e1f7b2d3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=120), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_column("note")
