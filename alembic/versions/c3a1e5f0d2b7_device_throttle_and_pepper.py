"""device-aware sign-in throttling, counted audit events, installation facts

Revision ID: c3a1e5f0d2b7
Revises: bd9f5ce9b5bb
Create Date: 2026-11-27 11:10:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


# revision identifiers, used by Alembic.
revision: str = 'c3a1e5f0d2b7'
down_revision: Union[str, Sequence[str], None] = 'bd9f5ce9b5bb'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'app_meta',
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('value', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('device', sqlmodel.sql.sqltypes.AutoString(length=32), server_default='', nullable=False)
        )
        batch_op.create_index('ix_login_failures_device_time', ['device', 'created_at'], unique=False)
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('occurrences', sa.Integer(), server_default='1', nullable=False))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_column('occurrences')
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.drop_index('ix_login_failures_device_time')
        batch_op.drop_column('device')
    op.drop_table('app_meta')
