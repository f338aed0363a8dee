"""`scripts/run --prod` checks its configuration before installing or building anything, makes a
pepper when there is none, and says what is wrong in one line (no traceback)."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from rxapp import settings

ROOT = Path(__file__).resolve().parents[2]


def _run(tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APIKEYS_", "DATABASE_URL", "PORT"))}
    env.update({"APIKEYS_DATA_DIR": str(tmp_path / "data"), **extra})
    return subprocess.run(
        ["bash", "scripts/run", "--prod"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_bad_port_is_one_line_before_anything_is_installed(tmp_path: Path) -> None:
    result = _run(tmp_path, PORT="eighty")
    assert result.returncode == 2
    assert (
        result.stderr.strip().splitlines()[-1]
        == "error: PORT must be a number between 1 and 65535 (got 'eighty')."
    )
    assert not (tmp_path / "data").exists()  # nothing made, nothing installed


def test_missing_pepper_is_generated_private_and_announced(tmp_path: Path) -> None:
    # '*' stops the start at the configuration check, after the pepper step, before the build
    result = _run(tmp_path, APIKEYS_ALLOWED_ORIGINS="*")
    pepper = tmp_path / "data" / "pepper"
    assert pepper.exists() and len(pepper.read_text().strip()) >= 32
    assert stat.S_IMODE(pepper.stat().st_mode) == 0o600
    assert "back it up" in result.stderr
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: Refusing to start in production")
    assert "Traceback" not in result.stderr
    before = pepper.read_text()
    _run(tmp_path, APIKEYS_ALLOWED_ORIGINS="*")
    assert pepper.read_text() == before  # an existing pepper is never replaced


def test_short_explicit_pepper_is_one_line(tmp_path: Path) -> None:
    result = _run(tmp_path, APIKEYS_PEPPER="short")
    assert result.returncode == 2
    assert (
        result.stderr.strip().splitlines()[-1] == "error: APIKEYS_PEPPER must be at least 32 characters long."
    )


def test_production_reads_the_pepper_file_and_an_explicit_pepper_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APIKEYS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("APIKEYS_ENV", "production")
    monkeypatch.delenv("APIKEYS_PEPPER", raising=False)
    monkeypatch.delenv("APIKEYS_ALLOWED_ORIGINS", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(settings.InsecureConfigurationError, match="No pepper"):
        settings.load_settings()
    assert not (tmp_path / "pepper").exists()  # production never creates one silently
    (tmp_path / "pepper").write_text("f" * 40)
    assert settings.load_settings().pepper == b"f" * 40
    monkeypatch.setenv("APIKEYS_PEPPER", "e" * 40)
    assert settings.load_settings().pepper == b"e" * 40
