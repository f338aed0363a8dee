"""`restore` trusts nothing in its file (issue 21, item 5), on SQLite and on PostgreSQL.

A backup with an added trigger, table, view or index, a dropped column, an edited row (a flipped
is_admin) or another pepper's fingerprint is refused with one line and the target left exactly
as it was; a clean backup still restores with every key working.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from rxapp import backup_checks
from rxapp.db import make_engine
from tests.unit.backends import PASSWORD, Backend, Database
from tests.unit.helpers import utc_now, verify_key

PEPPER = secrets.token_urlsafe(40)
OTHER_PEPPER = secrets.token_urlsafe(40)

# What an attacker adds to a backup, per backend, and the word the refusal must name.
TAMPERING = {
    "trigger": (
        "CREATE TRIGGER make_admin AFTER INSERT ON users BEGIN "
        "UPDATE users SET is_admin = 1 WHERE id = NEW.id; END;",
        "CREATE FUNCTION make_admin() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "NEW.is_admin := true; RETURN NEW; END $$; CREATE TRIGGER make_admin BEFORE INSERT ON users "
        "FOR EACH ROW EXECUTE FUNCTION make_admin();",
        "extra trigger make_admin",
    ),
    "table": ("CREATE TABLE notes (id integer PRIMARY KEY, body text);",) * 2 + ("extra table notes",),
    "view": ("CREATE VIEW admins AS SELECT email FROM users WHERE is_admin;",) * 2 + ("extra view admins",),
    "index": ("CREATE INDEX ix_users_is_admin ON users (is_admin);",) * 2
    + ("extra index ix_users_is_admin",),
    "dropped column": ("ALTER TABLE users DROP COLUMN disabled;",) * 2 + ("disabled",),
}


@pytest.fixture
def pepper() -> str:
    """The pepper of every database here (app_settings reads it to verify keys in-process)."""
    return PEPPER


@dataclass(frozen=True)
class Signed:
    """A live database with an admin, a member and a key each, and its signed backup."""

    live: Database
    file: Path
    secrets: tuple[str, ...]
    target_template: Database


@pytest.fixture(scope="module")
def signed(backend: Backend) -> Signed:
    live = backend.migrated("live")
    for email in ("owner@example.com", "member@example.com"):  # the first user is the instance admin
        assert live.cli(PEPPER, "create-user", email, input_text=PASSWORD + "\n").returncode == 0
    made = [
        live.cli(PEPPER, "create-key", email, "k") for email in ("owner@example.com", "member@example.com")
    ]
    assert all(result.returncode == 0 for result in made), [result.stderr for result in made]
    file = backend.folder / "backups" / "console.backup"
    result = live.cli(PEPPER, "backup", str(file))
    assert result.returncode == 0, result.stderr
    target = backend.migrated("target")
    assert target.cli(PEPPER, "create-user", "target@example.com", input_text=PASSWORD + "\n").returncode == 0
    return Signed(live, file, tuple(result.stdout.strip() for result in made), target)


@pytest.fixture
def target(backend: Backend, signed: Signed) -> Database:
    """A database that holds data of its own: a restore needs --force, a refusal must leave it."""
    return backend.copy(signed.target_template, "target")


def _tampered(
    backend: Backend,
    original: Path,
    sql: str,
    *,
    sign_with: str | None,
    stale_signature: bool,
) -> Path:
    """The backup with `sql` applied, written the way `backup` writes one (a SQLite file, or a
    pg_dump archive); signed again with `sign_with` (an insider who has the pepper), given the
    original's now stale signature, or left without one."""
    out = original.with_name(f"tampered-{secrets.token_hex(4)}{original.suffix}")
    if backend.name == "sqlite":
        shutil.copyfile(original, out)
        Database("sqlite", f"sqlite:///{out}", out.parent).execute(sql)
    else:
        scratch = backend.empty("tamper")
        url = scratch.url.replace("+psycopg", "")
        subprocess.run(["pg_restore", "--no-owner", f"--dbname={url}", str(original)], check=True)
        scratch.execute(sql)
        subprocess.run(["pg_dump", "--format=custom", f"--file={out}", url], check=True)
    if sign_with is not None:
        backup_checks.sign(out, sign_with.encode())
    elif stale_signature:
        shutil.copyfile(backup_checks.signature_path(original), backup_checks.signature_path(out))
    return out


def _refused(result: subprocess.CompletedProcess, *words: str) -> str:
    line = result.stderr.strip()
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert len(line.splitlines()) == 1 and line.startswith("error: refused: "), result.stderr
    assert "Traceback" not in result.stderr and "Nothing was restored." in line
    for word in words:
        assert word in line, line
    return line


def _keys_verify(database: Database, keys: tuple[str, ...]) -> bool:
    engine = make_engine(database.url)
    try:
        with engine.connect() as connection:
            return all(verify_key(connection, key, utc_now()).valid for key in keys)
    finally:
        engine.dispose()


