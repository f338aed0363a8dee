"""The production start is quiet (issue 22, item 10): no deprecation warning and no progress counter
past its total ("Compiling: 35/34") in what `scripts/run --prod` and tests/harness.py print.

Where they came from: Reflex 0.10.1 deprecates submitting a form control by its `id`; the key
dialogs' date fields had no `name` (now they do). Reflex's compile bar counts one step short; the
bar's total is corrected for that version only (rxapp/compile_progress.py).

A second full production build from this checkout would overwrite the running test console's
frontend (one checkout, one build), so the compile is checked with `reflex compile --dry` (the
same compile, with the same progress bar, writing no build), the server with a backend-only
production start, and the test console's own log as the session has written it so far.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import Console, console_environment
from tests.harness import ROOT, free_port, migrate, start_console, stop_console

COUNTER = re.compile(r"(?<![\w/.:-])(\d+)/(\d+)(?![\w/.:-])")  # "35/34", not a path or an address
WARNINGS = re.compile(r"DeprecationWarning|PendingDeprecationWarning|deprecated", re.IGNORECASE)


def _text_log_environment(data_dir: Path) -> dict[str, str]:
    """The console's environment as `scripts/run --prod` has it: plain text logs (the progress bars
    only show there), on a SQLite file of its own."""
    port = free_port()
    env, _ = console_environment(data_dir, port)
    for name in ("APIKEYS_LOG_FORMAT", "REFLEX_LOG_JSON", "REDIS_URL"):
        env.pop(name, None)
    env["DATABASE_URL"] = f"sqlite:///{data_dir / 'quiet.db'}"
    env["GRANIAN_WORKERS"] = "1"
    env["PORT"] = str(port)
    return env


def _overcounted(text: str) -> list[str]:
    return [match.group(0) for match in COUNTER.finditer(text) if int(match.group(1)) > int(match.group(2))]


def test_the_overcount_check_finds_what_it_looks_for() -> None:
    assert _overcounted("Compiling: ━━━━ 100% 35/34 0:00:04") == ["35/34"]
    assert (
        _overcounted("Compiling: 34/34\nCreating Production Build: 4/4\nhttp://127.0.0.1:3000/api/v1/9") == []
    )


def test_the_production_compile_counts_to_its_total_and_warns_of_nothing(tmp_path: Path) -> None:
    env = _text_log_environment(tmp_path)
    result = subprocess.run(
        ["reflex", "compile", "--dry"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    counters = [match.group(0) for match in COUNTER.finditer(output)]
    assert any(line.startswith("Compiling:") for line in output.splitlines()), output[-3000:]
    assert counters, output[-3000:]  # the bar was drawn: there was something to check
    assert _overcounted(output) == [], output[-3000:]
    assert not WARNINGS.search(output), output[-3000:]


def test_a_production_start_logs_no_deprecation(tmp_path: Path) -> None:
    env = _text_log_environment(tmp_path)
    migrate(env)
    log_path = tmp_path / "console.log"
    process = start_console(env, int(env["PORT"]), log_path, backend_only=True)
    try:
        health = httpx.get(f"http://127.0.0.1:{env['PORT']}/api/v1/health", timeout=10)
        assert health.status_code == 200
    finally:
        stop_console(process)
    text = log_path.read_text(errors="replace")
    assert not WARNINGS.search(text), text[-3000:]
    assert _overcounted(text) == [], text[-3000:]


def test_the_test_consoles_own_log_holds_no_deprecation(console: Console) -> None:
    """As tests/harness.py starts it (JSON logs): no Reflex deprecation record, no Python warning."""
    httpx.get(f"{console.base_url}/sign-in", timeout=30)
    records = []
    for line in console.log_path.read_text(errors="replace").splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            assert not WARNINGS.search(line), line  # a raw line (a Python warning) is checked too
    deprecations = [
        record
        for record in records
        if isinstance(record, dict)
        and (
            "deprecation" in str(record.get("logger", "")) or WARNINGS.search(str(record.get("message", "")))
        )
    ]
    assert deprecations == [], deprecations[:3]


@pytest.mark.parametrize("line", ["Progress: 36/35", "Compiling: 100% 9/8"])
def test_a_counter_past_its_total_is_caught(line: str) -> None:
    assert _overcounted(line)
