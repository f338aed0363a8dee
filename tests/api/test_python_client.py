"""The Python client (clients/python, `keyconsole`) against the real console: every field verify
answers, each kind of key, async, fail-closed when the console cannot be reached, retries on
connection errors only, and an offline `pip install` of the package itself.

The integrations (FastAPI, ASGI, Django, Flask) are in test_python_client_integrations.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from keyconsole import AsyncClient, BiasProfile, Client, ConsoleUnreachable, Verification
from keyconsole.client import verify_body
from rxapp.services.key_format import generate_secret
from tests.api.conftest import key_row, utc_in, wait_for
from tests.api.keyconsole_helpers import AsyncRecording, HangUp, Keys, Recording, Relay, make_keys
from tests.conftest import ROOT, Console
from tests.harness import free_port

# Fields of programmable keys (issue 24): None whenever the console's answer does not carry them.
PROGRAMMABLE_FIELDS = ("credits", "meta", "permissions", "identity", "ratelimits")


def _run(coroutine):
    """asyncio.run in its own thread: a full run has Playwright's event loop in this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture
def keys(console: Console) -> Keys:
    return make_keys(console)


def test_a_valid_key_answers_every_field_typed(console: Console) -> None:
    email = console.new_user()
    console.cli(
        "create-profile", email, "strict", "--categories", "gender,age", "--sensitivity", "0.7",
        "--action", "block", "--description", "Strict checks",
    )  # fmt: skip
    end = utc_in(3600)
    secret = console.create_key(email, "typed", "--profile", "strict", "--expires-at", end.isoformat())
    with Client(console.base_url) as client:
        verification = client.verify(secret)
    answered = console.verify(secret).json()

    # Every field the console answers is a typed field of Verification, and the raw answer is kept.
    assert set(answered) <= {field.name for field in dataclasses.fields(Verification)}
    assert verification.raw == answered
    assert verification.valid is True and verification.code is None
    assert verification.key_id == key_row(console, email, secret).key_id
    assert verification.status == "ACTIVE"
    assert verification.expires_at == end  # an aware UTC datetime
    assert verification.workspace_id == answered["workspace_id"]
    assert verification.workspace_id.startswith("ws_")
    assert verification.workspace_name == "Personal"
    profile = verification.bias_profile
    assert isinstance(profile, BiasProfile)
    assert (profile.name, profile.description, profile.action) == ("strict", "Strict checks", "block")
    assert sorted(profile.categories) == ["age", "gender"]
    assert profile.sensitivity == pytest.approx(0.7)
    assert profile.id == answered["bias_profile"]["id"]
    assert verification.retry_after is None and verification.unverified is False
    for name in PROGRAMMABLE_FIELDS:
        if name not in answered:
            assert getattr(verification, name) is None, name


def test_invalid_keys_say_why(console: Console, keys: Keys) -> None:
    with Client(console.base_url) as client:
        unknown = client.verify(generate_secret("bpk"))
        malformed = client.verify("bpk_not-a-key")
        inactive = client.verify(keys.inactive)
        missing = client.verify("   ")
        first, limited = client.verify(keys.limited), client.verify(keys.limited)
    assert (unknown.valid, unknown.code) == (False, "NOT_FOUND")
    assert (malformed.valid, malformed.code) == (False, "MALFORMED")
    assert (inactive.valid, inactive.code) == (False, "INACTIVE")
    assert (missing.valid, missing.code) == (False, "MISSING_KEY")
    assert first.valid is True
    assert (limited.valid, limited.code) == (False, "RATE_LIMITED")
    assert isinstance(limited.retry_after, int) and 0 < limited.retry_after <= 60
    for refused in (unknown, malformed, inactive, limited):
        assert refused.key_id is None and refused.bias_profile is None


def test_an_expired_key_is_expired(console: Console) -> None:
    email = console.new_user()
    end = utc_in(3)
    secret = console.create_key(email, "short-lived", "--expires-at", end.isoformat())
    wait_for(lambda: dt.datetime.now(dt.UTC) > end + dt.timedelta(milliseconds=200), 30, what="the end")
    with Client(console.base_url) as client:
        expired = client.verify(secret)
    assert (expired.valid, expired.code) == (False, "EXPIRED")


def test_the_async_client_answers_the_same(console: Console, keys: Keys) -> None:
    async def scenario() -> list[Verification]:
        async with AsyncClient(console.base_url) as client:
            unknown = generate_secret("bpk")
            answers = client.verify(keys.valid), client.verify(keys.inactive), client.verify(unknown)
            return list(await asyncio.gather(*answers))

    valid, inactive, unknown = _run(scenario())
    assert valid.valid is True and valid.key_id == key_row(console, keys.email, keys.valid).key_id
    assert valid.workspace_name == "Personal"
    assert (inactive.valid, inactive.code) == (False, "INACTIVE")
    assert (unknown.valid, unknown.code) == (False, "NOT_FOUND")


