"""Online backup and restore of the database (`python -m rxapp backup|restore PATH`).

SQLite: the sqlite3 backup API copies a consistent snapshot in one read transaction while the
console keeps serving (in WAL mode a reader never blocks the writer, so verifications, Last Used
flushes and edits go on; copying in several steps instead would restart on every write and might
never finish under load). Restore uses the same API in the other direction, so it also works on a file that is
open, but it refuses to replace a database that holds data unless told to (`--force`).
PostgreSQL: `pg_dump --format=custom` makes the backup; restore checks the archive's script and
runs it in one psql transaction (rxapp/backup_pg.py).

Every backup gets FILE.sig, an HMAC of its bytes under the pepper, and restore trusts nothing in
the file until it has passed rxapp/backup_checks.py: the schema the migrations make, this pepper's
fingerprint, and that signature. Each check runs on a private copy, before the target is touched.

The pepper is NOT in the database and must be backed up separately: without it no key verifies.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import tempfile
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from rxapp import backup_checks as checks
from rxapp import backup_pg
from rxapp.services.errors import ServiceError
from rxapp.services.instance import PEPPER_FINGERPRINT

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


def _check_sqlite_file(path: Path, shown: Path) -> None:
    with open(path, "rb") as handle:
        if handle.read(16) != b"SQLite format 3\x00":
            raise checks.BackupRefusedError(
                f"refused: {shown} is not a SQLite database. Nothing was restored.", code="BACKUP_FORMAT"
            )


def _copy(source: sqlite3.Connection, target: sqlite3.Connection) -> None:
    source.backup(target, pages=ALL_PAGES)


def backup(database_url: str, destination: Path, pepper: bytes) -> BackupResult:
    """Writes the backup, then FILE.sig (its HMAC under the pepper) beside it."""
    destination = destination.resolve()
    for path in (destination, checks.signature_path(destination)):
        if path.exists():
            raise ServiceError(
                f"{path} already exists; choose a new file name (backups are never overwritten)."
            )
    destination.parent.mkdir(parents=True, exist_ok=True)
    database = _sqlite_path(database_url)
    result = (
        _pg_dump(database_url, destination) if database is None else _sqlite_backup(database, destination)
    )
    try:
        checks.sign(destination, pepper)
    except BaseException:
        destination.unlink(missing_ok=True)
        raise
    return result


def _sqlite_backup(database: Path, destination: Path) -> BackupResult:
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
    pg_dump = backup_pg.tool("pg_dump")
    url, env = backup_pg.libpq(database_url)
    # The archive holds every key digest: owner-only from its first byte.
    descriptor = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(descriptor)
    try:
        backup_pg.run(
            [pg_dump, "--format=custom", f"--file={destination}", f"--dbname={url}"], env, "pg_dump"
        )
    except BaseException:
        destination.unlink(missing_ok=True)
        raise
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


def restore(
    database_url: str, source: Path, pepper: bytes, *, force: bool = False, allow_unsigned: bool = False
) -> BackupResult:
    """Checks a private copy of the backup (schema, pepper fingerprint, signature), then restores
    that copy. Any refusal is a BackupRefusedError and leaves the target as it was."""
    source = source.resolve()
    if not source.is_file():
        raise ServiceError(f"No backup file at {source}.")
    database = _sqlite_path(database_url)
    if database is None:
        for name in backup_pg.TOOLS:
            backup_pg.tool(name)
    signature = checks.read_signature(source)
    with tempfile.TemporaryDirectory(prefix="apikeys-restore-") as folder:
        work = Path(folder)
        copy = work / "backup"
        computed = checks.copy_with_mac(source, copy, pepper)
        # The last check, run by each backend after the ones that name a more precise cause.
        verdict = functools.partial(
            checks.check_signature, source, signature, computed, allow_unsigned=allow_unsigned
        )
        if database is None:
            try:
                return _restore_postgres(database_url, source, copy, work, pepper, force, verdict)
            except sa.exc.SQLAlchemyError as error:  # e.g. unreachable, or no right to CREATE SCHEMA
                detail = str(getattr(error, "orig", None) or type(error).__name__).splitlines()[0][:200]
                raise ServiceError(f"The configured database could not be used: {detail}") from error
        return _restore_sqlite(database, source, copy, work, pepper, force, verdict)


def _refuse_if_live(holds_data: bool, target: str, force: bool) -> None:
    if holds_data and not force:
        raise ServiceError(
            f"{target} already holds users or keys. Stop the console and pass --force to replace it "
            "(take a backup of it first)."
        )


def _read_sqlite(copy: Path, source: Path) -> tuple[dict[str, str], list[str], str]:
    """The copy's schema, recorded revisions and integrity verdict (nothing of it is executed)."""
    _check_sqlite_file(copy, source)
    try:
        with closing(checks.open_untrusted_sqlite(copy)) as connection:
            integrity = connection.execute("PRAGMA quick_check").fetchone()[0]
            schema = checks.describe_sqlite(connection)
            revisions: list[str] = []
            if "column alembic_version.version_num" in schema:
                revisions = [row[0] for row in connection.execute("SELECT version_num FROM alembic_version")]
    except sqlite3.DatabaseError as error:
        raise checks.BackupRefusedError(
            f"refused: {source} cannot be read as a SQLite database ({error}). Nothing was restored.",
            code="BACKUP_FORMAT",
        ) from error
    return schema, revisions, integrity


