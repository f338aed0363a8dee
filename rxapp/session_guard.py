"""One gate in front of every websocket event: whose tab is this, and may it see what it holds?

Reflex keys a tab's state by a client token that travels in the websocket URL (and so in proxy
logs). That token must never be enough. Two things make sure of it:

1. **The cookie never enters Reflex.** When a socket connects, its `Cookie` header is removed from
   the router data Reflex keeps (and would store with the state and print in its logs). Only the
   SHA-256 digest of our session cookie is kept, in this process's memory, keyed by the socket id.
   The digest is what the session table stores, so it signs nobody in.
2. **Every event is authorised before any state is sent**, hydration included. `SessionGuard` is a
   Reflex middleware: before the handler runs it resolves the socket's session, and if the user is
   not the one the tab's state was built for (signed out, expired, revoked, another account, or no
   cookie at all) it resets every user-owned substate first. Handlers read the result through
   `signed_in_user()`, so the check exists once. An event whose socket has closed meanwhile is
   dropped unanswered: it has no cookie left to judge, and its answer would reach the tab's next page.
   The same holds when the socket closes while the event is being handled: Reflex sends answers
   by client token, which the tab's next page reuses, so an answer whose socket has gone is not
   sent (the state it changed is kept; the next page reads it when it hydrates).
"""

from __future__ import annotations

import asyncio
import contextvars
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any

from reflex.app import EventNamespace
from reflex.middleware import Middleware
from reflex.state import StateUpdate
from reflex_base import constants
from reflex_base.event.context import EventContext

from rxapp import routes
from rxapp.db import session_scope
from rxapp.services import users as user_service
from rxapp.services import workspaces as workspace_service
from rxapp.services.access import Access
from rxapp.services.errors import NotFoundError

if TYPE_CHECKING:
    from reflex.state import BaseState

# Socket id -> digest of that socket's session cookie. Per worker: a socket lives on one worker.
_socket_sessions: dict[str, str] = {}
# The user resolved for the event being processed (set by SessionGuard, read by the handlers).
_event_user: contextvars.ContextVar[Caller | None] = contextvars.ContextVar("event_user", default=None)
_CREDENTIAL_HEADERS = ("cookie", "authorization", "proxy-authorization", "x-api-key")


def session_cookie_digest(cookie_header: str) -> str:
    cookies = SimpleCookie()
    try:
        cookies.load(cookie_header or "")
    except Exception:
        return ""
    morsel = cookies.get(routes.SESSION_COOKIE)
    token = morsel.value if morsel else ""
    return user_service.token_digest(token) if token and len(token) <= 128 else ""


def answers_a_closed_socket(token: str) -> bool:
    """True when the event being handled for `token` came from a socket that has closed since.

    Its answer (a sign-in redirect, say) would otherwise go to whatever page holds the token now:
    the same tab's next page, after a sign-out or a full navigation. Updates sent outside an event
    of that tab (another instance's relay, no event at all) are not judged here."""
    try:
        context = EventContext.get()
    except LookupError:
        return False
    if context.token != token:
        return False
    socket_id = (context.router_data or {}).get(constants.RouteVar.SESSION_ID, "")
    return bool(socket_id) and socket_id not in _socket_sessions


def _install_socket_hooks() -> None:
    """Strip credentials from what Reflex keeps about a socket; remember only the session digest."""
    if getattr(EventNamespace, "_apikeys_guarded", False):
        return
    build_original = EventNamespace._build_static_router_data
    disconnect_original = EventNamespace.on_disconnect
    emit_original = EventNamespace.emit_update

    def build_static_router_data(self: EventNamespace, sid: str, environ: dict) -> dict[str, Any]:
        data = build_original(self, sid, environ)
        headers = dict(data.get(constants.RouteVar.HEADERS, {}))
        _socket_sessions[sid] = session_cookie_digest(headers.get("cookie", ""))
        for name in _CREDENTIAL_HEADERS:
            headers.pop(name, None)
        data[constants.RouteVar.HEADERS] = headers
        return data

    def on_disconnect(self: EventNamespace, sid: str):
        _socket_sessions.pop(sid, None)
        return disconnect_original(self, sid)

    async def emit_update(self: EventNamespace, update: StateUpdate, token: str) -> None:
        if answers_a_closed_socket(token):
            return
        await emit_original(self, update, token)

    # Patching Reflex's socket handler class on purpose: it has no hook for the router data, and
    # its middleware's postprocess is never called in 0.10.1, so the send is the one place left.
    EventNamespace._build_static_router_data = build_static_router_data  # type: ignore[method-assign]
    EventNamespace.on_disconnect = on_disconnect  # type: ignore[method-assign]
    EventNamespace.emit_update = emit_update  # type: ignore[method-assign]
    EventNamespace._apikeys_guarded = True


@dataclass(frozen=True)
class Caller:
    """Who sent this event and their access to the tab's workspace, resolved for THIS event from
    the session and membership tables (a removed member or disabled user is refused at once)."""

    id: int
    email: str
    is_admin: bool
    access: Access
    # The digest of this browser's session (what the session table stores): re-authentication
    # (services/reauth.py) reads and updates that session's `authenticated_at`.
    session_digest: str = ""


def _resolve(digest: str, *wanted: str) -> Caller | None:
    """The session's user and their access to the first of `wanted` they are a member of (the
    address's workspace, then the tab's stored one), else to their personal workspace."""
    with session_scope() as session:
        user = user_service.resolve_session_digest(session, digest)
        if user is None:
            return None
        access = None
        for workspace in wanted:
            if not workspace:
                continue
            try:
                access = workspace_service.resolve(session, user.id, workspace)
                break
            except NotFoundError:  # not (or no longer) a member: try the next, then personal
                continue
        if access is None:
            access = workspace_service.resolve(session, user.id)
        return Caller(
            id=user.id, email=user.email, is_admin=user.is_admin, access=access, session_digest=digest
        )


