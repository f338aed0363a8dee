"""hourly usage per key; rolling links, first use and per-key rate limits

Revision ID: d4b2f6a1c3e8
Revises: c3a1e5f0d2b7
Create Date: 2026-11-27 12:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


# revision identifiers, used by Alembic.
revision: str = 'd4b2f6a1c3e8'
down_revision: Union[str, Sequence[str], None] = 'c3a1e5f0d2b7'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'key_usage_hours',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key_row_id', sa.Integer(), nullable=False),
        sa.Column('hour', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('valid', sa.Integer(), nullable=False),
        sa.Column('inactive', sa.Integer(), nullable=False),
        sa.Column('expired', sa.Integer(), nullable=False),
        sa.Column('rate_limited', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['key_row_id'], ['api_keys.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('key_row_id', 'hour', name='uq_key_usage_hours_key_hour'),
    )
    with op.batch_alter_table('key_usage_hours', schema=None) as batch_op:
        batch_op.create_index('ix_key_usage_hours_hour', ['hour'], unique=False)
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rolled_from_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('first_used_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('rate_limit_per_minute', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_api_keys_rolled_from_id'), ['rolled_from_id'], unique=False)
        batch_op.create_foreign_key(
            'fk_api_keys_rolled_from_id', 'api_keys', ['rolled_from_id'], ['id'], ondelete='SET NULL'
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_constraint('fk_api_keys_rolled_from_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_api_keys_rolled_from_id'))
        batch_op.drop_column('rate_limit_per_minute')
        batch_op.drop_column('first_used_at')
        batch_op.drop_column('rolled_from_id')
    with op.batch_alter_table('key_usage_hours', schema=None) as batch_op:
        batch_op.drop_index('ix_key_usage_hours_hour')
    op.drop_table('key_usage_hours')
