"""The shared base state: who is signed in, as decided for this event by `SessionGuard`.

`rxapp.session_guard` resolves the connection's HttpOnly session cookie against the session table
before every event (hydration included) and resets the tab's user-owned state when the session
does not belong to the user the state was built for. A copied Reflex client token alone gets an
empty, signed-out page.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import reflex as rx

from rxapp import routes
from rxapp.db import session_scope
from rxapp.models import UserPublic
from rxapp.services import audit
from rxapp.services.errors import NotFoundError
from rxapp.session_guard import signed_in_user

Result = TypeVar("Result")


def _record_denied(user_id: int, actor: str, error: NotFoundError, client_address: str) -> None:
    with session_scope() as session:
        audit.record_denied(
            session,
            user_id=user_id,
            actor=actor,
            target_type=error.target_type,
            target_id=error.target_id,
            client_address=client_address,
        )


class AuthState(rx.State):
    user_email: str = ""
    signed_in: bool = False
    _user_id: int = 0

    def client_address(self) -> str:
        return self.router.session.client_ip or ""

    async def current_user(self) -> UserPublic | None:
        """The user behind this event's connection, or None (SessionGuard has reset the tab)."""
        return signed_in_user()

    async def in_session(self, function: Callable[..., Result], *args: Any, **kwargs: Any) -> Result:
        """Run one service call in its own transaction, off the event loop; audit denied access."""

        def work() -> Result:
            with session_scope() as session:
                return function(session, *args, **kwargs)

        try:
            return await asyncio.to_thread(work)
        except NotFoundError as error:
            if error.target_type and self._user_id:
                await asyncio.to_thread(
                    _record_denied, self._user_id, self.user_email, error, self.client_address()
                )
            raise

    @rx.event
    async def require_sign_in(self):
        """on_load of every protected page."""
        if await self.current_user() is None:
            return rx.redirect(routes.SIGN_IN)

    @rx.event
    async def redirect_home(self):
        return rx.redirect(routes.KEYS if await self.current_user() else routes.SIGN_IN)
