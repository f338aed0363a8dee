"""Console instances for tests/e2e/test_two_instances.py: started on the suite's database, Redis and
pepper, killed by process group, and read through their REST API, /metrics and nginx's log."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx
import sqlalchemy as sa

from tests.conftest import METRICS_TOKEN, Console, console_environment
from tests.harness import free_port, serve_built_console
from tests.nginx_site import Proxy

V = TypeVar("V")


@dataclass
class Instance:
    name: str
    port: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen | None = None
    logs: list[Path] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def upstream(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def verify(self, secret: str) -> httpx.Response:
        return httpx.post(
            f"{self.url}/api/v1/verify", headers={"Authorization": f"Bearer {secret}"}, timeout=10
        )

    def expiry_runs(self) -> tuple[float, float]:
        """This instance's expiry job runs (all its workers), ok and failed, from its /metrics."""
        text = httpx.get(
            f"{self.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10
        ).text
        found = dict(re.findall(r'^apikeys_expiry_job_runs_total\{result="(\w+)"\} (\S+)$', text, re.M))
        return float(found.get("ok", 0)), float(found.get("error", 0))


@dataclass
class Deployment:
    console: Console  # the shared database, Redis and pepper, and the CLI
    instances: dict[str, Instance]
    folder: Path
    proxy: Proxy | None = None

    def start(self, name: str) -> None:
        instance = self.instances[name]
        assert not instance.alive
        log_path = self.folder / f"{name}-{len(instance.logs)}.log"
        instance.logs.append(log_path)
        instance.log_path = log_path
        instance.process = serve_built_console(instance.env, instance.port, log_path)

    def kill(self, name: str) -> float:
        """SIGKILL to the instance's whole process group (launcher, Granian and its workers)."""
        instance = self.instances[name]
        assert instance.process is not None and instance.alive
        os.killpg(instance.process.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        instance.process.wait(10)
        return killed_at

    def running(self, *names: str) -> None:
        for name in names:
            if not self.instances[name].alive:
                self.start(name)

    @property
    def nginx(self) -> Proxy:
        assert self.proxy is not None
        return self.proxy

    def access_log(self) -> list[str]:
        return (self.nginx.folder / "access.log").read_text(errors="replace").splitlines()


def new_instance(console: Console, folder: Path, name: str, workers: str) -> Instance:
    port = free_port()
    env, database_url = console_environment(folder / f"data-{name}", port)
    assert database_url == console.database_url  # one PostgreSQL for every instance
    env["APIKEYS_PEPPER"] = console.env["APIKEYS_PEPPER"]  # one pepper, or no key verifies across them
    env["GRANIAN_WORKERS"] = workers
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # each instance sums its own workers' metrics
    return Instance(name, port, env, folder / f"{name}-0.log")


def api(instance: Instance, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{instance.url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def execute(console: Console, sql: str, **params: object) -> None:
    """A write behind the API's back, committed (Console.rows only reads)."""
    engine = sa.create_engine(console.database_url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(sql), params)
    finally:
        engine.dispose()


def wait_until(probe: Callable[[], V], timeout: float, what: str) -> V:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.2)
