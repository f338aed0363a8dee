"""One Lua script in Redis, called from the verify hot path over a pipelined connection.

Why not redis-py here (it serves everything else): a named-limit check is one EVALSHA per
verification, and redis-py's asyncio client spends about 70 µs of CPU on each (connection pool,
retry wrapper, parser objects) against 10 µs for the same calls written on one connection and sent
together (measured with 16 concurrent callers on one core). With credits and a named limit on
PostgreSQL, that took one worker from 6,300 to 3,900 verifications a second. So this
module speaks the few parts of RESP2 that the script needs, as key_lookup_postgres.py drives libpq
for the same reason:

- one connection per worker (per event loop), opened on first use: AUTH and SELECT from the URL
  (`redis://` or `rediss://`, `[user:password@]host[:port][/db]`);
- the calls of one turn of the loop go out in one write; Redis answers in order, each caller gets
  its own reply;
- EVALSHA, and EVAL once when Redis does not know the script yet (a restart, SCRIPT FLUSH);
- a call fails (its verification answers 500, fail closed) when the connection breaks or Redis
  has answered nothing for `timeout` seconds; the next call connects again. Never retried: the
  script counts, and a retry after Redis ran it would count twice.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import ssl
from typing import Any, cast
from urllib.parse import unquote, urlsplit


class RedisReplyError(Exception):
    """Redis answered an error (`-ERR ...`, `-NOSCRIPT ...`)."""


def command(*parts: bytes | str | int) -> bytes:
    """A RESP array of bulk strings, as Redis reads commands."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        data = part if isinstance(part, bytes) else str(part).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def parse(buffer: bytes | bytearray, position: int = 0) -> tuple[Any, int] | None:
    """One RESP2 reply from `position`: (value, where the next one starts), or None when the
    buffer does not hold all of it yet. An error reply is a RedisReplyError value (not raised)."""
    end = buffer.find(b"\r\n", position)
    if end < 0:
        return None
    kind, line, after = buffer[position], bytes(buffer[position + 1 : end]), end + 2
    if kind == 0x3A:  # ':' integer
        return int(line), after
    if kind == 0x2B:  # '+' simple string
        return line.decode(), after
    if kind == 0x2D:  # '-' error
        return RedisReplyError(line.decode(errors="replace")), after
    if kind == 0x24:  # '$' bulk string
        length = int(line)
        if length < 0:
            return None, after  # the null bulk string
        if len(buffer) < after + length + 2:
            return None
        return bytes(buffer[after : after + length]), after + length + 2
    if kind == 0x2A:  # '*' array
        count = int(line)
        if count < 0:
            return None, after
        items = []
        for _ in range(count):
            parsed = parse(buffer, after)
            if parsed is None:
                return None
            item, after = parsed
            items.append(item)
        return items, after
    raise RedisReplyError(f"unexpected reply type {chr(kind)!r}")


