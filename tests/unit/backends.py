"""Databases of both backends for the CLI tests of backup, restore and doctor.

Each is migrated by `reflex db migrate`, as production is (once per module into a template, then
copied: a SQLite file copy, a PostgreSQL `CREATE DATABASE … TEMPLATE`). PostgreSQL databases are
created on TEST_POSTGRES_URL's server under random names and dropped at the end; the PostgreSQL
cases are skipped when that server is not reachable.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests.harness import migrate, run_cli

PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = ("sqlite", "postgresql")
PASSWORD = "correct-horse-battery-staple-42"


def pg_reachable() -> bool:
    parts = urlsplit(PG_URL)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), timeout=2):
            return True
    except OSError:
        return False


@contextmanager
def fresh_pg_engine(label: str) -> Iterator[sa.Engine]:
    """An engine on a new PostgreSQL database holding the models' tables (create_all, not the
    migrations), dropped afterwards; the test is skipped when the server is not reachable."""
    from sqlmodel import SQLModel

    from rxapp import db

    if not pg_reachable():
        pytest.skip("PostgreSQL not reachable (TEST_POSTGRES_URL)")
    name = f"t_{label}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    made = db.make_engine(make_url(PG_URL).set(database=name).render_as_string(hide_password=False))
    try:
        SQLModel.metadata.create_all(made)
        yield made
    finally:
        made.dispose()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def base_env() -> dict[str, str]:
    return {
        k: v for k, v in os.environ.items() if not k.startswith(("APIKEYS_", "DATABASE_URL", "REDIS_URL"))
    }


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass
class Database:
    backend: str
    url: str
    data_dir: Path

    def env(self, pepper: str) -> dict[str, str]:
        return {
            **base_env(),
            "DATABASE_URL": self.url,
            "APIKEYS_DATA_DIR": str(self.data_dir),
            "APIKEYS_PEPPER": pepper,
        }

    def cli(self, pepper: str, *args: str, input_text: str | None = None) -> subprocess.CompletedProcess:
        return run_cli(self.env(pepper), *args, input_text=input_text)

    @property
    def sqlite_file(self) -> Path:
        return Path(make_url(self.url).database or "")

    def execute(self, sql: str) -> None:
        if self.backend == "sqlite":
            with closing(sqlite3.connect(self.sqlite_file)) as connection:
                connection.executescript(sql)
            return
        engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        with engine.begin() as connection:
            connection.exec_driver_sql(sql)
        engine.dispose()

    def scalar(self, sql: str):
        engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        with engine.connect() as connection:
            value = connection.execute(sa.text(sql)).scalar()
        engine.dispose()
        return value

    def snapshot(self) -> str:
        """Everything the database holds, to show that a refused restore changed nothing. (Loading
        the settings creates an empty 0600 SQLite file before any command: empty is no database.)"""
        if self.backend == "sqlite":
            files = sorted(self.data_dir.iterdir()) if self.data_dir.exists() else []
            return "\n".join(
                f"{p.name} {hashlib.sha256(p.read_bytes()).hexdigest()}"
                for p in files
                if p.is_file() and p.stat().st_size > 0
            )
        dump = subprocess.run(
            ["pg_dump", "--no-owner", "--no-privileges", f"--dbname={_libpq(self.url)}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return "\n".join(
            line for line in dump.splitlines() if not line.startswith(("\\restrict", "\\unrestrict"))
        )


@dataclass
class Backend:
    """Makes databases of one backend; `template` is a migrated one that is copied, never used."""

    name: str
    folder: Path
    created: list[str] = field(default_factory=list)
    _template: Database | None = None

    def _server(self) -> sa.Engine:
        return sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)

    def empty(self, label: str = "db") -> Database:
        data_dir = self.folder / f"{label}-{uuid.uuid4().hex[:8]}"
        data_dir.mkdir()
        if self.name == "sqlite":
            return Database(self.name, f"sqlite:///{data_dir / 'console.db'}", data_dir)
        return Database(self.name, self._create_database(label, template=None), data_dir)

    def _create_database(self, label: str, template: Database | None) -> str:
        name = f"rxrestore_{label}_{uuid.uuid4().hex[:10]}"
        engine = self._server()
        with engine.connect() as connection:
            clause = f' TEMPLATE "{make_url(template.url).database}"' if template else ""
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"{clause}')
        engine.dispose()
        self.created.append(name)
        return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)

    def copy(self, source: Database, label: str) -> Database:
        """A new database holding exactly what `source` holds."""
        if self.name == "postgresql":
            data_dir = self.folder / f"{label}-{uuid.uuid4().hex[:8]}"
            data_dir.mkdir()
            return Database(self.name, self._create_database(label, template=source), data_dir)
        database = self.empty(label)
        shutil.copyfile(source.sqlite_file, database.sqlite_file)
        return database

    def migrated(self, label: str = "db") -> Database:
        if self._template is None:
            template = self.empty("template")
            migrate(template.env("t" * 40))  # records no pepper: the first CLI command does
            self._template = template
        return self.copy(self._template, label)

    def close(self) -> None:
        if self.name != "postgresql" or not self.created:
            return
        engine = self._server()
        with engine.connect() as connection:
            for name in reversed(self.created):
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    if request.param == "postgresql" and not pg_reachable():
        pytest.skip("PostgreSQL not reachable (TEST_POSTGRES_URL)")
    made = Backend(request.param, tmp_path_factory.mktemp(request.param))
    try:
        yield made
    finally:
        made.close()