def test_a_clean_backup_restores_with_every_key_working(
    backend: Backend, signed: Signed, app_settings
) -> None:
    signature = backup_checks.signature_path(signed.file)
    assert signature.stat().st_mode & 0o077 == 0 and signed.file.stat().st_mode & 0o077 == 0
    fresh = backend.empty("fresh")
    result = fresh.cli(PEPPER, "restore", str(signed.file))
    assert result.returncode == 0, result.stderr
    assert "signature ok" in result.stderr and "2 key(s) restored" in result.stderr
    assert _keys_verify(fresh, signed.secrets)
    assert fresh.scalar("SELECT count(*) FROM users WHERE is_admin") == 1
    if backend.name == "postgresql":  # the scratch schema of the reference is gone again
        assert (
            fresh.scalar("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'apikeys_restore_ref_%'") == 0
        )

    again = fresh.cli(PEPPER, "restore", str(signed.file))
    assert again.returncode == 1 and "--force" in again.stderr
    forced = fresh.cli(PEPPER, "restore", str(signed.file), "--force")
    assert forced.returncode == 0, forced.stderr
    assert _keys_verify(fresh, signed.secrets)


@pytest.mark.parametrize("kind", list(TAMPERING))
def test_a_schema_the_migrations_do_not_make_is_refused(
    backend: Backend,
    signed: Signed,
    target: Database,
    kind: str,
) -> None:
    sqlite_sql, postgres_sql, named = TAMPERING[kind]
    sql = sqlite_sql if backend.name == "sqlite" else postgres_sql
    # Signed again with the right pepper: the signature passes, the schema check alone refuses.
    file = _tampered(backend, signed.file, sql, sign_with=PEPPER, stale_signature=False)
    before = target.snapshot()
    result = target.cli(PEPPER, "restore", str(file), "--force")
    _refused(result, "is not what this project's migrations create", named)
    assert target.snapshot() == before


def test_an_edited_row_is_refused_by_the_signature(
    backend: Backend, signed: Signed, target: Database
) -> None:
    """A flipped is_admin leaves the schema intact: only the signature can tell."""
    flip = "UPDATE users SET is_admin = TRUE WHERE email = 'member@example.com';"
    file = _tampered(backend, signed.file, flip, sign_with=None, stale_signature=True)
    before = target.snapshot()
    _refused(target.cli(PEPPER, "restore", str(file), "--force"), "changed after the backup")
    assert target.snapshot() == before

    backup_checks.signature_path(file).unlink()
    _refused(target.cli(PEPPER, "restore", str(file), "--force"), "has no signature", "--allow-unsigned")
    assert target.snapshot() == before

    # The operator's explicit opt-out: the schema and pepper checks still ran, and passed.
    allowed = target.cli(PEPPER, "restore", str(file), "--force", "--allow-unsigned")
    assert allowed.returncode == 0 and "unsigned, allowed" in allowed.stderr, allowed.stderr
    assert target.scalar("SELECT count(*) FROM users WHERE is_admin") == 2


def test_another_peppers_backup_is_refused(backend: Backend, signed: Signed) -> None:
    """Into an empty target, which has no fingerprint of its own to object with."""
    fresh = backend.empty("fresh")
    before = fresh.snapshot()
    line = _refused(fresh.cli(OTHER_PEPPER, "restore", str(signed.file)), "another pepper")
    assert PEPPER not in line and OTHER_PEPPER not in line
    # Unsigned and allowed: the fingerprint check does not depend on the signature.
    unsigned = _tampered(backend, signed.file, "SELECT 1;", sign_with=None, stale_signature=False)
    _refused(fresh.cli(OTHER_PEPPER, "restore", str(unsigned), "--allow-unsigned"), "another pepper")
    assert fresh.snapshot() == before


def test_a_backup_without_a_migration_revision_is_refused(
    backend: Backend, signed: Signed, target: Database
) -> None:
    file = _tampered(
        backend, signed.file, "DELETE FROM alembic_version;", sign_with=PEPPER, stale_signature=False
    )
    before = target.snapshot()
    _refused(target.cli(PEPPER, "restore", str(file), "--force"), "0 migration revisions")
    assert target.snapshot() == before


def test_the_script_reader_finds_sql_hidden_among_the_data() -> None:
    """The pg_restore script is read the way psql reads it: a statement after the end of a COPY
    block (`\\.`, or `\\.\\r`, which psql accepts too) is not data, nor is anything after the
    script's closing `\\unrestrict` (which would lift psql's ban on meta-commands)."""
    from rxapp import backup_pg

    header = "-- Data for Name: users; Type: TABLE DATA; Schema: public; Owner: -\n"
    copy = "COPY public.users (id, email) FROM stdin;\n"
    clean = backup_pg.parse([header, copy, "1\ta@example.com\n", "\\.\n", "\n", "\\unrestrict k\n"])
    assert clean.problems == [] and clean.counts == {"users": 1}
    for end in ("\\.\n", "\\.\r\n"):
        hidden = backup_pg.parse(
            [header, copy, "1\ta@example.com\n", end, "UPDATE users SET is_admin = true;\n"]
        )
        assert hidden.problems == ["a statement that is not data in the data of table users"]
    after = backup_pg.parse([header, copy, "\\.\n", "\\unrestrict k\n", "\\! sh\n"])
    assert after.problems == ["a line after the end of the script"]
