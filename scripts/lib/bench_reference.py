"""The ceiling `scripts/bench` measures against: a bare Starlette app with one no-op endpoint,
served by the same Granian (ASGI interface, one worker) the console runs on, pinned the same way.

Also the CPU pinning both use: the server on core 0, wrk on core 1, when there are two or more.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

ROOT = Path(__file__).resolve().parents[2]
SERVER_CORE, LOAD_CORE = 0, 1


async def _noop(_request: Request) -> JSONResponse:
    return JSONResponse({"valid": False, "code": "NOOP"})


app = Starlette(routes=[Route("/noop", _noop, methods=["GET", "POST"])])


# port -> process group of the server listening there, for `server_cpu_seconds`
SERVER_GROUPS: dict[int, int] = {}


def server_cpu_seconds(port: int) -> float | None:
    """CPU time (user + system) used so far by every process of the server on `port`.

    Per request, this is what a request costs the server, which a machine shared with other
    work barely changes, unlike wall-clock throughput (other processes steal time, not CPU time).
    """
    group = SERVER_GROUPS.get(port)
    if group is None:
        return None
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == group:  # pgrp
            ticks += int(fields[11]) + int(fields[12])  # utime + stime
    return ticks / os.sysconf("SC_CLK_TCK")


def pinned(command: list[str], core: int) -> list[str]:
    """`taskset -c core command` on a machine with two or more cores (and taskset), else unchanged."""
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", str(core), *command]
    return command


def pinning_note() -> str:
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return f"server pinned to core {SERVER_CORE}, wrk to core {LOAD_CORE} (taskset)"
    return "not pinned (one core or no taskset)"


class ReferenceServer:
    """`granian --interface asgi --workers 1 scripts.lib.bench_reference:app` in its own process group."""

    def __init__(self, log_path: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/noop"
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "granian", "--interface", "asgi", "--workers", "1"]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "scripts.lib.bench_reference:app"]
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                pinned(command, SERVER_CORE),
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        SERVER_GROUPS[self.port] = self.process.pid
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.post(self.url, timeout=2).status_code == 200:
                    return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"the bare reference did not start:\n{self.log_path.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process is None:
            return
        process, self.process = self.process, None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
