"""Helpers for the tests of the Python client (clients/python, import name `keyconsole`).

Everything here is real networking: transports that record what the client sent through httpx's
own transport, a TCP relay to the real console, and a server that hangs up without answering.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from tests.api.conftest import key_row
from tests.conftest import Console


@dataclass(frozen=True)
class Keys:
    """One user's keys for a test: a valid one, an INACTIVE one, one limited to 1 call a minute."""

    email: str
    valid: str
    inactive: str
    limited: str


def make_keys(console: Console) -> Keys:
    email = console.new_user()
    valid = console.create_key(email, "client")
    inactive = console.create_key(email, "switched-off")
    limited = console.create_key(email, "limited", "--rate-limit", "1")
    console.cli("set-key-status", email, key_row(console, email, inactive).key_id, "INACTIVE")
    return Keys(email, valid, inactive, limited)


class Recording(httpx.HTTPTransport):
    """httpx's real transport, remembering every attempt (its request) and calling `on_connect_error`
    when an attempt could not connect."""

    def __init__(self, on_connect_error: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.requests: list[httpx.Request] = []
        self.on_connect_error = on_connect_error

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        try:
            return super().handle_request(request)
        except httpx.ConnectError:
            if self.on_connect_error is not None:
                self.on_connect_error()
            raise


class AsyncRecording(httpx.AsyncHTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await super().handle_async_request(request)


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, target):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


class Relay:
    """A TCP relay on 127.0.0.1:`port` to the console, started on demand (so the port refuses
    connections until then)."""

    def __init__(self, port: int, console_url: str) -> None:
        self.port = port
        target = httpx.URL(console_url)
        self.target = (target.host, target.port or 80)
        self.listener: socket.socket | None = None

    def start(self) -> None:
        if self.listener is not None:
            return
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.listener = listener
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        assert self.listener is not None
        while True:
            try:
                inbound, _ = self.listener.accept()
            except OSError:
                return
            outbound = socket.create_connection(self.target, timeout=10)
            threading.Thread(target=_pipe, args=(inbound, outbound), daemon=True).start()
            threading.Thread(target=_pipe, args=(outbound, inbound), daemon=True).start()

    def close(self) -> None:
        if self.listener is not None:
            self.listener.close()


class HangUp:
    """A server that accepts every connection and closes it without a word (the request reached
    something, which may have acted on it: the client must not send it again)."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            connection.recv(65536)  # the request arrives, then the line goes dead
            connection.close()

    def close(self) -> None:
        self.listener.close()
