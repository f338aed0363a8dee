"""The workspaces migration, run on a database the previous migration made, loses nothing."""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.config import Config

from alembic import command

ROOT = Path(__file__).resolve().parents[2]
PREVIOUS = "d4b2f6a1c3e8"


def _config(url: str) -> Config:
    # No ini file: alembic would otherwise reconfigure logging for the whole test process.
    config = Config()
    config.set_main_option("script_location", str(ROOT / "alembic"))
    config.set_main_option("sqlalchemy.url", url)
    return config


def _seed(connection: sa.Connection) -> None:
    now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC).isoformat(sep=" ")
    for user_id, email in ((1, "first@example.com"), (2, "second@example.com"), (3, "empty@example.com")):
        connection.execute(
            sa.text("INSERT INTO users (id, email, password_hash, created_at) VALUES (:i, :e, 'x', :t)"),
            {"i": user_id, "e": email, "t": now},
        )
    for profile_id, owner, name in ((1, 1, "strict"), (2, 2, "strict"), (3, 2, "lenient")):
        connection.execute(
            sa.text(
                "INSERT INTO bias_profiles (id, owner_id, name, description, categories, sensitivity,"
                " action, created_at, updated_at, version) VALUES (:i, :o, :n, '', '[]', 0.5, 'flag',"
                " :t, :t, 1)"
            ),
            {"i": profile_id, "o": owner, "n": name, "t": now},
        )
    for key_row, owner, profile in ((1, 1, 1), (2, 1, None), (3, 2, 3)):
        connection.execute(
            sa.text(
                "INSERT INTO api_keys (id, key_id, owner_id, name, digest, masked, status,"
                " bias_profile_id, created_at, updated_at, version) VALUES (:i, :k, :o, :n, :d, 'm',"
                " 'ACTIVE', :p, :t, :t, 1)"
            ),
            {
                "i": key_row,
                "k": f"key_{key_row}",
                "o": owner,
                "n": f"key {key_row}",
                "d": f"d{key_row}",
                "p": profile,
                "t": now,
            },
        )
    connection.execute(
        sa.text(
            "INSERT INTO key_usage_hours (key_row_id, hour, valid, inactive, expired, rate_limited)"
            " VALUES (3, :t, 5, 0, 0, 0)"
        ),
        {"t": now},
    )
    for owner in (1, 2, None):
        connection.execute(
            sa.text(
                "INSERT INTO audit_events (owner_id, actor, action, target_type, target_id, detail,"
                " client_address, created_at, occurrences) VALUES (:o, 'a', 'key.create', '', '', '',"
                " '', :t, 1)"
            ),
            {"o": owner, "t": now},
        )


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: SQLite always, PostgreSQL with TEST_BACKEND=postgres."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    if os.environ.get("TEST_BACKEND") != "postgres":
        pytest.skip("PostgreSQL variant runs with TEST_BACKEND=postgres")
    base = sa.engine.make_url(
        os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    )
    name = f"migration_{secrets.token_hex(4)}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def test_every_row_moves_into_its_owners_personal_workspace(database_url: str) -> None:
    url = database_url
    command.upgrade(_config(url), PREVIOUS)
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        _seed(connection)
    command.upgrade(_config(url), "head")
    with engine.connect() as connection:
        workspaces = connection.execute(
            sa.text(
                "SELECT m.user_id, w.id, w.public_id, w.personal, m.role FROM workspaces w"
                " JOIN memberships m ON m.workspace_id = w.id ORDER BY m.user_id"
            )
        ).all()
        assert [row[0] for row in workspaces] == [1, 2, 3]
        assert all(row[3] and row[4] == "owner" and row[2].startswith("ws_") for row in workspaces)
        assert len({row[2] for row in workspaces}) == 3
        personal = {row[0]: row[1] for row in workspaces}
        keys = connection.execute(
            sa.text("SELECT id, owner_id, workspace_id FROM api_keys ORDER BY id")
        ).all()
        assert [(k[0], k[2]) for k in keys] == [(1, personal[1]), (2, personal[1]), (3, personal[2])]
        profiles = connection.execute(
            sa.text("SELECT id, workspace_id, name FROM bias_profiles ORDER BY id")
        ).all()
        assert [(p[0], p[1]) for p in profiles] == [(1, personal[1]), (2, personal[2]), (3, personal[2])]
        events = connection.execute(
            sa.text("SELECT owner_id, workspace_id FROM audit_events ORDER BY id")
        ).all()
        assert events == [(1, personal[1]), (2, personal[2]), (None, None)]
        assert connection.execute(sa.text("SELECT valid FROM key_usage_hours")).scalar_one() == 5
        admins = connection.execute(sa.text("SELECT id FROM users WHERE is_admin")).scalars().all()
        assert admins == [1]
        # Profile names are unique per workspace now: the same name in one workspace is refused.
        try:
            with connection.begin_nested():
                connection.execute(
                    sa.text(
                        "INSERT INTO bias_profiles (id, owner_id, workspace_id, name, description,"
                        " categories, sensitivity, action, created_at, updated_at, version)"
                        " VALUES (99, 1, :w, 'strict', '', '[]', 0.5, 'flag', '2026-11-01', '2026-11-01', 1)"
                    ),
                    {"w": personal[1]},
                )
        except sa.exc.IntegrityError:
            pass
        else:
            raise AssertionError("duplicate profile name accepted in one workspace")
    command.downgrade(_config(url), PREVIOUS)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM api_keys")).scalar_one() == 3
    engine.dispose()
