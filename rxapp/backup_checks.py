"""What a backup must prove before `restore` lets it near the database (issue 21, item 5).

1. Its schema is what this project's migrations create at the revision it records: tables,
   columns, indexes and foreign keys, and no trigger, view or other object they do not create.
   The reference is built by running the migrations themselves into a scratch database, never
   from a hand-kept list, so a new migration needs no change here.
2. Its pepper fingerprint (app_meta) is the configured pepper's: keys made with another pepper
   would all answer NOT_FOUND, and the file is not this installation's.
3. It is the file `backup` wrote: `backup` stores an HMAC of the file's bytes under a key derived
   from the pepper in FILE.sig, so an edited row (a flipped is_admin) is caught although the
   schema is intact. A file without FILE.sig is restored only when the operator says so.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

import sqlalchemy as sa

from rxapp.services.errors import ServiceError
from rxapp.services.instance import pepper_fingerprint

SIGNATURE_SUFFIX = ".sig"
SIGNATURE_TAG = "apikeys-backup-hmac-sha256-v1"
CHUNK = 1 << 20
# The order in which differences are named: the dangerous kinds first.
RANKED_KINDS = ("trigger", "view", "materialized", "rule", "policy", "function", "table", "column", "index")


class BackupRefusedError(ServiceError):
    """The file failed a check; nothing was restored. `code` says which check."""

    default_code = "BACKUP_REFUSED"


# --- the signature (tamper evidence) ------------------------------------------------------------


def _mac_key(pepper: bytes) -> bytes:
    """Its own key, so a backup signature can never be mistaken for a key digest."""
    return hmac.new(pepper, b"apikeys backup signature v1", hashlib.sha256).digest()


def signature_path(backup: Path) -> Path:
    return backup.with_name(backup.name + SIGNATURE_SUFFIX)


def file_mac(path: Path, pepper: bytes) -> str:
    mac = hmac.new(_mac_key(pepper), digestmod=hashlib.sha256)
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            mac.update(chunk)
    return mac.hexdigest()


def sign(backup: Path, pepper: bytes) -> Path:
    """Writes FILE.sig (0600, never over an existing file)."""
    path = signature_path(backup)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(f"{SIGNATURE_TAG} {file_mac(backup, pepper)}\n")
    return path


def copy_with_mac(source: Path, destination: Path, pepper: bytes) -> str:
    """Copies the backup into the private work folder and returns the HMAC of exactly the bytes
    copied: every later check reads that copy, so the file cannot change between check and use."""
    mac = hmac.new(_mac_key(pepper), digestmod=hashlib.sha256)
    descriptor = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(source, "rb") as origin, os.fdopen(descriptor, "wb") as copy:
        while chunk := origin.read(CHUNK):
            mac.update(chunk)
            copy.write(chunk)
    return mac.hexdigest()


def read_signature(backup: Path) -> str | None:
    """The MAC in FILE.sig, None when there is no FILE.sig; a malformed one is refused."""
    path = signature_path(backup)
    if not path.exists():
        return None
    parts = path.read_text(errors="replace").split()
    if len(parts) != 2 or parts[0] != SIGNATURE_TAG or not re.fullmatch(r"[0-9a-f]{64}", parts[1]):
        raise BackupRefusedError(
            f"refused: {path} is not a backup signature; nothing was restored.", code="BACKUP_TAMPERED"
        )
    return parts[1]


def check_signature(backup: Path, signature: str | None, computed: str, *, allow_unsigned: bool) -> str:
    """Returns how the file stands ('signed' or 'unsigned, allowed'); refuses otherwise."""
    if signature is None:
        if allow_unsigned:
            return "unsigned, allowed by --allow-unsigned"
        raise BackupRefusedError(
            f"refused: {backup} has no signature ({signature_path(backup).name}, written by `backup`), "
            "so nothing shows it is unchanged; pass --allow-unsigned only if you trust this file. "
            "Nothing was restored.",
            code="BACKUP_UNSIGNED",
        )
    if not hmac.compare_digest(signature, computed):
        raise BackupRefusedError(
            f"refused: {backup} is not the file `backup` signed (its HMAC under the configured pepper "
            f"does not match {signature_path(backup).name}): it was changed after the backup. "
            "Nothing was restored.",
            code="BACKUP_TAMPERED",
        )
    return "signature ok"


# --- the pepper fingerprint ---------------------------------------------------------------------


def check_fingerprint(backup: Path, recorded: str | None, pepper: bytes) -> None:
    mine = pepper_fingerprint(pepper)
    if recorded is None:
        raise BackupRefusedError(
            f"refused: {backup} records no pepper fingerprint (app_meta), so nothing ties it to a "
            "pepper; `backup` always writes one. Nothing was restored.",
            code="BACKUP_PEPPER",
        )
    if not hmac.compare_digest(recorded, mine):
        raise BackupRefusedError(
            f"refused: {backup} was made with another pepper (fingerprint {recorded[:8]}…, the "
            f"configured pepper's is {mine[:8]}…): no key in it would verify. Configure the pepper "
            "it was made with. Nothing was restored.",
            code="BACKUP_PEPPER",
        )


# --- the migrations as the reference ------------------------------------------------------------


def _script():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from rxapp.settings import PROJECT_ROOT

    return Config(str(PROJECT_ROOT / "alembic.ini")), ScriptDirectory(str(PROJECT_ROOT / "alembic"))


def check_revision(backup: Path, revisions: list[str]) -> str:
    """The one migration revision the backup records, which must be one of this project's."""
    if len(revisions) != 1:
        raise BackupRefusedError(
            f"refused: {backup} records {len(revisions)} migration revisions (alembic_version), not one: "
            "it was not made by this project's migrations. Nothing was restored.",
            code="BACKUP_SCHEMA",
        )
    _config, script = _script()
    known = {revision.revision for revision in script.walk_revisions()}
    if revisions[0] not in known:
        raise BackupRefusedError(
            f"refused: {backup} records migration revision {revisions[0][:40]!r}, which is not one of "
            "this version's migrations (a backup of a newer version?). Nothing was restored.",
            code="BACKUP_SCHEMA",
        )
    return revisions[0]


