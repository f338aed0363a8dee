"""Reflex configuration. Values come from rxapp.settings so there is one source of truth."""

import os

# No outbound requests at start: the version check (and its 1.1.1.1 probe) is an environment
# switch, so set it here too, before Reflex reads it, not only in the launch scripts.
os.environ.setdefault("REFLEX_CHECK_LATEST_VERSION", "false")
os.environ.setdefault("REFLEX_TELEMETRY_ENABLED", "false")
# Hot reload watches only the code: the SQLite file in data/ changes on every write and would
# otherwise restart the dev backend in a loop.
os.environ.setdefault("REFLEX_HOT_RELOAD_OVERRIDE_PATHS", os.path.join(os.path.dirname(__file__), "rxapp"))
# Websocket messages from the browser are small events; cap them (Reflex default is 1 MB).
os.environ.setdefault("REFLEX_SOCKET_MAX_HTTP_BUFFER_SIZE", str(128 * 1024))

import reflex as rx
from reflex.plugins.sitemap import SitemapPlugin
from reflex_base.constants import StateManagerMode

from rxapp import compile_progress, redaction, supervision, tab_failover
from rxapp.context import get_settings
from rxapp.metrics_dir import prepare_multiprocess_dir

# Structured logs: Reflex's and Granian's own lines become JSON too (rxapp/logs.py does ours).
if os.environ.get("APIKEYS_LOG_FORMAT", "").strip().lower() == "json":
    os.environ.setdefault("REFLEX_LOG_JSON", "true")

# Every backend worker must see one shared metrics folder, set before any of them starts.
prepare_multiprocess_dir()

settings = get_settings()
redaction.install((settings.key_prefix,))  # before anything logs: no credential in any log line
supervision.enable_worker_respawn()
tab_failover.install()  # a tab whose worker died keeps its state (several workers, Redis)
compile_progress.install()  # "Compiling: 34/34", not Reflex 0.10.1's "35/34"

config = rx.Config(
    app_name="rxapp",
    db_url=settings.database_url,
    redis_url=settings.redis_url,
    # Tab state in process memory (one worker) or Redis (several), never pickled to disk.
    state_manager_mode=StateManagerMode.REDIS if settings.redis_url else StateManagerMode.MEMORY,
    # Loopback unless the operator exposes it (APIKEYS_HOST): the proxy in front is the way in.
    backend_host=settings.host,
    # No outbound requests: these must not depend on the launch script's environment.
    telemetry_enabled=False,
    show_built_with_reflex=False,
    cors_allowed_origins=list(settings.allowed_origins),
    disable_plugins=[SitemapPlugin],
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(accent_color="indigo", gray_color="slate", radius="medium")
        )
    ],
)
