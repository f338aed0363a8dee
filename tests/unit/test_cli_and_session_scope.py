"""The CLI path commits a new key before printing its secret; session_scope is one transaction."""

from __future__ import annotations

import builtins
import io
import sys

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from rxapp import __main__ as cli
from rxapp import db
from rxapp.context import app_context, get_settings
from rxapp.models import ApiKey, AuditEvent
from rxapp.services import key_format
from rxapp.services import keys as key_service
from tests.unit.helpers import PASSWORD, new_user, verify_key


@pytest.fixture
def cli_database(engine, tmp_path, monkeypatch):
    """Point the app's own engine (used by the CLI) at the test database file."""
    url = f"sqlite:///{tmp_path}/t.db"
    monkeypatch.setenv("DATABASE_URL", url)
    app_context.reset()
    db.get_engine.cache_clear()
    yield url
    db.get_engine().dispose()
    db.get_engine.cache_clear()


def _run(*argv: str, stdin: str = "", monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return cli.main(list(argv))


def test_cli_create_key_commits_before_printing_the_secret(cli_database, monkeypatch, capsys) -> None:
    assert _run("create-user", "ops@example.com", stdin=PASSWORD + "\n", monkeypatch=monkeypatch) == 0
    assert (
        _run(
            "create-profile",
            "ops@example.com",
            "Strict",
            "--categories",
            "age,gender",
            monkeypatch=monkeypatch,
        )
        == 0
    )
    checks: list[bool] = []
    observer = sa.create_engine(cli_database)  # a separate connection sees only committed data

    def spying_print(*args, **kwargs) -> None:
        text = " ".join(str(arg) for arg in args)
        if kwargs.get("file") is None and key_format.is_well_formed(text, "bpk"):
            digest = key_format.digest(text, get_settings().pepper)
            with observer.connect() as connection:
                found = connection.execute(sa.select(ApiKey.key_id).where(ApiKey.digest == digest)).first()
            checks.append(found is not None)
        builtins.print(*args, **kwargs)

    monkeypatch.setattr(cli, "print", spying_print, raising=False)
    try:
        code = _run(
            "create-key",
            "ops@example.com",
            "deploy bot",
            "--profile",
            "strict",
            "--expires-at",
            "2999-01-01T00:00:00",
            monkeypatch=monkeypatch,
        )
    finally:
        observer.dispose()
    assert code == 0
    assert checks == [True]
    out = capsys.readouterr()
    secret = out.out.strip()
    assert key_format.is_well_formed(secret, "bpk")
    assert secret not in out.err
    with db.get_engine().connect() as connection:
        outcome = verify_key(connection, secret)
    assert outcome.valid
    assert outcome.bias_profile is not None and outcome.bias_profile["name"] == "Strict"
    assert outcome.expires_at is not None and outcome.expires_at.year == 2999


def test_cli_status_delete_and_errors(cli_database, monkeypatch, capsys) -> None:
    _run("create-user", "ops@example.com", stdin=PASSWORD + "\n", monkeypatch=monkeypatch)
    _run("create-key", "ops@example.com", "svc", monkeypatch=monkeypatch)
    secret = capsys.readouterr().out.strip()
    with Session(db.get_engine()) as session:
        key_id = session.exec(select(ApiKey.key_id)).one()

    assert _run("set-key-status", "ops@example.com", key_id, "INACTIVE", monkeypatch=monkeypatch) == 0
    with db.get_engine().connect() as connection:
        assert verify_key(connection, secret).code == "INACTIVE"
    assert _run("list-keys", "ops@example.com", monkeypatch=monkeypatch) == 0
    listing = capsys.readouterr().out
    assert key_id in listing and "INACTIVE" in listing and secret not in listing

    assert _run("delete-key", "ops@example.com", key_id, monkeypatch=monkeypatch) == 0
    with db.get_engine().connect() as connection:
        assert verify_key(connection, secret).code == "NOT_FOUND"
    capsys.readouterr()
    assert _run("delete-key", "ops@example.com", key_id, monkeypatch=monkeypatch) == 1
    assert "not found" in capsys.readouterr().err.lower()
    assert _run("create-key", "nobody@example.com", "svc", monkeypatch=monkeypatch) == 1
    assert (
        _run("create-key", "ops@example.com", "svc", "--expires-at", "2000-01-01", monkeypatch=monkeypatch)
        == 1
    )
    assert _run("create-key", "ops@example.com", "svc", "--expires-at", "soon", monkeypatch=monkeypatch) == 1
    assert _run("create-user", "weak@example.com", stdin="password1\n", monkeypatch=monkeypatch) == 1
    with Session(db.get_engine()) as session:
        assert session.exec(select(ApiKey)).all() == []


def test_cli_expire_keys(cli_database, monkeypatch, capsys) -> None:
    assert _run("expire-keys", monkeypatch=monkeypatch) == 0
    assert "0 key(s) marked EXPIRED" in capsys.readouterr().out


def test_session_scope_commits_on_success(engine) -> None:
    with db.session_scope(engine) as session:
        person = new_user(session, "scope@example.com")
        created = key_service.create_key(session, person.access, person.actor, "svc")
    with engine.connect() as connection:
        assert verify_key(connection, created.secret).valid


def test_session_scope_rolls_back_on_error(engine) -> None:
    with db.session_scope(engine) as session:
        person = new_user(session, "scope@example.com")
    with pytest.raises(RuntimeError), db.session_scope(engine) as session:
        created = key_service.create_key(session, person.access, person.actor, "svc")
        raise RuntimeError("boom after create")
    with engine.connect() as connection:
        assert verify_key(connection, created.secret).code == "NOT_FOUND"
    with Session(engine) as session:
        assert session.exec(select(AuditEvent).where(AuditEvent.action == "key.create")).all() == []
