"""Booting a real console for tests and for `scripts/bench`: one module, used by both.

`reflex db migrate`, then `reflex run --env prod` on one port (frontend and backend), in its own
process group, waited for until it answers, and stopped by that group only.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def exclusive(resource: str) -> Iterator[None]:
    """Hold a machine-wide lock on `resource` (e.g. port 443) for the block.

    scripts/test runs the SQLite and the PostgreSQL passes side by side; tests that need one fixed
    thing of the machine take turns on it instead of skipping or colliding.
    """
    with open(f"/tmp/apikeys-tests-{resource}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_ready(url: str, process: subprocess.Popen, log_path: Path, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"console exited early:\n{log_tail(log_path)}")
        try:
            if httpx.get(url, timeout=2, follow_redirects=True).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"console not ready after {timeout:.0f}s:\n{log_tail(log_path)}")


def log_tail(log_path: Path) -> str:
    try:
        return log_path.read_text(errors="replace")[-4000:]
    except OSError:
        return "(no log)"


def reset_postgres(url: str) -> None:
    """A fresh `public` schema: the caller owns this database."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP SCHEMA public CASCADE"))
        connection.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def run_cli(env: dict[str, str], *args: str, input_text: str | None = None) -> subprocess.CompletedProcess:
    """`python -m rxapp ARGS` against the console described by `env` (the operator CLI).

    Forked from a process that imported the CLI once (tests/cli_fork.py); TEST_CLI_FORK=0 starts a
    new interpreter per call instead, as an operator's shell does.
    """
    if os.environ.get("TEST_CLI_FORK", "1") != "0":
        from tests import cli_fork

        return cli_fork.run(env, *args, input_text=input_text)
    return subprocess.run(
        [sys.executable, "-m", "rxapp", *args],
        cwd=ROOT,
        env=env,
        input=input_text,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def chromium_launch_args() -> dict[str, object]:
    """The system Chromium (CHROMIUM_PATH, else Debian's) without sandbox, GPU or background traffic."""
    chromium = os.environ.get("CHROMIUM_PATH") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else ""
    )
    args: dict[str, object] = {
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ]
    }
    if chromium:
        args["executable_path"] = chromium
    return args


def migrate(env: dict[str, str], cwd: Path = ROOT) -> None:
    """`cwd`: the checkout whose migrations run (the benchmark also serves an older commit's)."""
    with exclusive("console-start"):  # `reflex db migrate` loads the app as a start does
        subprocess.run(
            ["reflex", "db", "migrate"], cwd=cwd, env=env, check=True, capture_output=True, timeout=300
        )


def start_console(
    env: dict[str, str],
    port: int,
    log_path: Path,
    *,
    prefix: Sequence[str] = (),
    backend_only: bool = False,
    cwd: Path = ROOT,
) -> subprocess.Popen:
    """Start the production console and return once it answers (health, and the sign-in page
    unless `backend_only`). `prefix` goes before the command (the benchmark's `taskset`); `cwd` is
    the checkout served (the benchmark also serves an older commit's)."""
    command = [*prefix, "reflex", "run", "--env", "prod", "--backend-port", str(port)]
    command += ["--backend-only"] if backend_only else ["--frontend-port", str(port)]
    # One start at a time on this machine: every start rewrites reflex.lock/ in the checkout (and
    # builds the frontend), and the two backends' passes of scripts/test run side by side.
    with exclusive("console-start"):
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            wait_ready(f"http://127.0.0.1:{port}/api/v1/health", process, log_path)
            if not backend_only:
                wait_ready(f"http://localhost:{port}/sign-in", process, log_path)
        except BaseException:
            stop_console(process)
            raise
    return process


# What `reflex run --env prod` does once its frontend is built (reflex/reflex.py `_run_prod`, Reflex
# 0.10.1): production mode, no compile, Granian serving the backend with the built frontend mounted.
_SERVE_BUILT = """
import sys
from reflex.utils import exec as reflex_exec
from reflex_base import constants
from reflex_base.config import get_config
from reflex_base.environment import environment

port, host = int(sys.argv[1]), sys.argv[2]
environment.REFLEX_ENV_MODE.set(constants.Env.PROD)
environment.REFLEX_SKIP_COMPILE.set(True)
config = get_config()
config._set_persistent(frontend_port=port, backend_port=port, backend_host=host)
reflex_exec.run_backend_prod(host, port, config.loglevel.subprocess_level(), True)
"""


def serve_built_console(
    env: dict[str, str], port: int, log_path: Path, web_dir: Path | None = None, host: str = "127.0.0.1"
) -> subprocess.Popen:
    """Another production console serving a frontend `start_console` already built in `web_dir`.

    A second `reflex run --env prod` from one checkout would build the same frontend again (about
    40 s) and overwrite the first one's files; this starts the same Granian server on the same app,
    skipping only the compile and the build. Own process group, like `start_console`."""
    # the folder start_console built in: this pass's REFLEX_WEB_WORKDIR (scripts/test), else .web
    web_dir = web_dir or Path(env.get("REFLEX_WEB_WORKDIR") or ROOT / ".web")
    env = {**env, "REFLEX_WEB_WORKDIR": str(web_dir)}
    command = [sys.executable, "-c", _SERVE_BUILT, str(port), host]
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_ready(f"http://127.0.0.1:{port}/api/v1/health", process, log_path)
        wait_ready(f"http://127.0.0.1:{port}/sign-in", process, log_path)
    except BaseException:
        stop_console(process)
        raise
    return process


def stop_console(process: subprocess.Popen) -> None:
    """Stop our own process group only (reflex, granian and the node build it started)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
    except ProcessLookupError:
        pass  # it already exited (its log says why)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


# A full-length API key or management token (prefix, 32 random and 6 checksum characters; any case,
# glued to anything), a webhook signing secret (whsec_ + base64 of 32 bytes) or a session/device/
# pending-sign-in/single-sign-on cookie value, unless the log scrubber replaced it.
CREDENTIAL_IN_LOG = re.compile(
    r"(?i)(?:bp[km]_(?!\[REDACTED\])[A-Za-z0-9]{38}|whsec_(?!\[REDACTED\])[A-Za-z0-9+/]{20,}"
    r"|apikeys_(?:session|device|pending|oidc)=(?!\[REDACTED\])[^;,\s'\"\\]+)"
)


def credentials_in_log(log_path: Path) -> list[str]:
    """Every credential-shaped string a console's log holds (each cut to 12 characters)."""
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    return [match.group(0)[:12] + "…" for match in CREDENTIAL_IN_LOG.finditer(text)]
