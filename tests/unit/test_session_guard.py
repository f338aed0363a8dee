"""SessionGuard's judgement of one event, on stand-in states (the browser tests cover it end to end).

The case here is a race seen in CI: a page's socket closed (a reload, a full navigation) while one
of its events still waited on the server. Judged with no cookie, that event reset the tab as
"signed out" and its sign-in redirect went, by client token, to the tab's next page."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from reflex.app import EventNamespace
from reflex.state import StateUpdate
from reflex_base import constants
from reflex_base.event.context import EventContext

from rxapp import session_guard
from rxapp.pages.keys.create import CreateKeyState
from rxapp.state import AuthState
from tests.unit.helpers import run_async


class _Root:
    """The root state as SessionGuard reads it: the event's socket id, and the substates."""

    def __init__(self, socket_id: str, auth: Any) -> None:
        self.router_data = {constants.RouteVar.SESSION_ID: socket_id}
        self.auth = auth
        self.reset_states: list[type] = []

    def _get_root_state(self) -> _Root:
        return self

    async def get_state(self, cls: type) -> Any:
        if cls is AuthState:
            return self.auth
        return SimpleNamespace(reset=lambda: self.reset_states.append(cls))


def _signed_in_tab() -> SimpleNamespace:
    """A tab whose state was built for user 7 (the cookie decides whether it still is theirs)."""
    tab = SimpleNamespace(
        _user_id=7, _workspace_id=3, signed_in=True, user_email="a@example.com", workspace="", role="owner"
    )
    tab.reset = lambda: setattr(tab, "was_reset", True)
    return tab


def _judge(root: _Root) -> StateUpdate | None:
    return run_async(session_guard.SessionGuard(AuthState).preprocess(None, root, None))


def test_an_event_whose_socket_has_closed_is_dropped_unjudged() -> None:
    tab = _signed_in_tab()
    root = _Root("socket-that-closed", tab)
    update = _judge(root)
    assert isinstance(update, StateUpdate) and not update.delta and not update.events  # nothing is sent
    assert tab.signed_in is True and not hasattr(tab, "was_reset") and root.reset_states == []


def test_a_live_socket_without_a_session_cookie_is_signed_out_and_its_tab_forgotten(monkeypatch) -> None:
    monkeypatch.setitem(session_guard._socket_sessions, "live-socket", "")  # connected, no cookie
    tab = _signed_in_tab()
    root = _Root("live-socket", tab)
    assert _judge(root) is None  # the handler runs, signed out
    assert tab.signed_in is False and tab.user_email == "" and tab._user_id == 0
    assert getattr(tab, "was_reset", False)
    assert CreateKeyState in root.reset_states  # every user-owned substate too (the reveal, say)


def _in_event_of(token: str, socket_id: str) -> Any:
    """Handle the rest of the test as if inside an event `socket_id` sent for tab `token`."""
    context = EventContext(
        token=token,
        state_manager=None,  # type: ignore[arg-type]  # not read by the judgement
        enqueue_impl=None,  # type: ignore[arg-type]
        router_data={constants.RouteVar.SESSION_ID: socket_id},
    )
    return EventContext.set(context)


def test_an_answer_whose_socket_closed_during_the_event_is_not_sent(monkeypatch) -> None:
    """Seen in CI: a keys page's refresh was being judged (its socket still open) when Sign out's
    page load closed that socket; the sign-in redirect it earned went, by token, to the new page,
    which then said "Your session has ended" instead of "You have been signed out"."""
    monkeypatch.setitem(session_guard._socket_sessions, "live-socket", "digest")
    reset = _in_event_of("tab-token", "socket-that-closed")
    try:
        assert session_guard.answers_a_closed_socket("tab-token")
        # the patched send returns before Reflex's would look the token up (self is never read)
        run_async(EventNamespace.emit_update(None, StateUpdate(events=[]), "tab-token"))  # type: ignore[arg-type]
        assert not session_guard.answers_a_closed_socket("another-tab")  # not this event's tab
    finally:
        EventContext.reset(reset)
    reset = _in_event_of("tab-token", "live-socket")
    try:
        assert not session_guard.answers_a_closed_socket("tab-token")
    finally:
        EventContext.reset(reset)
    assert not session_guard.answers_a_closed_socket("tab-token")  # outside any event: sent as is
