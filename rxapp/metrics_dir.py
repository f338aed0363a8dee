"""Where the Prometheus counters of every worker meet (prometheus-client's multiprocess mode).

Each backend worker is a separate process, so in-process counters would only show the worker that
answered the scrape. prometheus-client's multiprocess mode has every worker write its values into
memory-mapped files in one shared folder, and the scrape sums them. The folder must be set in the
environment *before* prometheus_client is imported and before the workers start, so rxconfig.py
(loaded by the `reflex run` process that starts them) calls `prepare_multiprocess_dir()`.

This module must not import prometheus_client.
"""

from __future__ import annotations

import atexit
import os
import shutil
import stat
import tempfile

ENV_VAR = "PROMETHEUS_MULTIPROC_DIR"


def _remove(path: str, owner_pid: int) -> None:
    if os.getpid() == owner_pid:  # forked children inherit atexit hooks: only the creator cleans up
        shutil.rmtree(path, ignore_errors=True)


def prepare_multiprocess_dir() -> str:
    """The shared metrics folder: the operator's PROMETHEUS_MULTIPROC_DIR, else a fresh private one.

    The default is a new 0700 temporary folder per start (so no stale counters from a previous run,
    and no other local user can read them), removed when the process that made it exits.
    """
    configured = os.environ.get(ENV_VAR, "").strip()
    if configured:
        os.makedirs(configured, mode=0o700, exist_ok=True)
        return configured
    path = tempfile.mkdtemp(prefix="apikeys-metrics-")  # mkdtemp creates it 0700
    os.environ[ENV_VAR] = path
    atexit.register(_remove, path, os.getpid())
    return path


def is_private(path: str) -> bool:
    """True when neither group nor others can read the folder (checked by `python -m rxapp doctor`)."""
    mode = os.stat(path).st_mode
    return not mode & (stat.S_IRWXG | stat.S_IRWXO)
