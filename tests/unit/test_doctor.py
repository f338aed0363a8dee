"""`python -m rxapp doctor`: one line per check with a verdict, non-zero exit on a failure."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.harness import run_cli
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
