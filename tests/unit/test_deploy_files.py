"""The deploy files and project metadata are valid: systemd unit, pyproject.toml, licence, locks."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

import rxapp

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "docs" / "deploy" / "apikeys-console.service"


def test_systemd_unit_verifies(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    env_file = tmp_path / "env"
    env_file.write_text("APIKEYS_PEPPER=x\n")
    unit = tmp_path / "apikeys-console.service"
    text = UNIT.read_text().replace("/opt/apikeys-console", str(ROOT))
    unit.write_text(text.replace("/etc/apikeys-console/env", str(env_file)))
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "apikeys-console.service" not in result.stderr, result.stderr  # no warning about our unit
    assert "ExecStart=/opt/apikeys-console/scripts/run --prod" in UNIT.read_text()


def test_pyproject_declares_the_project() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    meta = project["project"]
    assert meta["name"] == "api-key-console"
    assert meta["requires-python"] == ">=3.11"
    assert meta["license"] == "MIT"
    assert set(meta["dynamic"]) >= {"version", "dependencies"}
    dynamic = project["tool"]["setuptools"]["dynamic"]
    assert dynamic["version"] == {"attr": "rxapp.__version__"}
    assert dynamic["dependencies"] == {"file": ["requirements.in"]}
    assert re.fullmatch(r"\d+\.\d+\.\d+", rxapp.__version__)
    assert f"## {rxapp.__version__}" in (ROOT / "CHANGELOG.md").read_text()
    assert "MIT License" in (ROOT / "LICENSE").read_text()


def test_lock_files_pin_every_package_by_hash() -> None:
    for name in ("requirements.txt", "requirements-dev.txt"):
        text = (ROOT / name).read_text()
        pins = re.findall(r"^([A-Za-z0-9_.\-]+)==\S+ \\$", text, flags=re.MULTILINE)
        assert len(pins) > 30, name
        blocks = re.split(r"\n(?=[A-Za-z])", text.split("\n", 6)[-1])
        for block in blocks:
            if block.strip() and not block.startswith("#"):
                assert "--hash=sha256:" in block, block[:80]
        # psutil: nothing imports it; uvicorn: only the gateway test, so never in the runtime lock
        unused = {"psutil"} if name == "requirements-dev.txt" else {"uvicorn", "psutil"}
        assert not unused & {pin.lower() for pin in pins}, "unused packages are locked"
    runtime = (ROOT / "requirements.txt").read_text()
    for dev_only in ("pytest==", "playwright==", "ruff=="):
        assert dev_only not in runtime
    setup = (ROOT / "scripts" / "lib" / "setup.sh").read_text()
    assert "--require-hashes" in setup


def test_the_two_instance_site_is_the_one_instance_site_plus_failover() -> None:
    """Every directive of docs/deploy/nginx.conf is in nginx-two-instances.conf too, except its one
    upstream server and its log line; the two-instance site adds both servers and the failover."""
    deploy = ROOT / "docs" / "deploy"
    one = [line.strip() for line in (deploy / "nginx.conf").read_text().splitlines()]
    two_text = (deploy / "nginx-two-instances.conf").read_text()
    two = {line.strip() for line in two_text.splitlines()}
    directives = [line for line in one if line and not line.startswith("#")]
    assert [line for line in directives if line not in two] == [
        "server 127.0.0.1:3000;",
        "access_log /var/log/nginx/apikeys-console.access.log;",
    ]
    assert re.findall(r"^\s*server 127\.0\.0\.1:(\d+) max_fails=1 fail_timeout=\d+s;$", two_text, re.M) == [
        "3000",
        "3001",
    ]
    failover = re.search(r"^\s*proxy_next_upstream ([^;]+);$", two_text, re.M)
    assert failover is not None and "non_idempotent" not in failover.group(1)  # verify may spend credits
    log_format = re.search(r"^log_format apikeys_upstream ([^;]+);", two_text, re.M | re.S)
    assert log_format is not None and "$uri" in log_format.group(1)
    for leaky in ("$request ", '$request"', "$request_uri", "$args", "$query_string"):
        assert leaky not in log_format.group(1)  # never a query string (a pasted secret) in the log
