"""Child process for the crash-safety test: creates and edits keys until it is killed.

A secret is printed only after its transaction committed, exactly like the console shows it.
"""

from __future__ import annotations

import sys

from sqlmodel import SQLModel

from rxapp import models  # noqa: F401  (registers the tables)
from rxapp.db import make_engine, session_scope
from rxapp.services import keys as key_service
from rxapp.services import users as user_service
from rxapp.services import workspaces as workspace_service


def main(database_url: str) -> None:
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
        print(created.secret, flush=True)
        with session_scope(engine) as session:
            key_service.update_key(
                session,
                workspace_service.resolve(session, user.id),
                user.email,
                created.key.key_id,
                key_service.parse_changes({"name": f"crash-{counter}-renamed"}),
            )


if __name__ == "__main__":
    main(sys.argv[1])
