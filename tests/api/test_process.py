"""The production server process: where it listens, and that a killed worker comes back."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import Console


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _workers(console: Console) -> list[int]:
    """Leaf processes under the console: Granian's workers."""
    assert console.process is not None
    pending, leaves = [console.process.pid], []
    while pending:
        pid = pending.pop()
        children = _children(pid)
        if not children and pid != console.process.pid:
            leaves.append(pid)
        pending.extend(children)
    return leaves


def _external_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # UDP connect sends nothing; it picks the outgoing address
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address


def test_the_production_port_listens_on_loopback_only(console: Console) -> None:
    address = _external_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to try")
    port = urlsplit(console.base_url).port
    assert port is not None
    with pytest.raises(OSError), socket.create_connection((address, port), timeout=3):
        pass
    assert httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=10).status_code == 200


def test_a_killed_worker_is_respawned_and_verification_continues(console: Console) -> None:
    email = console.new_user()
    secret = console.create_key(email, "survives-kill")
    workers = _workers(console)
    assert workers, "no worker process found"
    outcomes: list[str] = []
    stop = threading.Event()

    def verify_loop() -> None:
        with httpx.Client(timeout=5) as client:
            while not stop.is_set():
                try:
                    response = client.post(
                        f"{console.base_url}/api/v1/verify", headers={"Authorization": f"Bearer {secret}"}
                    )
                    outcomes.append("valid" if response.json().get("valid") else "invalid")
                except (httpx.HTTPError, ValueError):
                    outcomes.append("error")
                time.sleep(0.02)

    thread = threading.Thread(target=verify_loop)
    thread.start()
    try:
        time.sleep(1)
        os.kill(workers[0], signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.5)
            if set(_workers(console)) - set(workers) and outcomes[-5:] == ["valid"] * 5:
                break
        time.sleep(1)
    finally:
        stop.set()
        thread.join()
    assert console.process is not None and console.process.poll() is None, "the server must keep running"
    assert set(_workers(console)) - {workers[0]}, "a new worker took the killed one's place"
    assert outcomes[-5:] == ["valid"] * 5, outcomes[-20:]
    assert "invalid" not in outcomes  # while it was down calls failed, but nothing was answered wrong
