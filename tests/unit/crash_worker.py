"""Child processes for the crash-safety test: each creates and edits keys until it is killed.

A secret is written only after its transaction committed, exactly like the console shows it.

Run as a zygote (`python crash_worker.py DATABASE_URL`): it imports the app once, then forks one
worker per line `go PATH` read from stdin (answering `pid N`), and reaps it on `reap N` (answering
`reaped N`). Each worker is a fresh process with no connection inherited (the zygote never opens
the database), killed with a real SIGKILL; only Python's 1.5 s of imports is no longer paid 50
times.
"""

from __future__ import annotations

import os
import sys

from sqlmodel import SQLModel

from rxapp import models  # noqa: F401  (registers the tables)
from rxapp.db import make_engine, session_scope
from rxapp.services import keys as key_service
from rxapp.services import users as user_service
from rxapp.services import workspaces as workspace_service


def work(database_url: str, shown_path: str) -> None:
    """Create and rename keys forever; each secret goes to `shown_path` after its commit."""
    shown = os.open(shown_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    engine = make_engine(database_url)
    SQLModel.metadata.create_all(engine)
    with session_scope(engine) as session:
        user = user_service.find_user(session, "crash@example.com")
        if user is None:
            user = user_service.sign_up(session, "crash@example.com", "crash-test-password-1")
    counter = 0
    while True:
        counter += 1
        with session_scope(engine) as session:
            created = key_service.create_key(
                session, workspace_service.resolve(session, user.id), user.email, f"crash-{counter}"
            )
        os.write(shown, f"{created.secret}\n".encode())  # unbuffered: in the file once written
        with session_scope(engine) as session:
            key_service.update_key(
                session,
                workspace_service.resolve(session, user.id),
                user.email,
                created.key.key_id,
                key_service.parse_changes({"name": f"crash-{counter}-renamed"}),
            )


def zygote(database_url: str) -> None:
    for line in sys.stdin:
        command, argument = line.split(maxsplit=1)
        argument = argument.strip()
        if command == "go":
            pid = os.fork()
            if pid == 0:
                try:
                    work(database_url, argument)
                finally:
                    os._exit(1)
            print(f"pid {pid}", flush=True)
        elif command == "reap":
            os.waitpid(int(argument), 0)
            print(f"reaped {argument}", flush=True)


if __name__ == "__main__":
    zygote(sys.argv[1])
