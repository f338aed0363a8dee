"""keys: index on (workspace_id, masked), so the last four shown in the table find a key by a seek

Revision ID: a9c4e1f7b2d3
Revises: f3b5d7e9a1c2
Create Date: 2026-12-06 00:05:00

"""

from collections.abc import Sequence

from alembic import op

revision: str = "a9c4e1f7b2d3"
down_revision: str | Sequence[str] | None = "f3b5d7e9a1c2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index("ix_api_keys_ws_masked", ["workspace_id", "masked"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_api_keys_ws_masked")
