"""The shared base state: who is signed in, as decided for this event by `SessionGuard`.

`rxapp.session_guard` resolves the connection's HttpOnly session cookie against the session table
before every event (hydration included) and resets the tab's user-owned state when the session
does not belong to the user the state was built for. A copied Reflex client token alone gets an
empty, signed-out page.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import AsyncIterator, Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

import reflex as rx
from sqlmodel import Session

from rxapp import routes
from rxapp.db import session_scope
from rxapp.services import audit
from rxapp.services.access import TWO_FACTOR_REQUIRED
from rxapp.services.errors import NotFoundError, ServiceError
from rxapp.session_guard import Caller, session_ended, signed_in_user

Params = ParamSpec("Params")
Result = TypeVar("Result")


def _record_denied(
    user_id: int, actor: str, error: NotFoundError, client_address: str, workspace_id: int | None
) -> None:
    with session_scope() as session:
        audit.record_denied(
            session,
            user_id=user_id,
            workspace_id=workspace_id,
            actor=actor,
            target_type=error.target_type,
            target_id=error.target_id,
            client_address=client_address,
        )


class Refusal:
    """THE way a page handler shows a service's refusal in its form (instead of an error toast):

        with Refusal(self) as refused:
            created = await self.in_session(service.create_thing, ...)
        if refused:
            return focus_element(CONTROLS[refused.field]) if refused.field in CONTROLS else None

    A ServiceError raised in the block ends the block (nothing after the failing line runs) and is
    kept here instead of reaching the guard: its machine-readable `code` and `field`, which the
    page maps (never the message text), and its `message`. The message also lands in the state's
    `message_var` ("" leaves the state alone) and the field in `field_var` when the state has that
    var. Falsy until something was refused.

    A block rather than a call wrapper, because what the handler hands the service can be refused
    too (a typed end date, a change set); a plain class rather than an AuthState method, because
    Reflex makes every public state method a handler the browser can call.
    """

    def __init__(self, state: Any, message_var: str = "error", field_var: str = "error_field") -> None:
        self._state, self._message_var, self._field_var = state, message_var, field_var
        self.code = self.field = self.message = ""

    def __bool__(self) -> bool:
        return bool(self.code)

    def __enter__(self) -> Refusal:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, _trace: Any) -> bool:
        if not isinstance(error, ServiceError):
            return False
        self.code, self.field, self.message = error.code, error.field, error.message
        if self._message_var:  # "": the caller shows it its own way
            setattr(self._state, self._message_var, error.message)
            if self._field_var in self._state.base_vars:
                setattr(self._state, self._field_var, error.field)
        return True


class AuthState(rx.State):
    user_email: str = ""
    signed_in: bool = False
    _user_id: int = 0
    # The tab's workspace (public id), kept in the browser so it survives a reload and a new tab
    # starts there; SessionGuard checks the membership on every event and falls back to the
    # personal workspace. A page's address (/w/<id>/...) wins over it and, for a member, sets it.
    # Not synced to open tabs: each tab's address says which workspace it shows.
    workspace: str = rx.LocalStorage("", name="apikeys_workspace")
    workspace_name: str = ""
    current_workspace: str = ""  # the public id SessionGuard resolved for this tab
    # The page's address names a workspace this user may not see (none such, or not a member):
    # the page reads as not found, the same for both (set by SessionGuard on every event).
    workspace_missing: bool = False
    # The address's workspace requires two factors and this person has none yet: its pages show
    # how to set one up instead (set by SessionGuard on every event; components/layout.py).
    two_factor_needed: bool = False
    role: str = ""
    is_admin: bool = False
    _workspace_id: int = 0

    @rx.var
    def can_write(self) -> bool:
        """Members and owners create, edit and delete; viewers do not see those buttons."""
        return self.role in ("owner", "member")

    @rx.var
    def can_manage(self) -> bool:
        return self.role == "owner"

    def client_address(self) -> str:
        return self.router.session.client_ip or ""

    async def current_user(self) -> Caller | None:
        """The user behind this event's connection, or None (SessionGuard has reset the tab)."""
        return signed_in_user()

    async def in_session(
        self,
        function: Callable[Concatenate[Session, Params], Result],
        *args: Params.args,
        **kwargs: Params.kwargs,
    ) -> Result:
        """Run one service call as one unit of work (its own transaction), off the event loop.

        Typed: `function`'s own parameters (after the session) are checked against `args`/`kwargs`.
        A NotFoundError naming a target is audited as denied access, then re-raised.
        """

        def work() -> Result:
            with session_scope() as session:
                return function(session, *args, **kwargs)

        try:
            return await asyncio.to_thread(work)
        except NotFoundError as error:
            if error.target_type and self._user_id:
                await asyncio.to_thread(
                    _record_denied,
                    self._user_id,
                    self.user_email,
                    error,
                    self.client_address(),
                    self._workspace_id or None,
                )
            raise

    @rx.event
    async def redirect_home(self):
        user = await self.current_user()
        if user is None:
            return rx.redirect(routes.SIGN_IN)
        return rx.redirect(routes.in_workspace(user.access.workspace_public_id, routes.KEYS))