def test_options_are_sent_only_when_set(console: Console, keys: Keys) -> None:
    transport = Recording()
    with Client(console.base_url, transport=transport) as client:
        plain = client.verify(keys.valid)
        defaults = client.verify(keys.valid, permissions=None, cost=1, ratelimits=None)
        free = client.verify(keys.valid, cost=0)
        asked = client.verify(keys.valid, permissions="documents.read")
    bodies = [request.content for request in transport.requests]
    assert bodies[:2] == [b"", b""]  # exactly the request today's console knows: no body at all
    assert "content-type" not in transport.requests[0].headers
    assert transport.requests[0].headers["authorization"] == f"Bearer {keys.valid}"
    assert json.loads(bodies[2]) == {"cost": 0}
    assert json.loads(bodies[3]) == {"permissions": "documents.read"}
    assert plain.valid and defaults.valid and free.valid
    # A permission query is never taken as passed unless the console answered the permissions: a
    # console without them ignores the query, and the client refuses (fail closed).
    assert asked.valid is False
    assert asked.code in {"PERMISSIONS_NOT_CHECKED", "INSUFFICIENT_PERMISSIONS"}
    assert verify_body(None, 1, ["burst", {"name": "tokens", "cost": 5}]) == {
        "ratelimits": [{"name": "burst"}, {"name": "tokens", "cost": 5}]
    }


def test_an_unreachable_console_fails_closed_by_default() -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    transport = Recording()
    client = Client(closed, retries=2, backoff=0.01, transport=transport)
    with client, pytest.raises(ConsoleUnreachable):
        client.verify(generate_secret("bpk"))
    assert len(transport.requests) == 3  # the first try and two retries: no connection was made

    with Client(closed, retries=0, on_unreachable="deny") as client:
        denied = client.verify(generate_secret("bpk"))
    assert (denied.valid, denied.code, denied.unverified) == (False, "UNREACHABLE", False)

    with Client(closed, retries=0, on_unreachable="allow") as client:
        allowed = client.verify(generate_secret("bpk"))
    assert (allowed.valid, allowed.code, allowed.unverified) == (True, "UNREACHABLE", True)
    assert allowed.key_id is None

    async_transport = AsyncRecording()

    async def unreachable_async() -> None:
        async with AsyncClient(closed, retries=1, backoff=0.01, transport=async_transport) as client:
            with pytest.raises(ConsoleUnreachable):
                await client.verify(generate_secret("bpk"))

    _run(unreachable_async())
    assert len(async_transport.requests) == 2
    with pytest.raises(ValueError):
        Client(closed, on_unreachable="open")  # type: ignore[arg-type]


def test_a_connection_error_is_retried_until_the_console_answers(console: Console, keys: Keys) -> None:
    port = free_port()
    relay = Relay(port, console.base_url)
    transport = Recording(on_connect_error=relay.start)  # the relay opens after the first refusal
    try:
        with Client(f"http://127.0.0.1:{port}", retries=2, backoff=0.01, transport=transport) as client:
            verification = client.verify(keys.valid)
    finally:
        relay.close()
    assert len(transport.requests) == 2
    assert verification.valid is True
    assert verification.key_id == key_row(console, keys.email, keys.valid).key_id


def test_a_request_that_reached_a_server_is_never_sent_again(console: Console, keys: Keys) -> None:
    hang_up = HangUp()
    try:
        client = Client(f"http://127.0.0.1:{hang_up.port}", retries=3, backoff=0.01)
        with client, pytest.raises(ConsoleUnreachable):
            client.verify(keys.valid)
    finally:
        hang_up.close()
    assert hang_up.connections == 1

    # An HTTP answer that is not a verdict (here: the console's page for an unknown path) is no
    # verdict: not retried, and fail closed.
    transport = Recording()
    client = Client(f"{console.base_url}/not-the-api", retries=3, transport=transport)
    with client, pytest.raises(ConsoleUnreachable):
        client.verify(keys.valid)
    assert len(transport.requests) == 1

    # The console's own refusals are verdicts, answered once.
    transport = Recording()
    with Client(console.base_url, retries=3, transport=transport) as client:
        assert client.verify(keys.limited).valid is True
        assert client.verify(keys.limited).code == "RATE_LIMITED"
    assert len(transport.requests) == 2


def test_pip_installs_the_package_offline_and_it_works(console: Console, keys: Keys, tmp_path: Path) -> None:
    target = tmp_path / "site"
    install = subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
            "--disable-pip-version-check", "--target", str(target), str(ROOT / "clients" / "python"),
        ],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert install.returncode == 0, install.stdout + install.stderr
    assert (target / "keyconsole" / "py.typed").exists()
    probe = (
        "import json, sys, keyconsole\n"
        "from keyconsole import Client\n"
        "frameworks = sorted({'fastapi', 'starlette', 'django', 'flask'} & set(sys.modules))\n"
        "v = Client(sys.argv[1]).verify(sys.argv[2])\n"
        "print(json.dumps([keyconsole.__file__, frameworks, v.valid, v.key_id]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    result = subprocess.run(
        [sys.executable, "-c", probe, console.base_url, keys.valid],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    location, frameworks, valid, key_id = json.loads(result.stdout)
    assert Path(location).is_relative_to(target)  # the installed copy, not the repository's
    assert frameworks == []  # importing keyconsole imports no web framework
    assert valid is True and key_id == key_row(console, keys.email, keys.valid).key_id
