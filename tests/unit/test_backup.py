"""Backup under load and restore into a fresh data folder: every key still verifies, same pepper.

The checks restore runs on its file (schema, pepper fingerprint, signature) are in
test_restore_checks.py, on both backends."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session

from rxapp import db
from rxapp.services import keys as key_service
from rxapp.services.last_used import LastUsedBuffer
from tests.harness import migrate, run_cli
from tests.unit.helpers import new_user, utc_now, verify_key


def _env(data_dir: Path, pepper: str, database: Path | None = None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(APIKEYS_DATA_DIR=str(data_dir), APIKEYS_PEPPER=pepper)
    if database is not None:
        env["DATABASE_URL"] = f"sqlite:///{database}"
    return env


def test_backup_under_load_restores_with_every_key_working(tmp_path: Path, app_settings, pepper: str) -> None:
    live = tmp_path / "live"
    live.mkdir()
    database = live / "console.db"
    migrate(_env(live, pepper, database))  # restore compares the backup with what migrations make
    engine = db.make_engine(f"sqlite:///{database}")
    with Session(engine, expire_on_commit=False) as session:
        owner = new_user(session, "owner@example.com")
        secrets_before = []
        for index in range(60):
            secrets_before.append(
                key_service.create_key(session, owner.access, owner.actor, f"k{index}").secret
            )
            session.commit()

    stop = threading.Event()
    verified = [0]
    written = [0]
    errors: list[BaseException] = []

    def verifier() -> None:
        buffer = LastUsedBuffer()
        try:
            while not stop.is_set():
                for secret in secrets_before[::7]:
                    with engine.connect() as connection:
                        outcome = verify_key(connection, secret, utc_now())
                    assert outcome.valid, outcome.code
                    buffer.record(outcome.key_row_id, utc_now())
                    verified[0] += 1
                written[0] += buffer.flush(engine)  # Last Used writes land while the copy runs
        except BaseException as error:
            errors.append(error)

    def creator() -> None:
        try:
            with Session(engine, expire_on_commit=False) as session:
                while not stop.is_set():
                    key_service.create_key(session, owner.access, owner.actor, "during-backup")
                    session.commit()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=verifier) for _ in range(2)] + [threading.Thread(target=creator)]
    for thread in threads:
        thread.start()
    try:
        while verified[0] < 20:  # load is running before the backup starts
            stop.wait(0.05)
        before = verified[0]
        backup_file = tmp_path / "backups" / "console-backup.db"
        result = run_cli(_env(live, pepper, database), "backup", str(backup_file))
        during = verified[0] - before
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    engine.dispose()
    assert not errors, errors
    assert result.returncode == 0, result.stderr
    assert "pepper is not in the backup" in result.stderr and Path(f"{backup_file}.sig").exists()
    assert during > 0 and written[0] > 0, "verifications and writes went on during the backup"
    assert backup_file.stat().st_mode & 0o077 == 0, "the backup holds key digests: owner-only"
    assert not Path(f"{backup_file}-wal").exists()
    assert pepper not in backup_file.read_bytes().decode("latin-1")

    fresh = tmp_path / "fresh"
    restored = run_cli(_env(fresh, pepper), "restore", str(backup_file))
    assert restored.returncode == 0, restored.stderr
    restored_db = fresh / "console.db"
    with sqlite3.connect(restored_db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    engine = db.make_engine(f"sqlite:///{restored_db}")
    try:
        with engine.connect() as connection:
            outcomes = [verify_key(connection, secret, utc_now()) for secret in secrets_before]
            assert all(outcome.valid for outcome in outcomes), [o.code for o in outcomes if not o.valid]
            used = connection.execute(
                sa.text("SELECT count(*) FROM api_keys WHERE last_used_at IS NOT NULL")
            ).scalar_one()
            assert used > 0
    finally:
        engine.dispose()

    # The restored database is now live: a second restore is refused unless forced.
    again = run_cli(_env(fresh, pepper), "restore", str(backup_file))
    assert again.returncode == 1 and "--force" in again.stderr
    forced = run_cli(_env(fresh, pepper), "restore", str(backup_file), "--force")
    assert forced.returncode == 0, forced.stderr
    # A backup never overwrites a file.
    overwrite = run_cli(_env(live, pepper, database), "backup", str(backup_file))
    assert overwrite.returncode == 1 and "already exists" in overwrite.stderr


def test_restore_refuses_a_file_that_is_not_a_backup(tmp_path: Path, app_settings, pepper: str) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("not a database")
    result = run_cli(_env(tmp_path / "fresh", pepper), "restore", str(bogus))
    assert result.returncode == 1 and "not a SQLite database" in result.stderr


def test_postgres_tools_get_the_password_in_the_environment(app_settings) -> None:
    from rxapp import backup_pg

    url, env = backup_pg.libpq("postgresql+psycopg://u:p@h:5/d")
    assert url == "postgresql://u@h:5/d" and env["PGPASSWORD"] == "p"
