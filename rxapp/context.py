"""The app context: settings and every runtime singleton built from them, in one object.

`app_context` is the process's one instance. Each member is built lazily on first use, then kept
(a plain attribute read afterwards, so the verify hot path pays nothing extra):

- `settings`: `rxapp.settings.load_settings()` (environment variables).
- `verify_limiter`: the per-client token bucket in front of verify (rxapp/limiters.py).
- `key_limiter`: per-key limits, in Redis when configured, else in this worker's memory.
- `named_limiter`: programmable keys' named limits (exact windows), same placement.
- `management_limiter`: the per-token bucket in front of the management API (api/problems.py).
- `proxy_hops`: Reflex's REFLEX_TRUSTED_PROXY_HOPS, shared by the API and the request logs.
- `verify_lookup`: `(engine, lookup)` for the verify query, rebuilt when the engine changes.
- `password_hasher`, `password_hash_slots`: argon2id and the cap on concurrent hashing.
- `oidc_provider`: the single sign-on provider client with its cached discovery document and
  keys (built by services.oidc_client.provider; None until then, or when SSO is off).

Tests never patch module internals: `with app_context.override(verify_limiter=..., proxy_hops=1):`
pins members for the block, and `app_context.reset()` forgets everything built so far (for a
changed environment), keeping whatever an active `override` pins.

`get_settings()` is the settings member, for callers that need nothing else. Imported by
rxconfig.py: at load time it imports only the two low modules below it (rxapp.settings and
rxapp.limiters, which import nothing from the app), never Reflex.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any

from rxapp.limiters import (
    MemoryKeyLimiter,
    MemoryNamedLimiter,
    RateLimiter,
    RedisKeyLimiter,
    RedisNamedLimiter,
)
from rxapp.settings import Settings, load_settings

if TYPE_CHECKING:
    from argon2 import PasswordHasher


class AppContext:
    """Lazily built members (see the module docstring); `override` and `reset` for tests."""

    MEMBERS = frozenset(
        {
            "settings",
            "verify_limiter",
            "key_limiter",
            "named_limiter",
            "management_limiter",
            "proxy_hops",
            "verify_lookup",
            "password_hasher",
            "password_hash_slots",
            "oidc_provider",
        }
    )

    def __init__(self) -> None:
        self._pins: list[dict[str, Any]] = []  # active overrides, innermost last
        self._resets = 0

    @cached_property
    def settings(self) -> Settings:
        return load_settings()

    @cached_property
    def verify_limiter(self) -> RateLimiter:
        return RateLimiter(self.settings.verify_rate_limit_per_minute)

    @cached_property
    def management_limiter(self) -> RateLimiter:
        """Calls per minute per management token, in this worker (0 = off)."""
        return RateLimiter(self.settings.management_rate_limit_per_minute)

    @cached_property
    def key_limiter(self) -> MemoryKeyLimiter | RedisKeyLimiter:
        """Built inside the worker's event loop on first use (the Redis client binds to it)."""
        url = self.settings.redis_url
        return RedisKeyLimiter(url) if url else MemoryKeyLimiter()

    @cached_property
    def named_limiter(self) -> MemoryNamedLimiter | RedisNamedLimiter:
        """Programmable keys' named limits (exact windows): Redis when configured, else memory."""
        url = self.settings.redis_url
        return RedisNamedLimiter(url) if url else MemoryNamedLimiter()

    @cached_property
    def proxy_hops(self) -> int:
        """Reflex's own setting, so the websocket, the API and the logs agree on the client."""
        import reflex as rx

        return int(rx.config.get_config().trusted_proxy_hops or 0)

    @cached_property
    def verify_lookup(self) -> tuple[Any, Any] | None:
        """Filled in by services.key_lookup.lookup_for, which knows how to build one."""
        return None

    @cached_property
    def oidc_provider(self) -> Any | None:
        """Filled in by services.oidc_client.provider, which knows how to build one."""
        return None

    @cached_property
    def password_hasher(self) -> PasswordHasher:
        from argon2 import PasswordHasher

        return PasswordHasher()  # argon2id with argon2-cffi's defaults (RFC 9106 low-memory profile)

    @cached_property
    def password_hash_slots(self) -> threading.BoundedSemaphore:
        return threading.BoundedSemaphore(self.settings.password_hash_concurrency)

    def reset(self) -> None:
        """Forget every built member (they are rebuilt from the environment on next use)."""
        self._resets += 1
        for name in self.MEMBERS:
            self.__dict__.pop(name, None)
        for pins in self._pins:
            self.__dict__.update(pins)

    @contextmanager
    def override(self, **members: Any) -> Iterator[AppContext]:
        """Pin members for the block; on exit they return to what they were (or are rebuilt)."""
        unknown = members.keys() - self.MEMBERS
        if unknown:
            raise AttributeError(f"AppContext has no member {sorted(unknown)}")
        missing = object()
        saved = {name: self.__dict__.get(name, missing) for name in members}
        resets = self._resets
        self._pins.append(members)
        self.__dict__.update(members)
        try:
            yield self
        finally:
            self._pins.remove(members)
            for name, value in saved.items():
                pinned = [pins[name] for pins in self._pins if name in pins]
                if pinned:
                    self.__dict__[name] = pinned[-1]
                elif value is missing or self._resets != resets:
                    self.__dict__.pop(name, None)  # never built before, or reset meanwhile
                else:
                    self.__dict__[name] = value


app_context = AppContext()


def get_settings() -> Settings:
    """The process's settings, loaded once (app_context.settings; tests reset or pin them there)."""
    return app_context.settings
