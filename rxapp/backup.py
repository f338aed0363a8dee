"""Online backup and restore of the database (`python -m rxapp backup|restore PATH`).

SQLite: the sqlite3 backup API copies a consistent snapshot in one read transaction while the
console keeps serving (in WAL mode a reader never blocks the writer, so verifications, Last Used
flushes and edits go on; copying in several steps instead would restart on every write and might
never finish under load). Restore uses the same API in the other direction, so it also works on a file that is
open, but it refuses to replace a database that holds data unless told to (`--force`).
PostgreSQL: `pg_dump`/`pg_restore` are the right tools; backup runs pg_dump when it is installed,
restore prints the pg_restore command instead of guessing how the operator wants it done.

The pepper is NOT in the database and must be backed up separately: without it no key verifies.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from rxapp.services.errors import ServiceError

ALL_PAGES = -1


@dataclass(frozen=True)
class BackupResult:
    path: Path
    backend: str
    detail: str


def _sqlite_path(database_url: str) -> Path | None:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return None
    if not url.database or url.database == ":memory:":
        raise ServiceError("An in-memory SQLite database cannot be backed up.")
    return Path(url.database)


def _libpq_url(database_url: str) -> str:
    """postgresql+psycopg://… → postgresql://… (what pg_dump understands)."""
    url = make_url(database_url)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _check_sqlite_file(path: Path) -> None:
    with open(path, "rb") as handle:
        if handle.read(16) != b"SQLite format 3\x00":
            raise ServiceError(f"{path} is not a SQLite database.")


def _copy(source: sqlite3.Connection, target: sqlite3.Connection) -> None:
    source.backup(target, pages=ALL_PAGES)


def backup(database_url: str, destination: Path) -> BackupResult:
    destination = destination.resolve()
    if destination.exists():
        raise ServiceError(
            f"{destination} already exists; choose a new file name (backups are never overwritten)."
        )
    destination.parent.mkdir(parents=True, exist_ok=True)
    database = _sqlite_path(database_url)
    if database is None:
        return _pg_dump(database_url, destination)
    if not database.exists():
        raise ServiceError(f"No database at {database}.")
    partial = destination.with_name(destination.name + ".partial")
    # The backup holds every key digest: readable by the owner only, like the pepper.
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(descriptor)
    try:
        source = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
        target = sqlite3.connect(partial)
        try:
            _copy(source, target)
            check = target.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise ServiceError(f"The copy failed its integrity check: {check}")
            keys = target.execute("SELECT count(*) FROM api_keys").fetchone()[0]
            target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        finally:
            target.close()
            source.close()
        partial.rename(destination)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return BackupResult(destination, "sqlite", f"{keys} key(s); integrity ok")


def _pg_dump(database_url: str, destination: Path) -> BackupResult:
    pg_dump = shutil.which("pg_dump")
    command = f"pg_dump --format=custom --file={destination} '<database URL without +psycopg>'"
    if pg_dump is None:
        raise ServiceError(
            "PostgreSQL is backed up with pg_dump, which is not installed here. Run, on a machine "
            f"that has it (same major version as the server): {command}"
        )
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    result = subprocess.run(  # noqa: S603 - fixed program, URL from the operator's own configuration
        [pg_dump, "--format=custom", f"--file={destination}", f"--dbname={_libpq_url(database_url)}"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        destination.unlink(missing_ok=True)
        raise ServiceError(f"pg_dump failed: {result.stderr.strip()[:500]}")
    os.chmod(destination, 0o600)
    return BackupResult(destination, "postgresql", "pg_dump custom format")


def _holds_data(path: Path) -> bool:
    if not path.exists() or path.stat().st_size == 0:
        return False
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        return any(
            connection.execute(f'SELECT 1 FROM "{table}" LIMIT 1').fetchone()  # noqa: S608 - names from sqlite_master
            for table in tables & {"users", "api_keys"}
        )


def restore(database_url: str, source: Path, *, force: bool = False) -> BackupResult:
    source = source.resolve()
    if not source.is_file():
        raise ServiceError(f"No backup file at {source}.")
    database = _sqlite_path(database_url)
    if database is None:
        raise ServiceError(
            "PostgreSQL is restored with pg_restore: stop the console, then run "
            f"`pg_restore --clean --if-exists --no-owner --dbname='<database URL>' {source}`, "
            "then `reflex db migrate` and start the console with the same APIKEYS_PEPPER."
        )
    _check_sqlite_file(source)
    if _holds_data(database) and not force:
        raise ServiceError(
            f"{database} already holds users or keys. Stop the console and pass --force to replace it "
            "(take a backup of it first)."
        )
    database.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as origin:
        keys = origin.execute("SELECT count(*) FROM api_keys").fetchone()[0]
        target = sqlite3.connect(database, timeout=30)
        try:
            _copy(origin, target)
            target.execute("PRAGMA journal_mode=WAL")
        finally:
            target.close()
    os.chmod(database, 0o600)
    return BackupResult(database, "sqlite", f"{keys} key(s) restored")
