"""workspaces, memberships, invitations; keys, profiles and audit events belong to a workspace

Every existing user gets a personal workspace (they are its owner) and every key, profile and
audit event of theirs moves into it. The earliest account becomes the instance admin.

Revision ID: e7c9a2b4d6f1
Revises: d4b2f6a1c3e8
Create Date: 2026-11-27 14:00:00

"""

import base64
import secrets
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


# revision identifiers, used by Alembic.
revision: str = "e7c9a2b4d6f1"
down_revision: Union[str, Sequence[str], None] = "d4b2f6a1c3e8"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# Expand and contract in one step (tests/unit/test_expand_contract.py): workspace_id is backfilled,
# then made NOT NULL, and profile names become unique per workspace. Release 1.1.0 inserts keys
# and profiles without a workspace, so it cannot run beside this schema: the upgrade from 1.1.0
# stops every instance first (docs/operations.md, "Upgrading"). Later migrations only expand.
CONTRACT_STEP = (
    "1.1.0 writes keys and profiles without workspace_id; upgrading from it is not rolling"
)


def _public_id() -> str:
    # Same shape as rxapp.services.workspaces.new_public_id (a migration must not import the app).
    return "ws_" + base64.b32encode(secrets.token_bytes(10)).decode().lower()


def upgrade() -> None:
    """Upgrade schema, then move each user's rows into their personal workspace."""
    op.create_table(
        "workspaces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("personal", sa.Boolean(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_workspaces_public_id"), "workspaces", ["public_id"], unique=True)
    op.create_table(
        "memberships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace_id", "user_id", name="uq_memberships_workspace_user"),
    )
    op.create_index(op.f("ix_memberships_user_id"), "memberships", ["user_id"], unique=False)
    op.create_index(op.f("ix_memberships_workspace_id"), "memberships", ["workspace_id"], unique=False)
    op.create_table(
        "invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("token_digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("used_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("used_by_id", sa.Integer(), nullable=True),
        sa.Column("revoked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["used_by_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_invitations_token_digest"), "invitations", ["token_digest"], unique=True)
    op.create_index(op.f("ix_invitations_workspace_id"), "invitations", ["workspace_id"], unique=False)

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("is_admin", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("disabled", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("last_sign_in_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    for table in ("api_keys", "bias_profiles", "audit_events"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("workspace_id", sa.Integer(), nullable=True))

    # Data: one personal workspace per user, owned by them; their rows move in.
    connection = op.get_bind()
    user_ids = connection.execute(sa.text("SELECT id FROM users ORDER BY id")).scalars().all()
    for user_id in user_ids:
        public_id = _public_id()
        # created_at is copied in SQL, so each dialect keeps its own datetime representation.
        connection.execute(
            sa.text(
                "INSERT INTO workspaces (public_id, name, personal, created_at)"
                " SELECT :public_id, :name, :personal, created_at FROM users WHERE id = :user"
            ),
            {"public_id": public_id, "name": "Personal", "personal": True, "user": user_id},
        )
        workspace_id = connection.execute(
            sa.text("SELECT id FROM workspaces WHERE public_id = :public_id"), {"public_id": public_id}
        ).scalar_one()
        connection.execute(
            sa.text(
                "INSERT INTO memberships (workspace_id, user_id, role, created_at)"
                " SELECT :ws, id, 'owner', created_at FROM users WHERE id = :user"
            ),
            {"ws": workspace_id, "user": user_id},
        )
        for table in ("api_keys", "bias_profiles", "audit_events"):
            connection.execute(
                sa.text(f"UPDATE {table} SET workspace_id = :ws WHERE owner_id = :user"),
                {"ws": workspace_id, "user": user_id},
            )
    if user_ids:
        connection.execute(
            sa.text("UPDATE users SET is_admin = :yes WHERE id = :user"), {"yes": True, "user": user_ids[0]}
        )

    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.alter_column("workspace_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(
            "fk_api_keys_workspace_id", "workspaces", ["workspace_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.drop_index("ix_api_keys_owner_status_expires")
        batch_op.drop_index("ix_api_keys_owner_created")
        batch_op.drop_index("ix_api_keys_owner_name_key")
        batch_op.drop_index("ix_api_keys_owner_last_used")
        batch_op.create_index("ix_api_keys_ws_status_expires", ["workspace_id", "status", "expires_at"])
        batch_op.create_index("ix_api_keys_ws_created", ["workspace_id", "created_at"])
        batch_op.create_index("ix_api_keys_ws_name_key", ["workspace_id", "name", "key_id"])
        batch_op.create_index("ix_api_keys_ws_last_used", ["workspace_id", "last_used_at"])
    with op.batch_alter_table("bias_profiles", schema=None) as batch_op:
        batch_op.alter_column("workspace_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(
            "fk_bias_profiles_workspace_id", "workspaces", ["workspace_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.drop_constraint("uq_bias_profiles_owner_name", type_="unique")
        batch_op.create_unique_constraint("uq_bias_profiles_workspace_name", ["workspace_id", "name"])
        batch_op.create_index(batch_op.f("ix_bias_profiles_workspace_id"), ["workspace_id"], unique=False)
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_audit_events_ws_time", ["workspace_id", "created_at"])
        batch_op.create_index("ix_audit_events_ws_target", ["workspace_id", "target_id"])


def downgrade() -> None:
    """Downgrade schema (shared workspaces collapse: rows keep their creator as owner)."""
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_ws_target")
        batch_op.drop_index("ix_audit_events_ws_time")
        batch_op.drop_column("workspace_id")
    with op.batch_alter_table("bias_profiles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bias_profiles_workspace_id"))
        batch_op.drop_constraint("uq_bias_profiles_workspace_name", type_="unique")
        batch_op.create_unique_constraint("uq_bias_profiles_owner_name", ["owner_id", "name"])
        batch_op.drop_constraint("fk_bias_profiles_workspace_id", type_="foreignkey")
        batch_op.drop_column("workspace_id")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_api_keys_ws_last_used")
        batch_op.drop_index("ix_api_keys_ws_name_key")
        batch_op.drop_index("ix_api_keys_ws_created")
        batch_op.drop_index("ix_api_keys_ws_status_expires")
        batch_op.create_index("ix_api_keys_owner_status_expires", ["owner_id", "status", "expires_at"])
        batch_op.create_index("ix_api_keys_owner_created", ["owner_id", "created_at"])
        batch_op.create_index("ix_api_keys_owner_name_key", ["owner_id", "name", "key_id"])
        batch_op.create_index("ix_api_keys_owner_last_used", ["owner_id", "last_used_at"])
        batch_op.drop_constraint("fk_api_keys_workspace_id", type_="foreignkey")
        batch_op.drop_column("workspace_id")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("last_sign_in_at")
        batch_op.drop_column("disabled")
        batch_op.drop_column("is_admin")
    op.drop_index(op.f("ix_invitations_workspace_id"), table_name="invitations")
    op.drop_index(op.f("ix_invitations_token_digest"), table_name="invitations")
    op.drop_table("invitations")
    op.drop_index(op.f("ix_memberships_workspace_id"), table_name="memberships")
    op.drop_index(op.f("ix_memberships_user_id"), table_name="memberships")
    op.drop_table("memberships")
    op.drop_index(op.f("ix_workspaces_public_id"), table_name="workspaces")
    op.drop_table("workspaces")
