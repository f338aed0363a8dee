"""The hot path's pipelined Redis script client (rxapp/redis_script.py): RESP parsing, and against
a real Redis (TEST_REDIS_URL, else the local one when reachable): concurrent callers each get
their own reply, a script Redis does not know is loaded, a lost connection fails its calls and the next
call connects again, a silent server times out."""

from __future__ import annotations

import asyncio
import socket
import uuid

import pytest

from rxapp.redis_script import RedisReplyError, RedisScript, command, parse
from tests.unit.helpers import redis_url, run_async

ECHO = "return {KEYS[1], tonumber(ARGV[1]) * 2, redis.call('INCRBY', KEYS[1], ARGV[1])}"


def test_parse_reads_each_reply_type_and_waits_for_the_rest() -> None:
    whole = b"*3\r\n:5\r\n$3\r\nabc\r\n*2\r\n+OK\r\n$-1\r\n-ERR wrong\r\n"
    value, after = parse(whole) or (None, 0)
    assert value == [5, b"abc", ["OK", None]]
    error, end = parse(whole, after) or (None, 0)
    assert isinstance(error, RedisReplyError) and str(error) == "ERR wrong" and end == len(whole)
    for cut in range(1, after):  # any prefix of the first reply: not complete yet
        assert parse(whole[:cut]) is None
    assert command(b"GET", "k", 7) == b"*3\r\n$3\r\nGET\r\n$1\r\nk\r\n$1\r\n7\r\n"


def test_concurrent_calls_an_unknown_script_and_a_lost_connection() -> None:
    import redis

    url = redis_url()
    admin = redis.Redis.from_url(url)
    key = f"apikeys:test:{uuid.uuid4().hex}"

    async def scenario() -> None:
        # a script Redis has never seen (its text is new): the first EVALSHA fails, EVAL loads it
        script = RedisScript(url, f"-- {uuid.uuid4().hex}\n{ECHO}")
        replies = await asyncio.gather(*(script([key], [n]) for n in range(1, 41)))
        assert [reply[:2] for reply in replies] == [[key.encode(), 2 * n] for n in range(1, 41)]
        assert sorted(reply[2] for reply in replies) == sorted(sum(range(1, n + 1)) for n in range(1, 41))
        assert (await script([key], [1]))[2] == sum(range(1, 41)) + 1
        # Redis drops this connection (only ours: other tests share the server)
        assert script._pipe is not None and script._pipe.transport is not None
        host, port = script._pipe.transport.get_extra_info("sockname")[:2]
        assert admin.client_kill_filter(addr=f"{host}:{port}") == 1
        await asyncio.sleep(0.1)
        assert (await script([key], [1]))[2] == sum(range(1, 41)) + 2  # connected again
        with pytest.raises(RedisReplyError):
            await script([key], ["not a number"])
        script.close()

    try:
        run_async(scenario())
    finally:
        admin.delete(key)
        admin.close()


def test_a_server_that_never_answers_times_out() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]

    async def scenario() -> None:
        script = RedisScript(f"redis://127.0.0.1:{port}", ECHO, timeout=0.3)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(script(["k"], [1]), 5)
        script.close()

    try:
        run_async(scenario())
    finally:
        listener.close()


class _DuckTransport:
    """Has what the pipe uses, as uvloop's transports do, without subclassing asyncio.Transport."""

    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def close(self) -> None:
        pass


def test_a_transport_that_is_not_an_asyncio_transport_serves_the_pipe() -> None:
    """Granian runs on uvloop whenever it is installed; uvloop's TCP transport is no subclass of
    asyncio.Transport, and an isinstance check there failed every named-limit verification (500)."""
    from rxapp.redis_script import _Pipe

    async def scenario() -> None:
        transport = _DuckTransport()
        assert not isinstance(transport, asyncio.Transport)
        pipe = _Pipe(asyncio.get_running_loop(), timeout=5)
        pipe.connection_made(transport)  # type: ignore[arg-type]
        reply = pipe.send(command(b"GET", "k"))
        await asyncio.sleep(0)  # the turn ends: the queued command is written
        assert transport.written == [b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"]
        pipe.data_received(b"$2\r\nok\r\n")
        assert await reply == b"ok"
        pipe.fail(ConnectionError("done"))

    run_async(scenario())