def _address_workspace(root: Any) -> str:
    """The workspace the event's page address names (`/w/<public id>/...`), or ""."""
    data = getattr(root, "router_data", None) or {}
    return routes.workspace_in_path(str(data.get(constants.RouteVar.ORIGIN, "") or ""))


_event_session_ended: contextvars.ContextVar[bool] = contextvars.ContextVar("session_ended", default=False)


def session_ended() -> bool:
    """True when this tab was signed in and its session has ended since (elsewhere, or expired)."""
    return _event_session_ended.get()


def signed_in_user() -> Caller | None:
    """The user (and workspace access) SessionGuard resolved for the event being handled."""
    return _event_user.get()


def _user_owned_states(auth_state: type[BaseState]) -> list[type[BaseState]]:
    found: list[type[BaseState]] = []
    pending: list[type[BaseState]] = [auth_state]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.get_substates())
    return found


class SessionGuard(Middleware):
    """Authorise each event against the socket's cookie before the handler (or hydration) runs.

    `auth_state` is the app's AuthState (rxapp/state.py): the state that records whose tab this is,
    and the root of every user-owned substate. It is handed in, not imported, because rxapp.state
    itself reads `signed_in_user()` from here.
    """

    def __init__(self, auth_state: type[BaseState]) -> None:
        self.auth_state = auth_state

    async def preprocess(self, app: Any, state: BaseState, event: Any) -> StateUpdate | None:
        root = state._get_root_state()
        socket_id = root.router_data.get(constants.RouteVar.SESSION_ID, "")
        if socket_id not in _socket_sessions:
            # The socket that sent this event has closed (a reload or a full navigation) while the
            # event waited behind others: nobody is there for the answer, and the socket's cookie
            # left with it. Judged as "signed out", it would reset the tab and send the sign-in
            # redirect by client token, to the SAME tab's new page, bouncing it through sign-in.
            return StateUpdate()
        digest = _socket_sessions[socket_id]
        # AuthState, handed in (importing it here would be a cycle): its fields are read by name
        auth: Any = await root.get_state(self.auth_state)
        # A crafted hydration can store any JSON value there; only a string names a workspace.
        wanted = auth.workspace if isinstance(auth.workspace, str) else ""
        # The page's address wins over the stored choice: a shared /w/<id>/... link opens that
        # workspace for a member; for anyone else the page reads as not found (workspace_missing).
        in_address = _address_workspace(root)
        user = await asyncio.to_thread(_resolve, digest, in_address, wanted) if digest else None
        _event_user.set(user)
        owner = user.id if user else 0
        workspace_id = user.access.workspace_id if user else 0
        _event_session_ended.set(user is None and (auth._user_id != 0 or auth.signed_in))
        if auth._user_id != owner or auth._workspace_id != workspace_id or (owner == 0 and auth.signed_in):
            # Built for someone else, another workspace (or one the user has just lost), or for a
            # session that ended: forget all of it first.
            states = _user_owned_states(self.auth_state)
            kept: dict[type[BaseState], dict[str, Any]] = {}
            if owner != 0 and auth._user_id == owner:  # same user, another workspace
                for cls in states:
                    if getattr(cls, "per_user_not_per_workspace", False):  # e.g. their workspace list
                        substate = await root.get_state(cls)
                        kept[cls] = {name: getattr(substate, name) for name in cls.base_vars}
            for cls in states:
                (await root.get_state(cls)).reset()
            for cls, values in kept.items():
                substate = await root.get_state(cls)
                for name, value in values.items():
                    setattr(substate, name, value)
            auth._user_id = owner
            auth._workspace_id = workspace_id
        missing = user is not None and bool(in_address) and user.access.workspace_public_id != in_address
        # The tab's stored choice: the address's workspace once opened, else the stored one,
        # corrected when it is not (or no longer) allowed.
        chosen = bool(wanted) or (bool(in_address) and not missing)
        allowed = user.access.workspace_public_id if (user is not None and chosen) else ""
        # While a page loads (its on_load events), written again even when unchanged: the browser
        # does not store what the hydration's own deltas carry, so an address's workspace set
        # then would be forgotten by the next page without a workspace in its address.
        loading = not getattr(root, "is_hydrated", True)
        if auth.workspace != allowed or (loading and allowed):
            auth.workspace = allowed
        if getattr(auth, "workspace_missing", False) != missing:
            auth.workspace_missing = missing
        # Only pages of a workspace (their address names it) are gated; Account stays open.
        needed = user is not None and bool(in_address) and not missing and user.access.needs_two_factor
        if getattr(auth, "two_factor_needed", False) != needed:
            auth.two_factor_needed = needed
        if user is not None:
            role = user.access.role
            if auth.role != role:
                auth.role = role
            if auth.workspace_name != user.access.workspace_name:
                auth.workspace_name = user.access.workspace_name
            if auth.current_workspace != user.access.workspace_public_id:
                auth.current_workspace = user.access.workspace_public_id
            if auth.is_admin != user.is_admin:
                auth.is_admin = user.is_admin
        email = user.email if user else ""
        if auth.signed_in != (user is not None):
            auth.signed_in = user is not None
        if auth.user_email != email:
            auth.user_email = email
        return None


_install_socket_hooks()
