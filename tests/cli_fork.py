"""The operator CLI for tests, without paying Python's start-up on every call.

`python -m rxapp ...` spends about 1.5 s importing (SQLAlchemy, SQLModel, argon2, webauthn) before
it does anything, and the suite calls the CLI about a thousand times per backend: most of the
run went into imports. A forkserver process imports `rxapp.__main__` once; every call forks a fresh
child from it that takes the caller's environment, working directory, stdin, stdout and stderr and
runs the module as `__main__` exactly as `python -m rxapp` does. Each call is still its own process
(nothing is shared between calls or with the test process); importing the CLI reads no setting
(checked below), so the preloaded modules carry nothing from the forkserver's environment.

Only the standard library here: the forkserver imports this module too.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import runpy
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_context = None


def _forkserver():
    global _context
    if _context is None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["tests.cli_fork", "rxapp.__main__"])
        _context = context
    return _context


def _child(env: dict[str, str], args: list[str], stdin_path: str, stdout_path: str, stderr_path: str) -> None:
    """Runs in the forked child: become `python -m rxapp ARGS` with this environment and these files."""
    from rxapp import db
    from rxapp.context import app_context

    # Nothing the forkserver imported may have read a setting (it ran with the test process's
    # environment); if something did, this call must not see it.
    app_context.reset()
    db.get_engine.cache_clear()
    os.environ.clear()
    os.environ.update(env)
    os.chdir(ROOT)
    for fd, path, flags in (
        (0, stdin_path, os.O_RDONLY),
        (1, stdout_path, os.O_WRONLY),
        (2, stderr_path, os.O_WRONLY),
    ):
        opened = os.open(path, flags)
        os.dup2(opened, fd)
        os.close(opened)
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115 - the process's stdin until it exits
    sys.argv = [str(ROOT / "rxapp" / "__main__.py"), *args]
    sys.modules.pop("rxapp.__main__", None)  # preloaded for its imports; it runs afresh as __main__
    code = 0
    try:
        runpy.run_module("rxapp", run_name="__main__", alter_sys=True)
    except SystemExit as done:
        if done.code is None:
            code = 0
        elif isinstance(done.code, int):
            code = done.code
        else:
            print(done.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    atexit._run_exitfuncs()  # what the interpreter does at exit (logging.shutdown flushes handlers)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run(
    env: dict[str, str], *args: str, input_text: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """`python -m rxapp ARGS` with `env`, returned as subprocess.run(..., capture_output=True) would."""
    with tempfile.TemporaryDirectory(prefix="cli-") as folder:
        stdin_path = os.path.join(folder, "stdin")
        stdout_path = os.path.join(folder, "stdout")
        stderr_path = os.path.join(folder, "stderr")
        with open(stdin_path, "w", encoding="utf-8") as stdin:
            stdin.write(input_text or "")
        for path in (stdout_path, stderr_path):
            open(path, "w").close()
        process = _forkserver().Process(
            target=_child, args=(dict(env), list(args), stdin_path, stdout_path, stderr_path)
        )
        process.start()
        process.join(timeout)
        if process.is_alive():
            process.kill()
            process.join()
            raise subprocess.TimeoutExpired(["python", "-m", "rxapp", *args], timeout)
        with open(stdout_path, encoding="utf-8", errors="replace") as out:
            stdout = out.read()
        with open(stderr_path, encoding="utf-8", errors="replace") as err:
            stderr = err.read()
    returncode = process.exitcode if process.exitcode is not None else 1
    return subprocess.CompletedProcess(["python", "-m", "rxapp", *args], returncode, stdout, stderr)