def migrate(engine: sa.Engine, revision: str) -> None:
    """Runs this project's migrations up to `revision`, the way `reflex db migrate` runs them."""
    from alembic.runtime.environment import EnvironmentContext

    config, script = _script()
    with engine.connect() as connection:
        with EnvironmentContext(
            config, script, fn=lambda current, _context: script._upgrade_revs(revision, current)
        ) as environment:
            environment.configure(connection=connection)
            environment.run_migrations()
        connection.commit()


# --- comparing a schema with the reference ------------------------------------------------------


def _rank(label: str) -> tuple[int, str]:
    kind = label.split(" ", 1)[0]
    return (RANKED_KINDS.index(kind) if kind in RANKED_KINDS else len(RANKED_KINDS), label)


def _hint(actual: str, expected: str) -> str:
    """The first line that makes a definition differ, for the one-line message."""
    added = [line for line in actual.splitlines() if line not in expected.splitlines()]
    removed = [line for line in expected.splitlines() if line not in actual.splitlines()]
    if added:
        return f" (has `{added[0].strip().rstrip(',')[:80]}`)"
    if removed:
        return f" (lacks `{removed[0].strip().rstrip(',')[:80]}`)"
    return ""


def differences(actual: dict[str, str], expected: dict[str, str]) -> list[str]:
    found = [f"extra {label}" for label in sorted(actual.keys() - expected.keys(), key=_rank)]
    found += [f"missing {label}" for label in sorted(expected.keys() - actual.keys(), key=_rank)]
    changed = sorted((k for k in actual.keys() & expected.keys() if actual[k] != expected[k]), key=_rank)
    found += [f"{label} differs{_hint(actual[label], expected[label])}" for label in changed]
    return found


def check_schema(
    backup: Path,
    revision: str,
    actual: dict[str, str],
    expected: dict[str, str],
    problems: Sequence[str] = (),
) -> None:
    found = list(problems) + differences(actual, expected)
    if found:
        more = f" (and {len(found) - 1} more difference(s))" if len(found) > 1 else ""
        raise BackupRefusedError(
            f"refused: the schema in {backup} is not what this project's migrations create at "
            f"revision {revision}: {found[0]}{more}. Nothing was restored.",
            code="BACKUP_SCHEMA",
        )


# --- SQLite: the schema from SQLite's own catalogue ---------------------------------------------


def open_untrusted_sqlite(path: Path) -> sqlite3.Connection:
    """Read-only, and no function of the file's schema runs (trusted_schema=OFF)."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    connection.execute("PRAGMA trusted_schema=OFF")
    return connection


def describe_sqlite(connection: sqlite3.Connection) -> dict[str, str]:
    """Every object of the schema as label → definition: tables, columns (position, type, NOT
    NULL, default, key, generated), indexes (table, unique, origin, partial, key columns with
    order and collation), foreign keys, triggers and views. SQLite's bookkeeping tables
    (sqlite_sequence, sqlite_stat1) are left out: they appear with use, not with migrations."""
    found: dict[str, str] = {}

    def pragma(name: str, argument: str) -> list[tuple]:
        return connection.execute(f"PRAGMA {name}({_quote(argument)})").fetchall()

    objects = connection.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
    for kind, name, table, sql in objects:
        if kind in ("trigger", "view"):
            found[f"{kind} {name}"] = " ".join((sql or "").split())
        if kind != "table" or name.startswith("sqlite_"):
            continue
        found[f"table {name}"] = "table"
        for cid, column, type_, notnull, default, pk, hidden in pragma("table_xinfo", name):
            found[f"column {name}.{column}"] = repr((cid, type_.upper(), notnull, default, pk, hidden))
        for _seq, index, unique, origin, partial in pragma("index_list", name):
            keys = [row[2:5] for row in pragma("index_xinfo", index) if row[5]]
            where = ""
            if partial:
                row = connection.execute("SELECT sql FROM sqlite_master WHERE name = ?", (index,)).fetchone()
                where = " ".join((row[0] or "").split()).partition(" WHERE ")[2]
            found[f"index {index}"] = repr((table, unique, origin, keys, where))
        foreign: dict[int, list[tuple]] = {}
        for row in pragma("foreign_key_list", name):
            foreign.setdefault(row[0], []).append(row[1:])
        for rows in foreign.values():
            columns = ", ".join(str(row[2]) for row in sorted(rows))
            found[f"foreign key {name}({columns})"] = repr(sorted(rows))
    return found


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sqlite_reference(work: Path, revision: str) -> dict[str, str]:
    scratch = work / "reference.db"
    engine = sa.create_engine(f"sqlite:///{scratch}")
    try:
        migrate(engine, revision)
    finally:
        engine.dispose()
    with closing(open_untrusted_sqlite(scratch)) as connection:
        return describe_sqlite(connection)
