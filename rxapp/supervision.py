"""Workers come back: a killed or crashed backend worker is respawned by Granian's supervisor.

Reflex 0.10.1 builds Granian's `Server` itself and passes no `respawn_failed_workers`, and Granian
reads no environment variable for it, so the default is changed here, in the supervisor process
(rxconfig.py imports this before Reflex starts Granian). Granian still exits on a crash loop
(a worker dying again within 5.5 s of its respawn), so a broken build does not spin forever.
"""

from __future__ import annotations

from typing import Any


def enable_worker_respawn() -> None:
    try:
        from granian.server import common
    except ImportError:  # not installed (tests of the service layer, the CLI): nothing to supervise
        return
    original = common.AbstractServer.__init__
    if getattr(original, "_apikeys_respawn", False):
        return

    def init_with_respawn(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("respawn_failed_workers", True)
        kwargs.setdefault("respawn_interval", 1.0)
        original(self, *args, **kwargs)

    # A marker on our own function (read back above, so a second call patches nothing); mypy
    # does not let a function take attributes.
    init_with_respawn._apikeys_respawn = True  # type: ignore[attr-defined]
    # Monkeypatching Granian's server on purpose: Reflex gives no way to pass respawn_failed_workers.
    common.AbstractServer.__init__ = init_with_respawn  # type: ignore[method-assign]
