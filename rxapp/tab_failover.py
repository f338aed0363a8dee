"""A browser tab whose worker died keeps its token, and with it its page state (Redis only).

Reflex 0.10.1's `RedisTokenManager` records which worker holds each tab's websocket
(`token_manager_socket_record_<token>`, kept for `redis_token_expiration`, an hour). A worker that
stops cleanly deletes its records; one that dies (`kill -9`, the OOM killer, a crashed instance)
leaves them behind. When the tab reconnects (to a sibling worker, or through the proxy to another
instance), Reflex finds the record, takes the tab for a duplicate of a live one and hands it a
new token: the tab's state in Redis (its search, filters, page, open dialog) stays behind and
the page starts over.

So each worker marks itself present by holding a Redis subscription to a channel named after its
Reflex instance id: a subscription ends the moment its connection closes, which the kernel does
when the process dies however it dies, so there is no timeout to wait out. Before Reflex links a
tab, a record whose owner has no subscriber is deleted (compare-and-delete: a newer record is
never lost) and Reflex keeps the tab's token. A record whose owner is alive is left alone, so a
duplicated tab still gets its own token. (A whole host that vanishes without closing its
connections is seen only when Redis drops them, after its `tcp-keepalive`; until then its tabs get
new tokens, as without this module.)

Reflex offers no hook for this, so `RedisTokenManager.link_token_to_sid` is wrapped, on the Reflex
version it was written against only (tests/unit/test_tab_failover.py fails when that goes stale;
tests/e2e/test_two_instances.py kills an instance under a signed-in tab).
"""

from __future__ import annotations

import asyncio
import logging
import pickle
from typing import Any

log = logging.getLogger("rxapp.tab_failover")

WRAPPED_VERSIONS = ("0.10.1",)
PRESENCE_PREFIX = "apikeys_worker_present_"
# Delete the record only if it still holds what was read (another instance may relink meanwhile).
_DELETE_IF_UNCHANGED = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def presence_channel(instance_id: str) -> str:
    return PRESENCE_PREFIX + instance_id


async def _hold(pubsub: Any) -> None:
    """Keep reading the subscription (redis-py resubscribes after a reconnect)."""
    while True:
        try:
            await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
        except asyncio.CancelledError:
            raise
        except Exception:  # Redis restarting: try again shortly, never die silently
            log.warning("worker presence subscription interrupted; retrying", exc_info=True)
            await asyncio.sleep(1)


async def ensure_present(manager: Any) -> None:
    """Subscribe to this worker's presence channel once (per instance id) before its first link."""
    channel = presence_channel(manager.instance_id)
    if getattr(manager, "_apikeys_presence", None) == channel:
        return
    lock = manager.__dict__.setdefault("_apikeys_presence_lock", asyncio.Lock())
    async with lock:
        if getattr(manager, "_apikeys_presence", None) == channel:
            return
        old = getattr(manager, "_apikeys_presence_task", None)
        if old is not None:
            old.cancel()
        pubsub = manager.redis.pubsub()
        await pubsub.subscribe(channel)  # registered on the server when this returns
        manager._apikeys_presence_task = asyncio.create_task(_hold(pubsub))
        manager._apikeys_presence = channel


async def forget_if_owner_gone(manager: Any, token: str) -> bool:
    """Delete the tab's socket record when the worker that wrote it is gone; True if deleted."""
    key = manager._get_redis_key(token)
    raw = await manager.redis.get(key)
    if raw is None:
        return False
    # Reflex's own pickled SocketRecord, from the Redis this worker trusts with all tab state
    owner = pickle.loads(raw).instance_id  # noqa: S301
    if owner == manager.instance_id:
        return False
    [(_, subscribers)] = await manager.redis.pubsub_numsub(presence_channel(owner))
    if subscribers:
        return False
    deleted = bool(await manager.redis.eval(_DELETE_IF_UNCHANGED, 1, key, raw))
    if deleted:
        log.info("a tab reconnected from a worker that is gone; it keeps its state")
    return deleted


def install() -> bool:
    """Wrap Reflex's Redis token manager; returns whether it did (once per process)."""
    try:
        from importlib.metadata import version

        from reflex.utils.token_manager import RedisTokenManager
    except ImportError:  # the service layer's tests and the CLI run without Reflex's server parts
        return False
    if version("reflex") not in WRAPPED_VERSIONS:
        return False
    original = RedisTokenManager.link_token_to_sid
    if getattr(original, "_apikeys_keeps_tabs", False):
        return True

    async def link_keeping_tabs(self: Any, token: str, sid: str) -> str | None:
        try:
            await ensure_present(self)
            await forget_if_owner_gone(self, token)
        except Exception:  # Redis trouble: Reflex's own link decides, as without this module
            log.warning("could not check the tab's previous worker", exc_info=True)
        return await original(self, token, sid)

    link_keeping_tabs._apikeys_keeps_tabs = True  # type: ignore[attr-defined]
    # Monkeypatching Reflex on purpose: it offers no hook between a reconnect and its duplicate check.
    RedisTokenManager.link_token_to_sid = link_keeping_tabs  # type: ignore[method-assign]
    return True


__all__ = ["ensure_present", "forget_if_owner_gone", "install", "presence_channel"]
