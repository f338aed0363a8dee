"""Exit 0 when the scale-out test services (PostgreSQL and Redis) accept connections."""

import os
import socket
import sys
from urllib.parse import urlsplit

DEFAULTS = {
    "TEST_POSTGRES_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "TEST_REDIS_URL": "redis://127.0.0.1:6379/0",
}


def reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), timeout=2):
            return True
    except OSError:
        return False


sys.exit(0 if all(reachable(os.environ.get(name, default)) for name, default in DEFAULTS.items()) else 1)
