"""Simultaneous sign-ups against the production server (issue 21, item 1).

On an empty instance under the default policy (invite) only the first account may be made: the
"is the instance empty" check and the insert are one decision. The test boots a console of its own
(its own empty database; on PostgreSQL several workers, so the requests race across processes)
and fires the sign-ups from threads released by one barrier.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import BACKEND, PASSWORD, REDIS_URL, console_environment
from tests.harness import free_port, migrate, run_cli, start_console, stop_console

RACERS = 12


@dataclass(frozen=True)
class RaceConsole:
    base_url: str
    env: dict[str, str]
    engine: sa.Engine


@contextmanager
def _scratch_postgres(url: str) -> Iterator[str]:
    """A database of its own on the test server (the shared console owns `test`)."""
    name = f"race_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def race_console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RaceConsole]:
    data_dir: Path = tmp_path_factory.mktemp("race-console")
    port = free_port()
    env, database_url = console_environment(data_dir, port)
    env["APIKEYS_SIGNUP"] = "invite"  # the default policy, which the shared console does not run
    with ExitStack() as stack:
        if BACKEND == "postgres":
            database_url = stack.enter_context(_scratch_postgres(database_url))
            env["REDIS_URL"] = REDIS_URL.rsplit("/", 1)[0] + "/11"  # this console's own state
        env["DATABASE_URL"] = database_url
        migrate(env)
        process = start_console(env, port, data_dir / "console.log", backend_only=True)
        stack.callback(stop_console, process)
        engine = sa.create_engine(database_url)
        stack.callback(engine.dispose)
        yield RaceConsole(base_url=f"http://localhost:{port}", env=env, engine=engine)


def _race(console: RaceConsole, emails: list[str], invitation: str = "") -> list[str]:
    """POST every sign-up at once; each answer's error code ("" = signed up)."""
    barrier = threading.Barrier(len(emails))

    def one(email: str) -> str:
        data = {"email": email, "password": PASSWORD, "confirm_password": PASSWORD, "invitation": invitation}
        with httpx.Client(base_url=console.base_url, timeout=60) as client:
            barrier.wait()
            answer = client.post("/api/v1/auth/sign-up", data=data, headers={"Origin": console.base_url})
        assert answer.status_code == 303, answer.text
        error = parse_qs(urlsplit(answer.headers["location"]).query).get("error", [""])[0]
        assert (error == "") == ("apikeys_session=" in answer.headers.get("set-cookie", ""))
        return error

    with ThreadPoolExecutor(len(emails)) as pool:
        return list(pool.map(one, emails))


def _count(console: RaceConsole, query: str, **params: object) -> int:
    with console.engine.connect() as connection:
        return connection.execute(sa.text(query), params).scalar_one()


def test_simultaneous_sign_ups_on_an_empty_instance_make_one_account(race_console: RaceConsole) -> None:
    tag = uuid.uuid4().hex[:8]
    emails = [f"racer-{tag}-{n}@example.com" for n in range(RACERS)]
    assert _count(race_console, "SELECT count(*) FROM users") == 0
    errors = _race(race_console, emails)
    assert sorted(errors) == [""] + ["signup_invite_only"] * (RACERS - 1), errors
    assert _count(race_console, "SELECT count(*) FROM users") == 1
    assert _count(race_console, "SELECT count(*) FROM users WHERE is_admin") == 1
    assert _count(race_console, "SELECT count(*) FROM workspaces") == 1
    winner = emails[errors.index("")]

    # One invitation link, raced by as many strangers: it makes one account, which joins the team.
    created = run_cli(race_console.env, "create-workspace", winner, f"Team {tag}")
    assert created.returncode == 0, created.stderr
    invited = run_cli(race_console.env, "invite", winner, f"Team {tag}", "--role", "viewer")
    assert invited.returncode == 0, invited.stderr
    invitation = parse_qs(urlsplit(invited.stdout.strip()).query)["token"][0]
    guests = [f"guest-{tag}-{n}@example.com" for n in range(RACERS)]
    errors = _race(race_console, guests, invitation)
    assert errors.count("") == 1, errors
    assert _count(race_console, "SELECT count(*) FROM users") == 2
    assert (
        _count(
            race_console,
            "SELECT count(*) FROM memberships m JOIN workspaces w ON w.id = m.workspace_id "
            "WHERE w.name = :team AND m.role = 'viewer'",
            team=f"Team {tag}",
        )
        == 1
    )
