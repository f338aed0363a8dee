"""`reflex db migrate` builds the schema the models describe: no drift between the two."""

from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from rxapp import models  # noqa: F401  (registers the tables)

ROOT = Path(__file__).resolve().parents[2]


def test_migrations_reach_the_models_exactly(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'migrated.db'}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "APIKEYS_DATA_DIR": str(tmp_path),
        "APIKEYS_PEPPER": secrets.token_urlsafe(40),
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_CHECK_LATEST_VERSION": "false",
    }
    result = subprocess.run(
        ["reflex", "db", "migrate"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        drift = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
        tables = set(sa.inspect(connection).get_table_names())
    engine.dispose()
    assert drift == []
    assert {"users", "user_sessions", "login_failures", "bias_profiles", "api_keys", "audit_events"} <= tables
