"""rxapp/tab_failover.py: a socket record left by a dead worker is dropped, so the tab keeps its
token; a live worker's record is left alone (a duplicated tab still gets a new token).

The Redis here is a small fake with the five commands the module uses; the real thing (two
instances, Redis, a browser tab, kill -9) is tests/e2e/test_two_instances.py."""

from __future__ import annotations

import asyncio
import inspect
import pickle
from importlib.metadata import version
from typing import Any

from reflex.utils.token_manager import RedisTokenManager, SocketRecord

from rxapp import tab_failover
from tests.unit.helpers import run_async


class FakePubSub:
    def __init__(self, redis: FakeRedis) -> None:
        self.redis = redis

    async def subscribe(self, channel: str) -> None:
        self.redis.subscribers[channel] = self.redis.subscribers.get(channel, 0) + 1

    async def get_message(self, **_: Any) -> None:
        await asyncio.Event().wait()  # no message ever comes


class FakeRedis:
    def __init__(self) -> None:
        self.values: dict[str, bytes] = {}
        self.subscribers: dict[str, int] = {}
        self.swap_before_delete: bytes | None = None  # another instance relinks between read and delete

    async def get(self, key: str) -> bytes | None:
        return self.values.get(key)

    async def pubsub_numsub(self, channel: str) -> list[tuple[bytes, int]]:
        return [(channel.encode(), self.subscribers.get(channel, 0))]

    async def eval(self, script: str, numkeys: int, key: str, expected: bytes) -> int:
        assert numkeys == 1 and "redis.call('del'" in script
        if self.swap_before_delete is not None:
            self.values[key] = self.swap_before_delete
        if self.values.get(key) == expected:
            del self.values[key]
            return 1
        return 0

    def pubsub(self) -> FakePubSub:
        return FakePubSub(self)


class Manager:
    """The parts of RedisTokenManager the module uses."""

    def __init__(self, redis: FakeRedis, instance_id: str) -> None:
        self.redis, self.instance_id = redis, instance_id

    def _get_redis_key(self, token: str) -> str:
        return f"token_manager_socket_record_{token}"


def _record(instance_id: str) -> bytes:
    return pickle.dumps(SocketRecord(instance_id=instance_id, sid="sid-1"))


def test_a_dead_workers_record_goes_and_a_live_ones_stays() -> None:
    async def scenario() -> None:
        redis = FakeRedis()
        dead, alive, me = Manager(redis, "dead"), Manager(redis, "alive"), Manager(redis, "me")
        await tab_failover.ensure_present(alive)
        await tab_failover.ensure_present(me)
        await tab_failover.ensure_present(me)  # once per instance id
        assert redis.subscribers == {"apikeys_worker_present_alive": 1, "apikeys_worker_present_me": 1}

        key = me._get_redis_key("tab")
        assert await tab_failover.forget_if_owner_gone(me, "tab") is False  # no record: nothing to do

        redis.values[key] = _record(dead.instance_id)  # its worker was killed: no subscriber
        assert await tab_failover.forget_if_owner_gone(me, "tab") is True
        assert key not in redis.values

        redis.values[key] = _record(alive.instance_id)  # a duplicated tab of a live socket
        assert await tab_failover.forget_if_owner_gone(me, "tab") is False
        assert key in redis.values

        redis.values[key] = _record(me.instance_id)  # this worker's own: Reflex decides
        assert await tab_failover.forget_if_owner_gone(me, "tab") is False

        redis.values[key] = _record(dead.instance_id)
        redis.swap_before_delete = _record(alive.instance_id)  # relinked meanwhile: never lost
        assert await tab_failover.forget_if_owner_gone(me, "tab") is False
        assert redis.values[key] == _record(alive.instance_id)
        for manager in (alive, me):
            manager._apikeys_presence_task.cancel()  # type: ignore[attr-defined]

    run_async(scenario())  # Playwright owns the main thread's loop in a full run


def test_installed_on_the_reflex_it_was_written_for() -> None:
    """A Reflex upgrade fails here: check whether it still hands a reconnecting tab a new token
    when its old socket's worker died, then update WRAPPED_VERSIONS (or drop the module)."""
    assert version("reflex") in tab_failover.WRAPPED_VERSIONS
    assert tab_failover.install() is True
    assert tab_failover.install() is True  # a second call wraps nothing again
    assert getattr(RedisTokenManager.link_token_to_sid, "_apikeys_keeps_tabs", False)


def test_reflex_still_has_what_the_wrapper_uses() -> None:
    """Without building one (that would load rxconfig): the names the wrapper reads exist."""
    assert list(inspect.signature(RedisTokenManager.link_token_to_sid).parameters) == ["self", "token", "sid"]
    assert callable(RedisTokenManager._get_redis_key)
    assert "self.redis = redis" in inspect.getsource(RedisTokenManager.__init__)
    assert "self.instance_id" in inspect.getsource(RedisTokenManager._reset_instance_id)
