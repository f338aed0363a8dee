"""A plain key against the release before programmable keys (issue 24: "a key with none of these
costs what it costs today, within 5 %").

The code of BASELINE_COMMIT (the last commit before programmable keys landed) is unpacked from git
into the run's folder and served as an API-only console next to this checkout's, both on SQLite,
both pinned to the server core, seeded alike (one key with a Bias Profile, no credits, limits or
permissions). Valid-key verify at 16 connections in alternating rounds, so the machine's drift
cancels out. The baseline runs on this checkout's virtualenv: the releases since only added
packages (`git diff BASELINE_COMMIT -- requirements.txt`).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from scripts.lib.bench_common import (
    EMAIL,
    PASSWORD,
    PROFILE,
    PROFILE_OPTIONS,
    ROOT,
    Mode,
    Results,
    Server,
    api_console,
    say,
)
from scripts.lib.bench_http import LUA_TEMPLATE, alternate, load_scripts

BASELINE_COMMIT = "4e5c6e7"  # CHANGELOG: the team console's first part; programmable keys follow it
ROUNDS = {True: (2, 1), False: (6, 2)}  # quick/full: (rounds, seconds per run)
CONCURRENCY = 16


class BaselineConsole:
    """The baseline's own code, run from its own folder: its migrations, its CLI, its server (the
    CLI runs in a process of its own there: tests/cli_fork.py forks this checkout's)."""

    def __init__(self, work_dir: Path) -> None:
        code_dir = work_dir / "code"
        code_dir.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", BASELINE_COMMIT], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(code_dir)], input=archive, check=True)
        # the environment of this checkout's consoles (data folder, pepper, production, one worker)
        self.server = Server(work_dir, backend_only=True, code_dir=code_dir)

    def _cli(self, *args: str, input_text: str | None = None) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "rxapp", *args],
            cwd=self.server.code_dir,
            env=self.server.env,
            input=input_text,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"baseline {args[0]} failed:\n{result.stdout[-1500:]}\n{result.stderr[-1500:]}"
            )
        return result.stdout

    def seed(self) -> str:
        self.server.migrate()
        self._cli("create-user", EMAIL, input_text=PASSWORD + "\n")
        self._cli("create-profile", EMAIL, PROFILE, *PROFILE_OPTIONS)
        secret = self._cli("create-key", EMAIL, "bench-valid", "--profile", PROFILE).strip()
        if not secret.startswith("bpk_"):
            raise RuntimeError(f"baseline create-key printed {secret[:40]!r}")
        return secret


def bench_baseline(mode: Mode, results: Results, work_dir: Path) -> None:
    say(f"Plain key: this checkout against {BASELINE_COMMIT} (before programmable keys), API only")
    baseline = BaselineConsole(work_dir / "plain-baseline")
    current: Server | None = None
    try:
        current, keys = api_console(work_dir / "plain-current")
        scripts, urls = load_scripts(current, keys, ("valid",), work_dir, suffix="-plain-current")
        secret = baseline.seed()
        baseline.server.start()
        scripts["baseline"] = work_dir / "valid-plain-baseline.lua"
        scripts["baseline"].write_text(LUA_TEMPLATE.format(secret=secret, method="POST"))
        urls["baseline"] = f"{baseline.server.base_url}/api/v1/verify"
        scripts["current"], urls["current"] = scripts.pop("valid"), urls.pop("valid")
        for name, url in urls.items():  # a fast wrong answer is not a result
            used = keys.valid if name == "current" else secret
            body = httpx.post(url, headers={"Authorization": f"Bearer {used}"}, timeout=10).json()
            if body.get("valid") is not True or (body.get("bias_profile") or {}).get("name") != PROFILE:
                raise RuntimeError(f"plain key on the {name} console: unexpected answer {body}")
        rounds, seconds = ROUNDS[mode.quick]
        medians = alternate(urls, scripts, CONCURRENCY, rounds, seconds)
        results.baseline = {**medians, "commit": BASELINE_COMMIT}
    finally:
        if current is not None:
            current.stop()
        baseline.server.stop()


def baseline_target(results: Results) -> list[dict[str, str]]:
    current, baseline = results.baseline.get("current"), results.baseline.get("baseline")
    if not current or not baseline or not baseline["rps"]:
        return []
    ratio = current["rps"] / baseline["rps"]
    cpu_ratio = (
        baseline["cpu_us_per_request"] / current["cpu_us_per_request"]
        if current["cpu_us_per_request"]
        else 0.0
    )
    return [
        {
            "target": f"SQLite, 16 connections: a plain key (no credits, limits or permissions) verifies "
            f"≥ 95 % as fast as before programmable keys ({results.baseline['commit']})",
            "measured": (
                f"{ratio:.0%} by throughput ({current['rps']:,.0f} vs {baseline['rps']:,.0f} req/s); "
                f"{cpu_ratio:.0%} by server CPU per request ({current['cpu_us_per_request']:.0f} vs "
                f"{baseline['cpu_us_per_request']:.0f} µs)"
            ),
            "verdict": "pass" if ratio >= 0.95 else "MISS",
        }
    ]