class _Pipe(asyncio.Protocol):
    """The connection: commands queued in one turn go out in one write; replies, in order, to the
    callers' futures."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self.loop = loop
        self.timeout = timeout
        self.transport: asyncio.Transport | None = None
        self.waiting: collections.deque[asyncio.Future[Any]] = collections.deque()
        self.received = bytearray()
        self.outgoing: list[bytes] = []
        self.replies = 0  # answered so far: the watchdog's sign of life
        self.watchdog: asyncio.TimerHandle | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses (an isinstance check failed every
        # call there: granian runs on uvloop whenever it is installed)
        self.transport = cast(asyncio.Transport, transport)

    def send(self, data: bytes) -> asyncio.Future[Any]:
        if self.closed:
            raise ConnectionError("the Redis connection is closed")
        future = self.loop.create_future()
        self.waiting.append(future)
        if not self.outgoing:
            self.loop.call_soon(self._flush)
        self.outgoing.append(data)
        if self.watchdog is None:
            self.watchdog = self.loop.call_later(self.timeout, self._check, self.replies)
        return future

    def _flush(self) -> None:
        data, self.outgoing = b"".join(self.outgoing), []
        if not self.closed and self.transport is not None:
            self.transport.write(data)

    def _check(self, replies_before: int) -> None:
        """Every `timeout` while calls wait: none answered since the last look means Redis is stuck."""
        self.watchdog = None
        if not self.waiting:
            return
        if self.replies == replies_before:
            self.fail(TimeoutError(f"Redis answered nothing for {self.timeout} s"))
            return
        self.watchdog = self.loop.call_later(self.timeout, self._check, self.replies)

    def data_received(self, data: bytes) -> None:
        self.received += data
        position = 0
        while self.waiting:
            try:
                parsed = parse(self.received, position)
            except (RedisReplyError, ValueError) as error:  # not Redis speaking: give up the connection
                self.fail(ConnectionError(f"unreadable reply from Redis: {error}"))
                return
            if parsed is None:
                break
            value, position = parsed
            self.replies += 1
            future = self.waiting.popleft()
            if not future.done():
                future.set_result(value)
        del self.received[:position]

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(ConnectionError(f"the Redis connection was lost: {exc or 'closed by Redis'}"))

    def fail(self, error: Exception) -> None:
        """Every waiting call fails; the connection is not used again."""
        self.closed = True
        if self.watchdog is not None:
            self.watchdog.cancel()
            self.watchdog = None
        waiting, self.waiting = self.waiting, collections.deque()
        for future in waiting:
            if not future.done():
                future.set_exception(error)
        if self.transport is not None:
            self.transport.close()


class RedisScript:
    """`await script(keys, args)`: the script's reply (RESP2 values: ints, bytes, lists)."""

    def __init__(self, url: str, source: str, timeout: float = 2.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss"):
            raise ValueError(f"unsupported Redis URL scheme {parts.scheme!r} (redis:// or rediss://)")
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 6379
        self.tls = parts.scheme == "rediss"
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        path = parts.path.strip("/")
        self.db = int(path) if path else 0
        self.timeout = timeout
        self.source = source.encode()
        self.sha = hashlib.sha1(self.source, usedforsecurity=False).hexdigest().encode()  # its name in Redis
        self._pipe: _Pipe | None = None
        self._connecting: asyncio.Task[_Pipe] | None = None

    async def __call__(self, keys: list[str], args: list[int]) -> Any:
        pipe = self._pipe
        if pipe is None or pipe.closed or pipe.loop is not asyncio.get_running_loop():
            pipe = await self._connect()
        reply = await pipe.send(command(b"EVALSHA", self.sha, len(keys), *keys, *args))
        if isinstance(reply, RedisReplyError) and str(reply).startswith("NOSCRIPT"):
            reply = await pipe.send(command(b"EVAL", self.source, len(keys), *keys, *args))
        if isinstance(reply, RedisReplyError):
            raise reply
        return reply

    async def _connect(self) -> _Pipe:
        """One connection for every caller that finds none: the first starts it, the rest wait."""
        loop = asyncio.get_running_loop()
        connecting = self._connecting
        if connecting is None or connecting.done() or connecting.get_loop() is not loop:
            connecting = self._connecting = loop.create_task(self._open(loop))
        return await asyncio.shield(connecting)

    async def _open(self, loop: asyncio.AbstractEventLoop) -> _Pipe:
        context = ssl.create_default_context() if self.tls else None
        _, pipe = await asyncio.wait_for(
            loop.create_connection(
                lambda: _Pipe(loop, self.timeout),
                self.host,
                self.port,
                ssl=context,
                server_hostname=self.host if self.tls else None,
            ),
            self.timeout,
        )
        try:
            handshake = []
            if self.password is not None:
                auth = (self.username, self.password) if self.username else (self.password,)
                handshake.append(pipe.send(command(b"AUTH", *auth)))
            if self.db:
                handshake.append(pipe.send(command(b"SELECT", self.db)))
            for reply in await asyncio.gather(*handshake):
                if isinstance(reply, RedisReplyError):
                    raise reply
        except BaseException:
            pipe.fail(ConnectionError("the Redis handshake failed"))
            raise
        old, self._pipe = self._pipe, pipe
        if old is not None:  # closed already, or another event loop's
            with contextlib.suppress(Exception):
                old.fail(ConnectionError("replaced"))
        return pipe

    def close(self) -> None:
        if self._pipe is not None:
            self._pipe.fail(ConnectionError("closed"))
            self._pipe = None
