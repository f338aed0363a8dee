"""Issue 22 item 2: the workspace in the address. The routes helpers that build and read
`/w/<workspace>/...` links, the old-link forwarding, the switcher's destination, sign-in's `next=`
(new paths accepted, open redirects still refused), and the service that finds an old key link's
workspace for a member only."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from reflex_base import constants
from sqlmodel import Session

from rxapp import routes, session_guard
from rxapp.services.access import Access
from rxapp.state import AuthState
from tests.unit.helpers import new_user, run_async

WS = "ws_abcdefghijklmnop"


def test_links_carry_the_workspace() -> None:
    assert routes.in_workspace(WS, routes.KEYS) == f"/w/{WS}/keys"
    assert routes.in_workspace(WS, routes.PROFILES) == f"/w/{WS}/profiles"
    assert routes.key_detail(WS, "key_abc") == f"/w/{WS}/keys/key_abc"
    assert routes.joined_keys(WS) == f"/w/{WS}/keys?joined={WS}"
    assert routes.W_KEY_DETAIL == "/w/[workspace_id]/keys/[key_id]"
    assert routes.W_MEMBERS == "/w/[workspace_id]/members"


def test_links_built_from_state_vars_are_vars() -> None:
    import reflex as rx

    href = routes.key_detail(rx.Var.create("ws_x"), rx.Var.create("key_y"))
    assert isinstance(href, rx.Var)
    assert "/w/" in str(href) and "/keys/" in str(href)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (f"/w/{WS}/keys", (WS, "/keys")),
        (f"/w/{WS}/keys/key_abc", (WS, "/keys/key_abc")),
        (f"/w/{WS}/tokens", (WS, "/tokens")),
        (f"/w/{WS}/account", ("", f"/w/{WS}/account")),  # Account is not per workspace
        (f"/w/{WS}", ("", f"/w/{WS}")),
        ("/w/../keys", ("", "/w/../keys")),
        ("/w/ws%2F/keys", ("", "/w/ws%2F/keys")),
        ("/keys", ("", "/keys")),
    ],
)
def test_reading_the_workspace_from_an_address(path: str, expected: tuple[str, str]) -> None:
    assert routes.split_workspace_path(path) == expected


def test_the_workspace_in_an_address_ignores_the_query() -> None:
    assert routes.workspace_in_path(f"/w/{WS}/activity?key=key_x#top") == WS
    assert routes.workspace_in_path("/activity?w=ws_x") == ""
    assert routes.workspace_in_path("") == ""


def test_old_links_go_to_the_same_page_in_a_workspace() -> None:
    assert routes.from_legacy("/keys", "", WS) == f"/w/{WS}/keys"
    assert routes.from_legacy("/keys/", "page=2", WS) == f"/w/{WS}/keys?page=2"
    assert routes.from_legacy("/keys/key_abc", "", WS) == f"/w/{WS}/keys/key_abc"
    assert routes.from_legacy("/activity", "key=key_abc", WS) == f"/w/{WS}/activity?key=key_abc"
    assert routes.from_legacy("/members", "", WS) == f"/w/{WS}/members"
    assert routes.from_legacy("/elsewhere", "", WS) == f"/w/{WS}/keys"
    assert routes.legacy_key_id("/keys/key_abc") == "key_abc"
    assert routes.legacy_key_id("/keys/key_abc/") == "key_abc"
    for no_key in ("/keys", "/keys/", "/profiles/x", "/keys/a b", "/keys/" + "k" * 41):
        assert routes.legacy_key_id(no_key) == "", no_key
    assert set(routes.LEGACY_ROUTES) == {
        "/keys",
        "/keys/[key_id]",
        "/profiles",
        "/activity",
        "/members",
        "/tokens",
        "/webhooks",
    }


def test_the_switcher_keeps_the_page() -> None:
    other = "ws_qrstuvwxyz234567"
    assert routes.same_page_in(f"/w/{WS}/profiles", other) == f"/w/{other}/profiles"
    assert routes.same_page_in(f"/w/{WS}/members", other) == f"/w/{other}/members"
    # a key belongs to the workspace being left: its list in the chosen one
    assert routes.same_page_in(f"/w/{WS}/keys/key_abc", other) == f"/w/{other}/keys"
    assert routes.same_page_in("/account", other) == "/account"  # not per workspace: stays
    assert routes.same_page_in("/admin", other) == "/admin"
    assert routes.same_page_in("", other) == f"/w/{other}/keys"
    assert routes.same_page_in("/sign-in", other) == f"/w/{other}/keys"


def test_sign_in_returns_to_workspace_pages_and_refuses_open_redirects() -> None:
    for good in [
        f"/w/{WS}/keys",
        f"/w/{WS}/keys/key_abc",
        f"/w/{WS}/activity?key=key_abc",
        f"/w/{WS}/members",
        f"/w/{WS}/tokens",
        "/keys",
        "/keys/key_abc",
        "/account",
    ]:
        assert routes.safe_next(good) == good, good
    for bad in [
        "/w/",
        f"/w/{WS}",
        f"/w/{WS}/",
        f"/w/{WS}/account",  # Account has no workspace address
        f"/w/{WS}/sign-in",
        "/w//evil.example/keys",
        "/w/evil.example/keys",  # a dot is never part of a workspace id
        "/w/%2F%2Fevil.example/keys",
        f"/w/{WS}/keys/../../..//evil.example",
        "/keys/../..//evil.example",
        "/keys/./x",
        f"//w/{WS}/keys",
        f"/w/{WS}\\keys",
        f"https://evil.example/w/{WS}/keys",
        f"/w/{WS}/keys\r\nLocation: //evil.example",
        f"/w/{'x' * 33}/keys",
    ]:
        assert routes.safe_next(bad) == "", bad
    assert routes.sign_in_for(f"/w/{WS}/keys/key_abc") == f"/sign-in?next=%2Fw%2F{WS}%2Fkeys%2Fkey_abc"


def test_an_old_key_link_finds_the_keys_workspace_for_members_only(session: Session) -> None:
    from rxapp.services import keys as key_service
    from rxapp.services import links
    from rxapp.services import workspaces as workspace_service

    owner, mate, stranger = new_user(session), new_user(session), new_user(session)
    created = workspace_service.create_workspace(session, owner.id, owner.actor, "Links team")
    team = workspace_service.resolve(session, owner.id, created.public_id)
    key_id = key_service.create_key(session, team, owner.actor, "shared").key.key_id
    token, _ = workspace_service.create_invitation(session, team, "member")
    workspace_service.accept_invitation(session, mate.id, token)
    session.commit()

    assert links.workspace_of_key(session, owner.id, key_id) == created.public_id
    assert links.workspace_of_key(session, mate.id, key_id) == created.public_id
    # not a member, or no such key: the same empty answer
    assert links.workspace_of_key(session, stranger.id, key_id) == ""
    assert links.workspace_of_key(session, stranger.id, "key_doesnotexist0000") == ""
    assert links.workspace_of_key(session, owner.id, "") == ""
    assert links.member_workspace(session, mate.id, created.public_id) == created.public_id
    assert links.member_workspace(session, stranger.id, created.public_id) == ""
    assert links.member_workspace(session, stranger.id, "ws_nosuchworkspace00") == ""


class _Root:
    """The root state as SessionGuard reads it: the socket, the page's address, and AuthState."""

    def __init__(self, address: str, auth: Any) -> None:
        self.router_data = {constants.RouteVar.SESSION_ID: "links-socket", constants.RouteVar.ORIGIN: address}
        self.auth = auth

    def _get_root_state(self) -> _Root:
        return self

    async def get_state(self, cls: type) -> Any:
        if cls is AuthState:
            return self.auth
        return SimpleNamespace(reset=lambda: None, **dict.fromkeys(cls.base_vars))


