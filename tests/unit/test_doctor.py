"""`python -m rxapp doctor`: one line per check with a verdict, non-zero exit on a failure."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.harness import run_cli


def _doctor(**env: str) -> subprocess.CompletedProcess:
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("APIKEYS_", "DATABASE_URL", "REDIS_URL"))
    }
    return run_cli({**base, **env}, "doctor")


def test_doctor_reports_every_check(tmp_path: Path) -> None:
    result = _doctor(APIKEYS_DATA_DIR=str(tmp_path), APIKEYS_PEPPER="p" * 40)
    verdicts = {line.split()[1]: line.split()[0] for line in result.stdout.splitlines()}
    assert set(verdicts) == {"pepper", "origins", "database", "migrations", "redis", "data", "clock"}
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