def _restore_sqlite(
    database: Path, source: Path, copy: Path, work: Path, pepper: bytes, force: bool, verdict
) -> BackupResult:
    schema, revisions, integrity = _read_sqlite(copy, source)
    if integrity != "ok":
        raise checks.BackupRefusedError(
            f"refused: {source} failed SQLite's integrity check ({integrity[:120]}). Nothing was restored.",
            code="BACKUP_FORMAT",
        )
    revision = checks.check_revision(source, revisions)
    checks.check_schema(source, revision, schema, checks.sqlite_reference(work, revision))
    with closing(checks.open_untrusted_sqlite(copy)) as connection:  # the schema is the migrations' now
        row = connection.execute(
            "SELECT value FROM app_meta WHERE name = ?", (PEPPER_FINGERPRINT,)
        ).fetchone()
        keys = connection.execute("SELECT count(*) FROM api_keys").fetchone()[0]
    checks.check_fingerprint(source, row[0] if row else None, pepper)
    state = verdict()
    _refuse_if_live(_holds_data(database), str(database), force)
    database.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(f"file:{copy}?mode=ro", uri=True)) as origin:
        target = sqlite3.connect(database, timeout=30)
        try:
            _copy(origin, target)
            target.execute("PRAGMA journal_mode=WAL")
        finally:
            target.close()
    os.chmod(database, 0o600)
    return BackupResult(database, "sqlite", f"{keys} key(s) restored; revision {revision}; {state}")


def _restore_postgres(
    database_url: str, source: Path, copy: Path, work: Path, pepper: bytes, force: bool, verdict
) -> BackupResult:
    path = backup_pg.read_script(copy, work, database_url, name="backup", shown=source)
    script = backup_pg.parse(backup_pg.lines_of(path))
    revisions = [value for value in backup_pg.column(script, "alembic_version", "version_num") if value]
    revision = checks.check_revision(source, revisions)
    actual, expected = backup_pg.compare(script, backup_pg.reference(database_url, revision, work))
    checks.check_schema(source, revision, actual, expected, script.problems)
    checks.check_fingerprint(source, backup_pg.fingerprint(script), pepper)
    state = verdict()
    _refuse_if_live(backup_pg.holds_data(database_url), "The configured database", force)
    backup_pg.execute(database_url, path, script, work)
    keys = script.counts.get("api_keys", 0)
    return BackupResult(
        Path(make_url(database_url).database or ""),
        "postgresql",
        f"{keys} key(s) restored; revision {revision}; {state}",
    )
