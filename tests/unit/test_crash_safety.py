"""Crash safety: kill -9 a process in the middle of key creations and edits, 50 times.

After every kill the SQLite file passes `PRAGMA integrity_check`, and every key whose secret
reached the client (was printed after its commit) still verifies.
"""

from __future__ import annotations

import os
import random
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from rxapp.context import app_context
from rxapp.db import make_engine
from tests.unit.helpers import verify_key

ROOT = Path(__file__).resolve().parents[2]
KILLS = 50


def _collect(worker: subprocess.Popen, lines: list[str]) -> None:
    lines.extend(iter(worker.stdout.readline, ""))


@pytest.mark.slow
def test_kill_minus_nine_loses_nothing_that_was_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pepper = secrets.token_urlsafe(40)
    monkeypatch.setenv("APIKEYS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("APIKEYS_PEPPER", pepper)
    app_context.reset()
    database_url = f"sqlite:///{tmp_path / 'crash.db'}"
    env = {**os.environ, "APIKEYS_DATA_DIR": str(tmp_path), "APIKEYS_PEPPER": pepper, "PYTHONPATH": str(ROOT)}
    shown: list[str] = []
    rng = random.Random(1234)
    try:
        for _ in range(KILLS):
            worker = subprocess.Popen(
                [sys.executable, str(Path(__file__).with_name("crash_worker.py")), database_url],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            lines: list[str] = []
            reader = threading.Thread(target=_collect, args=(worker, lines), daemon=True)
            reader.start()
            # wait for the first committed key (start-up takes a moment), then kill at a random point
            deadline = time.monotonic() + 30
            while not lines and time.monotonic() < deadline and worker.poll() is None:
                time.sleep(0.01)
            assert lines, (
                f"worker produced no key: {worker.stderr.read() if worker.poll() is not None else ''}"
            )
            time.sleep(rng.uniform(0.0, 0.3))
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
            reader.join(5)
            shown.extend(line.strip() for line in lines if line.strip())

            engine = make_engine(database_url)
            with engine.connect() as connection:
                assert connection.execute(sa.text("PRAGMA integrity_check")).scalar() == "ok"
            engine.dispose()

        engine = make_engine(database_url)
        with engine.connect() as connection:
            failures = [s for s in shown if not verify_key(connection, s).valid]
        engine.dispose()
        assert len(shown) >= KILLS
        assert failures == [], f"{len(failures)} of {len(shown)} shown keys were lost"
    finally:
        app_context.reset()
