"""Helpers for the HTTP API tests: every test makes its own user and keys through the CLI."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx
import pytest

from tests.conftest import Console

T = TypeVar("T")


@pytest.fixture(scope="package", autouse=True)
def _server_log_stays_clean(console: Console):
    """After the API tests: whatever they sent, the console logged no Python traceback."""
    start = console.log_path.stat().st_size
    yield
    with open(console.log_path, errors="replace") as log:
        log.seek(start)
        written = log.read()
    assert "Traceback (most recent call last)" not in written, written[-4000:]


@dataclass(frozen=True)
class KeyRow:
    key_id: str
    name: str
    masked: str
    status: str
    last_used: str
    bias_profile: str
    expires: str


ALL_SCOPES = "keys:read,keys:write,profiles:read,profiles:write,usage:read,audit:read"


def management_token(console: Console, email: str, scopes: str = ALL_SCOPES, *extra: str) -> str:
    """A management token made with the CLI, as a CI job's operator would (only it on stdout)."""
    token = console.cli(
        "create-token", email, f"ci-{uuid.uuid4().hex[:6]}", "--scopes", scopes, *extra
    ).stdout
    assert token.count("\n") == 1 and token.startswith("bpm_")  # only the token on stdout
    return token.strip()


def list_keys(console: Console, email: str) -> list[KeyRow]:
    lines = console.cli("list-keys", email).stdout.splitlines()
    assert lines[0].split("\t")[0] == "KEY_ID"
    return [KeyRow(*line.split("\t")) for line in lines[1:] if line.strip()]


def key_row(console: Console, email: str, secret: str) -> KeyRow:
    """The listed row of a key, found by its masked form (prefix + last 4 of the secret)."""
    rows = [row for row in list_keys(console, email) if row.masked.endswith(secret[-4:])]
    assert len(rows) == 1, rows
    return rows[0]


def wait_for(probe: Callable[[], T | None], timeout: float, interval: float = 0.25, what: str = "") -> T:
    """Poll `probe` until it returns something truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or probe}")
        time.sleep(interval)


def utc_in(seconds: float) -> dt.datetime:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)).replace(microsecond=0)


def assert_no_traceback(response: httpx.Response) -> None:
    assert "Traceback" not in response.text
    assert 'File "' not in response.text


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    """The API's error shape: {"error": CODE, "message": text}, JSON, no stack trace."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"] == code
    assert isinstance(body["message"], str)
    assert body["message"]
    assert_no_traceback(response)


def assert_invalid(response: httpx.Response, code: str) -> None:
    """A verification that ran and said no: 200 {"valid": false, "code": CODE} and nothing else."""
    assert response.status_code == 200, (response.status_code, response.text)
    assert response.json() == {"valid": False, "code": code}
    assert_no_traceback(response)
