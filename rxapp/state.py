"""The shared base state: who is signed in, decided from the HttpOnly session cookie.

Every event re-reads the cookie of the websocket connection that sent it and resolves it against
the server-side session table, so a revoked session or a copied Reflex client token is not enough.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from http.cookies import SimpleCookie
from typing import Any, TypeVar

import reflex as rx

from rxapp import routes
from rxapp.db import session_scope
from rxapp.models import UserPublic
from rxapp.services import audit
from rxapp.services import users as user_service
from rxapp.services.errors import NotFoundError

Result = TypeVar("Result")


def _session_token(cookie_header: str) -> str:
    cookies = SimpleCookie()
    try:
        cookies.load(cookie_header or "")
    except Exception:
        return ""
    morsel = cookies.get(routes.SESSION_COOKIE)
    return morsel.value if morsel else ""


def _resolve(token: str) -> UserPublic | None:
    with session_scope() as session:
        return user_service.resolve_session(session, token)


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
        """The user behind this event's connection, or None (and the page forgets the account)."""
        token = _session_token(self.router.headers.cookie)
        user = await asyncio.to_thread(_resolve, token) if token else None
        if user is None:
            self.signed_in = False
            self.user_email = ""
            self._user_id = 0
        else:
            self.signed_in = True
            self.user_email = user.email
            self._user_id = user.id
        return user

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
