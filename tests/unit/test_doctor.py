"""`python -m rxapp doctor`: one line per check with a verdict, non-zero exit on a failure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.harness import ROOT, run_cli
from tests.unit.backends import Backend


def _doctor(**env: str) -> subprocess.CompletedProcess:
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("APIKEYS_", "DATABASE_URL", "REDIS_URL"))
    }
    return run_cli({**base, **env}, "doctor")


def test_doctor_reports_every_check(tmp_path: Path) -> None:
    result = _doctor(APIKEYS_DATA_DIR=str(tmp_path), APIKEYS_PEPPER="p" * 40)
    verdicts = {line.split()[1]: line.split()[0] for line in result.stdout.splitlines()}
    assert set(verdicts) == {
        "pepper",
        "origins",
        "database",
        "migrations",
        "fingerprint",
        "redis",
        "data",
        "clock",
    }
    assert verdicts["pepper"] == "OK" and verdicts["database"] == "OK" and verdicts["clock"] == "OK"
    assert verdicts["migrations"] == "FAIL"  # an empty database is not at head
    assert result.returncode == 1


def test_doctor_fails_production_without_a_pepper(tmp_path: Path) -> None:
    result = _doctor(APIKEYS_DATA_DIR=str(tmp_path), APIKEYS_ENV="production")
    assert result.returncode == 1
    assert result.stdout.startswith("FAIL") and "APIKEYS_PEPPER" in result.stdout


def test_doctor_fails_an_unreachable_redis(tmp_path: Path) -> None:
    result = _doctor(
        APIKEYS_DATA_DIR=str(tmp_path), APIKEYS_PEPPER="p" * 40, REDIS_URL="redis://127.0.0.1:1/0"
    )
    assert any(line.startswith("FAIL  redis") for line in result.stdout.splitlines()), result.stdout


def test_doctor_flags_a_pepper_fingerprint_mismatch(backend: Backend) -> None:
    """A database whose keys were made with another pepper: every key would answer NOT_FOUND."""
    database = backend.migrated("doctor")
    made_with, configured = "m" * 40, "c" * 40
    assert database.cli(made_with, "expire-keys").returncode == 0  # records its pepper's fingerprint
    wrong = database.cli(configured, "doctor")
    lines = [line for line in wrong.stdout.splitlines() if line.split()[1] == "fingerprint"]
    assert len(lines) == 1 and lines[0].startswith("FAIL") and "another pepper" in lines[0], wrong.stdout
    assert wrong.returncode == 1
    right = database.cli(made_with, "doctor")
    assert any(line.startswith("OK    fingerprint") for line in right.stdout.splitlines()), right.stdout
    assert right.returncode == 0, right.stdout


def test_a_database_migrated_by_a_newer_release_is_a_warning_not_a_failure(backend: Backend) -> None:
    """A rolling upgrade: the next release migrated the database (expand only); this release,
    restarted meanwhile, runs beside it. scripts/run asks `database_is_ahead` and skips migrating."""
    database = backend.migrated("ahead")
    pepper = "a" * 40
    assert database.cli(pepper, "doctor").returncode == 0
    database.execute("UPDATE alembic_version SET version_num = 'f00dfeedf00d'")
    result = database.cli(pepper, "doctor")
    [line] = [line for line in result.stdout.splitlines() if line.split()[1] == "migrations"]
    assert line.startswith("WARN") and "f00dfeedf00d" in line and "newer release" in line, line
    assert result.returncode == 0, result.stdout
    probe = "import sys; from rxapp.doctor import database_is_ahead; sys.exit(not database_is_ahead())"
    ahead = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=database.env(pepper), capture_output=True, timeout=120
    )
    assert ahead.returncode == 0, ahead.stderr
    assert probe in (ROOT / "scripts" / "run").read_text()  # the very check scripts/run makes
    database.execute("DELETE FROM alembic_version")
    behind = database.cli(pepper, "doctor")
    assert any(line.startswith("FAIL  migrations") for line in behind.stdout.splitlines()), behind.stdout
