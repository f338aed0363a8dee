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
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from rxapp.context import app_context
from rxapp.db import make_engine
from tests.unit.helpers import verify_key

ROOT = Path(__file__).resolve().parents[2]
KILLS = 50


def _lines(path: Path) -> list[str]:
    """The secrets a worker showed: whole lines only (a kill may cut the last write short)."""
    if not path.exists():
        return []
    return [line for line in path.read_text().split("\n")[:-1] if line.strip()]


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
    zygote = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("crash_worker.py")), database_url],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )

    def ask(command: str) -> str:
        assert zygote.stdin is not None and zygote.stdout is not None
        zygote.stdin.write(command + "\n")
        zygote.stdin.flush()
        return zygote.stdout.readline().strip()

    try:
        for kill in range(KILLS):
            shown_path = tmp_path / f"shown-{kill}.txt"
            pid = int(ask(f"go {shown_path}").removeprefix("pid "))
            # wait for the first committed key (the first start signs up), then kill at a random point
            deadline = time.monotonic() + 30
            while not _lines(shown_path) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert _lines(shown_path), f"worker {kill} produced no key in 30 s"
            time.sleep(rng.uniform(0.0, 0.3))
            os.kill(pid, signal.SIGKILL)
            assert ask(f"reap {pid}") == f"reaped {pid}"
            shown.extend(_lines(shown_path))

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
        zygote.kill()
        zygote.wait(10)
        app_context.reset()
