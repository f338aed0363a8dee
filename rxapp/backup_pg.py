"""PostgreSQL backups: check a pg_dump archive against the migrations, then restore it whole.

`pg_restore -f` turns the archive into the SQL script it would run. That script is read once,
line by line: every schema object must be, word for word, what `pg_restore` prints for a scratch
schema migrated to the backup's revision in the configured database (same tools, same options,
so no SQL parsing and no version guessing); the data part may only hold `COPY` blocks for the
migrations' tables with their exact column lists, and sequence positions. Nothing the archive
says is executed before that. Then the same checked script runs in one `psql` transaction, after
`DROP SCHEMA public CASCADE`: the target is replaced whole or, on any error, left as it was.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from rxapp.backup_checks import BackupRefusedError, migrate
from rxapp.services.errors import ServiceError

TOOLS = ("pg_dump", "pg_restore", "psql")
SCRATCH_PREFIX = "apikeys_restore_ref_"
HEADER = re.compile(r"^-- (Data for )?Name: (.*); Type: (.*); Schema: (.*); Owner: (.*)$")
# Lines pg_restore itself writes between objects (not from the archive), with the defaults only.
SKIPPED = {"", "--", "-- PostgreSQL database dump complete", "SET default_tablespace = '';"}
SKIPPED |= {"SET default_table_access_method = heap;"}
SETVAL = re.compile(r"^(SELECT pg_catalog\.setval\('[^']*', )\d+, (?:true|false)(\);)$")
PUBLIC_SCHEMA = ("SCHEMA", "-", "public")
PUBLIC_COMMENT = ("COMMENT", "-", "SCHEMA public")
OPTIONAL = {
    PUBLIC_SCHEMA: ["CREATE SCHEMA public;"],
    PUBLIC_COMMENT: ["COMMENT ON SCHEMA public IS 'standard public schema';"],
}
KEPT_TABLES = ("app_meta", "alembic_version")


def libpq(database_url: str) -> tuple[str, dict[str, str]]:
    """postgresql+psycopg://u:p@h/d → (postgresql://u@h/d, environment with PGPASSWORD): the
    password stays out of the process list."""
    url = make_url(database_url)
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    plain = url._replace(drivername="postgresql", password=None)  # .set() keeps a password given None
    return plain.render_as_string(hide_password=False), env


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ServiceError(
            f"{name} is not installed here: PostgreSQL backups need pg_dump, pg_restore and psql "
            "(postgresql-client, same major version as the server)."
        )
    return path


def run(command: list[str], env: dict[str, str], what: str) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        first = next(
            (line for line in lines if "ERROR" in line or "error" in line), lines[0] if lines else ""
        )
        raise ServiceError(f"{what} failed: {first.strip()[:300]}")


@dataclass
class Script:
    """What a `pg_restore -f` script holds, read once without keeping the data rows."""

    preamble: list[str] = field(default_factory=list)
    objects: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)
    copies: dict[str, str] = field(default_factory=dict)  # table → its COPY line
    rows: dict[str, list[list[str]]] = field(default_factory=dict)  # KEPT_TABLES only
    counts: dict[str, int] = field(default_factory=dict)
    sequences: dict[str, list[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def parse(lines: Iterable[str]) -> Script:
    script = Script()
    current: tuple[str, str, str] | None = None
    copying: str | None = None
    unrestricted = False
    seen: set[tuple[str, str, str]] = set()
    for raw in lines:
        line = raw.removesuffix("\n")
        if copying is not None:
            if line in ("\\.", "\\.\r"):  # psql ends COPY data at either
                copying = None
            else:
                script.counts[copying] += 1
                if copying in KEPT_TABLES:
                    script.rows[copying].append(line.split("\t"))
            continue
        if line in SKIPPED:
            continue
        if unrestricted:
            script.problems.append("a line after the end of the script")
            continue
        if line.startswith("\\unrestrict "):
            unrestricted = True
            continue
        match = HEADER.match(line)
        if match:
            current = (match.group(3), match.group(4), match.group(2))
            if current in seen:
                script.problems.append(f"{label(current)} twice")
            seen.add(current)
            if current[0] not in ("TABLE DATA", "SEQUENCE SET"):
                script.objects[current] = []
            continue
        if current is None:
            if not line.startswith("-- "):  # comments before the first object are pg_restore's own
                script.preamble.append("\\restrict" if line.startswith("\\restrict ") else line)
        elif current[0] == "TABLE DATA":
            table = current[2]
            if table in script.copies or not (line.startswith("COPY ") and line.endswith(" FROM stdin;")):
                script.problems.append(f"a statement that is not data in the data of table {table}")
                continue
            script.copies[table], script.counts[table], copying = line, 0, table
            script.rows.setdefault(table, [])
        elif current[0] == "SEQUENCE SET":
            script.sequences.setdefault(current[2], []).append(SETVAL.sub(r"\1N, B\2", line))
        else:
            script.objects[current].append(line)
    return script


def label(key: tuple[str, str, str]) -> str:
    kind, schema, name = key
    if kind == "TRIGGER":
        table, _, trigger = name.partition(" ")
        text = f"trigger {trigger} on {table}"
    elif kind.endswith("CONSTRAINT"):
        text = f"{kind.lower()} {name.partition(' ')[2] or name}"
    else:
        text = f"{kind.lower()} {name}"
    return text if schema in ("public", "-") else f"{text} in schema {schema}"


def described(script: Script, *, reference: bool) -> dict[str, str]:
    """label → definition, comparable between the backup and the reference."""
    found = {"script preamble": "\n".join(script.preamble)}
    for key, lines in script.objects.items():
        if not (reference and key in OPTIONAL):  # the scratch schema's own entry
            found[label(key)] = "\n".join(lines)
    for table, copy in script.copies.items():
        found[f"data of table {table}"] = copy
    for sequence, lines in script.sequences.items():
        found[f"sequence value {sequence}"] = "\n".join(lines)
    return found


def compare(backup: Script, reference: Script) -> tuple[dict[str, str], dict[str, str]]:
    actual, expected = described(backup, reference=False), described(reference, reference=True)
    for key, lines in OPTIONAL.items():
        if key in backup.objects:  # pg_dump --schema=public (or another version) writes these
            expected[label(key)] = "\n".join(lines)
    return actual, expected


def column(script: Script, table: str, name: str) -> list[str | None]:
    """One column of a kept table's rows (COPY text format; \\N is NULL)."""
    copy = script.copies.get(table, "")
    columns = [part.strip() for part in copy.partition("(")[2].partition(")")[0].split(",")]
    if name not in columns:
        return []
    index = columns.index(name)
    return [
        None if row[index] == "\\N" else row[index] for row in script.rows.get(table, []) if index < len(row)
    ]