def _tab(stored: str) -> SimpleNamespace:
    tab = SimpleNamespace(
        _user_id=7,
        _workspace_id=1,
        signed_in=True,
        user_email="a@example.com",
        workspace=stored,
        workspace_name="Personal",
        current_workspace="ws_personal",
        role="owner",
        is_admin=False,
        workspace_missing=False,
    )
    tab.reset = lambda: None
    return tab


MEMBER_OF = {"ws_personal": 1, "ws_team": 2}  # user 7's workspaces -> row ids


def _fake_resolve(digest: str, *wanted: str) -> session_guard.Caller:
    """_resolve's rule over MEMBER_OF: the first wanted workspace the user is in, else personal."""
    public_id = next((w for w in wanted if w in MEMBER_OF), "ws_personal")
    access = Access(7, "a@example.com", MEMBER_OF[public_id], public_id, public_id, "owner")
    return session_guard.Caller(id=7, email="a@example.com", is_admin=False, access=access)


@pytest.fixture()
def judge(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(session_guard._socket_sessions, "links-socket", "digest")
    monkeypatch.setattr(session_guard, "_resolve", _fake_resolve)

    def run(address: str, stored: str) -> SimpleNamespace:
        tab = _tab(stored)
        assert (
            run_async(session_guard.SessionGuard(AuthState).preprocess(None, _Root(address, tab), None))
            is None
        )
        return tab

    return run


def test_the_address_workspace_wins_and_becomes_the_tabs(judge) -> None:
    tab = judge("/w/ws_team/keys/key_abc", "")
    assert tab.current_workspace == "ws_team" and tab.workspace == "ws_team" and not tab.workspace_missing
    tab = judge("/w/ws_team/profiles?x=1", "ws_personal")
    assert tab.current_workspace == "ws_team" and tab.workspace == "ws_team"


def test_an_address_naming_a_workspace_one_may_not_see_reads_as_missing(judge) -> None:
    for address in ("/w/ws_foreign/keys/key_abc", "/w/ws_nosuchthing/members"):
        tab = judge(address, "ws_team")
        # the tab stays in its stored workspace, and the page says "not found"
        assert tab.current_workspace == "ws_team" and tab.workspace == "ws_team" and tab.workspace_missing
        tab = judge(address, "")
        assert tab.current_workspace == "ws_personal" and tab.workspace == "" and tab.workspace_missing


def test_an_address_without_a_workspace_uses_the_stored_one(judge) -> None:
    tab = judge("/account", "ws_team")
    assert tab.current_workspace == "ws_team" and not tab.workspace_missing
    tab = judge("/keys", "")
    assert tab.current_workspace == "ws_personal" and tab.workspace == "" and not tab.workspace_missing
