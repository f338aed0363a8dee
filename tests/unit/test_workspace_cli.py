"""The operator CLI's account and workspace commands, and --workspace on the key commands."""

from __future__ import annotations

import io
import sys

import pytest

from rxapp import __main__ as cli
from rxapp import db
from rxapp.services import users as user_service
from rxapp.services import workspaces as workspace_service
from tests.unit.helpers import PASSWORD
from tests.unit.test_cli_and_session_scope import cli_database  # noqa: F401  (fixture)

NEW_PASSWORD = "another-long-password-77"


def _run(monkeypatch: pytest.MonkeyPatch, *argv: str, stdin: str = "") -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return cli.main(list(argv))


def test_account_commands(cli_database, monkeypatch, capsys) -> None:  # noqa: F811
    assert _run(monkeypatch, "create-user", "ops@example.com", "--admin", stdin=PASSWORD + "\n") == 0
    assert _run(monkeypatch, "create-user", "dev@example.com", stdin=PASSWORD + "\n") == 0
    assert "instance admin" in capsys.readouterr().err
    assert _run(monkeypatch, "reset-password", "dev@example.com", stdin=NEW_PASSWORD + "\n") == 0
    with db.session_scope() as session:
        assert user_service.authenticate(session, "dev@example.com", NEW_PASSWORD) is not None
        token = user_service.start_session(session, user_service.find_user(session, "dev@example.com").id)
    assert _run(monkeypatch, "disable-user", "dev@example.com") == 0
    with db.session_scope() as session:
        assert user_service.resolve_session(session, token) is None
        assert user_service.authenticate(session, "dev@example.com", NEW_PASSWORD) is None
    assert _run(monkeypatch, "enable-user", "dev@example.com") == 0
    with db.session_scope() as session:
        assert user_service.authenticate(session, "dev@example.com", NEW_PASSWORD) is not None
    capsys.readouterr()
    assert _run(monkeypatch, "disable-user", "nobody@example.com") == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("error: ")
    assert _run(monkeypatch, "reset-password", "dev@example.com", stdin="short\n") == 1


def test_workspace_commands_and_the_workspace_option(cli_database, monkeypatch, capsys) -> None:  # noqa: F811
    for email in ("owner@example.com", "viewer@example.com"):
        assert _run(monkeypatch, "create-user", email, stdin=PASSWORD + "\n") == 0
    assert _run(monkeypatch, "create-workspace", "owner@example.com", "Checkout") == 0
    public_id = capsys.readouterr().out.strip()
    assert public_id.startswith("ws_")
    assert (
        _run(
            monkeypatch,
            "invite",
            "owner@example.com",
            "Checkout",
            "--role",
            "viewer",
            "--base-url",
            "https://console.example",
        )
        == 0
    )
    link = capsys.readouterr().out.strip()
    assert link.startswith("https://console.example/invite?token=inv_")
    token = link.split("token=", 1)[1]
    with db.session_scope() as session:
        viewer = user_service.find_user(session, "viewer@example.com")
        workspace_service.accept_invitation(session, viewer.id, token)
    # keys go to the named workspace; without --workspace, to the personal one
    assert _run(monkeypatch, "create-key", "owner@example.com", "shared", "--workspace", "Checkout") == 0
    assert _run(monkeypatch, "create-key", "owner@example.com", "mine") == 0
    capsys.readouterr()
    assert _run(monkeypatch, "list-keys", "viewer@example.com", "--workspace", "Checkout") == 0
    names = [line.split("\t")[1] for line in capsys.readouterr().out.splitlines()[1:]]
    assert names == ["shared"]
    # a viewer cannot create, and a non-member cannot even see the workspace: stderr, exit 1
    assert _run(monkeypatch, "create-key", "viewer@example.com", "nope", "--workspace", "Checkout") == 1
    assert "read-only" in capsys.readouterr().err
    assert _run(monkeypatch, "invite", "viewer@example.com", "Checkout") == 1
    assert "owner" in capsys.readouterr().err
    assert _run(monkeypatch, "create-user", "stranger@example.com", stdin=PASSWORD + "\n") == 0
    capsys.readouterr()
    assert _run(monkeypatch, "list-keys", "stranger@example.com", "--workspace", "Checkout") == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "Workspace not found" in captured.err


def test_sso_unlink_forgets_the_providers_person(cli_database, monkeypatch, capsys) -> None:  # noqa: F811
    from rxapp.models import SsoLink

    assert _run(monkeypatch, "create-user", "sso@example.com", stdin=PASSWORD + "\n") == 0
    with db.session_scope() as session:
        user = user_service.find_user(session, "sso@example.com")
        session.add(SsoLink(user_id=user.id, issuer="https://id.example.com", subject="person-a"))
    capsys.readouterr()
    assert _run(monkeypatch, "sso-unlink", "sso@example.com") == 0
    assert "unbound" in capsys.readouterr().err
    with db.session_scope() as session:
        assert session.query(SsoLink).count() == 0
    assert _run(monkeypatch, "sso-unlink", "sso@example.com") == 0
    assert "bound to no one" in capsys.readouterr().err
    assert _run(monkeypatch, "sso-unlink", "nobody@example.com") == 1