def fingerprint(script: Script) -> str | None:
    from rxapp.services.instance import PEPPER_FINGERPRINT

    names, values = column(script, "app_meta", "name"), column(script, "app_meta", "value")
    return next(
        (value for name, value in zip(names, values, strict=False) if name == PEPPER_FINGERPRINT), None
    )


def read_script(archive: Path, work: Path, database_url: str, *, name: str, shown: Path) -> Path:
    """The SQL script `pg_restore` would run for this archive (no owners, no grants)."""
    script = work / f"{name}.sql"
    _url, env = libpq(database_url)
    try:
        run(
            [tool("pg_restore"), "--no-owner", "--no-privileges", f"--file={script}", str(archive)],
            env,
            "pg_restore",
        )
    except ServiceError as error:
        raise BackupRefusedError(
            f"refused: {shown} is not a pg_dump custom-format archive this pg_restore can read "
            f"({error.message}). Nothing was restored.",
            code="BACKUP_FORMAT",
        ) from error
    return script


def lines_of(path: Path, replace: tuple[str, str] | None = None) -> Iterator[str]:
    # Lines end at \n only, as psql reads them (no universal-newline translation of \r).
    with open(path, encoding="utf-8", errors="replace", newline="\n") as handle:
        for line in handle:
            yield line.replace(*replace) if replace else line


def reference(database_url: str, revision: str, work: Path) -> Script:
    """The script of a scratch schema migrated to `revision` in the configured database, with the
    scratch schema's name written as `public`; the scratch schema is dropped again."""
    scratch = SCRATCH_PREFIX + secrets.token_hex(6)
    admin = sa.create_engine(database_url, poolclass=NullPool)
    try:
        with admin.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{scratch}"'))
        engine = sa.create_engine(
            database_url, poolclass=NullPool, connect_args={"options": f"-csearch_path={scratch}"}
        )
        try:
            migrate(engine, revision)
        finally:
            engine.dispose()
        url, env = libpq(database_url)
        dump = work / "reference.dump"
        run(
            [tool("pg_dump"), "--format=custom", f"--schema={scratch}", f"--file={dump}", url], env, "pg_dump"
        )
        path = read_script(dump, work, database_url, name="reference", shown=dump)
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{scratch}" CASCADE'))
        admin.dispose()
    return parse(lines_of(path, (scratch, "public")))


def holds_data(database_url: str) -> bool:
    engine = sa.create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            tables = set(sa.inspect(connection).get_table_names(schema="public")) & {"users", "api_keys"}
            return any(
                connection.execute(sa.text(f'SELECT 1 FROM public."{table}" LIMIT 1')).first()  # noqa: S608
                for table in sorted(tables)
            )
    finally:
        engine.dispose()


def execute(database_url: str, script: Path, backup: Script, work: Path) -> None:
    """Replaces the `public` schema by the checked script, in one transaction."""
    prefix = work / "prefix.sql"
    statements = ["DROP SCHEMA IF EXISTS public CASCADE;"]
    if PUBLIC_SCHEMA not in backup.objects:
        statements.append("CREATE SCHEMA public;")
    prefix.write_text("\n".join(statements) + "\n")
    url, env = libpq(database_url)
    command = [tool("psql"), "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", "--single-transaction"]
    run([*command, f"--dbname={url}", f"--file={prefix}", f"--file={script}"], env, "psql (the restore)")