def _to_sign_in(state: AuthState) -> Any:
    """Off to sign in, with the page asked for (checked by routes.safe_next) and, when this tab's
    session ended elsewhere, a fixed code that makes the sign-in page say so."""
    router = getattr(state, "router", None)
    url = router.url if router is not None else None
    here = (url.path + (f"?{url.query}" if url.query else "")) if url is not None else ""
    return rx.redirect(routes.sign_in_for(here, ended=session_ended()))


def _refusal_toast(state: AuthState, error: ServiceError) -> Any:
    """The error toast for a refusal the handler left uncaught; none for the two-factor policy's
    refusal while the page already says so in its place (the page's loads would repeat it)."""
    if error.code == TWO_FACTOR_REQUIRED and state.two_factor_needed:
        return None
    return rx.toast.error(error.message)


def requires_user(handler: Callable[..., Any]) -> Callable[..., Any]:
    """THE sign-in guard: every protected handler is written `async def h(self, user, ...)`.

    The wrapper resolves the user SessionGuard authorised for this event (from the connection's
    cookie, never from state) and hands it to the handler as its first argument, or sends the tab
    to the sign-in page without running the handler. Reflex sees the handler's signature without
    `user`, so the browser cannot supply one. Works for plain and generator (`yield`) handlers.
    A ServiceError the handler does not catch itself (a row gone or someone else's) is shown as
    an error toast with its message.
    """
    signature = inspect.signature(handler)
    parameters = list(signature.parameters.values())
    if len(parameters) < 2 or parameters[1].name != "user":
        raise TypeError(f"{handler.__qualname__}: a guarded handler takes (self, user, ...)")

    if inspect.isasyncgenfunction(handler):

        @functools.wraps(handler)
        async def guarded_stream(self: AuthState, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            user = signed_in_user()
            if user is None:
                yield _to_sign_in(self)
                return
            try:
                async for update in handler(self, user, *args, **kwargs):
                    yield update
            except ServiceError as error:
                if (toast := _refusal_toast(self, error)) is not None:
                    yield toast

        wrapper: Callable[..., Any] = guarded_stream
    else:

        @functools.wraps(handler)
        async def guarded(self: AuthState, *args: Any, **kwargs: Any) -> Any:
            user = signed_in_user()
            if user is None:
                return _to_sign_in(self)
            try:
                result = handler(self, user, *args, **kwargs)
                return await result if inspect.isawaitable(result) else result
            except ServiceError as error:
                return _refusal_toast(self, error)

        wrapper = guarded
    # Reflex reads the handler's arguments from its signature (inspect honours `__signature__`, a
    # function attribute that `Callable` does not declare).
    wrapper.__signature__ = signature.replace(parameters=[parameters[0], *parameters[2:]])  # type: ignore[attr-defined]
    wrapper.__annotations__ = {k: v for k, v in handler.__annotations__.items() if k != "user"}
    return wrapper
