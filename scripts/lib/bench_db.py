"""The benchmark's in-process database work (sections expiry and list): the databases they run on,
built row by row, and the timed expiry job and keys page query."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import random
import secrets
import sqlite3
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from scripts.lib.bench_common import Mode, Results, percentile, say
from tests import harness

# ---------------------------------------------------------------- e/f. in-process database work


def _in_process_environment(work_dir: Path) -> None:
    """The service layer reads settings lazily; point them at a throwaway directory, never at data/."""
    os.environ["APIKEYS_DATA_DIR"] = str(work_dir / "inproc")
    os.environ["DATABASE_URL"] = f"sqlite:///{work_dir / 'inproc' / 'unused.db'}"
    os.environ.setdefault("APIKEYS_PEPPER", secrets.token_urlsafe(48))
    os.environ.pop("APIKEYS_ENV", None)
    from rxapp.context import app_context

    app_context.reset()


def _sqlite_timestamps(values: list[dt.datetime]) -> list[str]:
    """Format datetimes exactly as SQLAlchemy stores them in SQLite, so queries compare correctly."""
    from sqlalchemy.dialects import sqlite

    dialect = sqlite.dialect()
    process = sa.DateTime().dialect_impl(dialect).bind_processor(dialect)
    assert process is not None
    return [process(value) for value in values]


def _new_database(path: Path):
    from sqlmodel import SQLModel

    import rxapp.models  # noqa: F401 - registers the tables
    from rxapp.db import make_engine

    engine = make_engine(f"sqlite:///{path}")
    SQLModel.metadata.create_all(engine)
    return engine


def _bulk_connection(path: Path) -> sqlite3.Connection:
    """Setup only (not measured): no journal, no fsync and a large page cache while loading rows.

    The timed work opens the file again through rxapp.db.make_engine (WAL, synchronous=FULL).
    """
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=OFF")
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute("PRAGMA cache_size=-1048576")  # 1 GiB: the random-order digest index stays cached
    connection.execute("PRAGMA foreign_keys=ON")
    return connection


def _insert_users_and_profiles(
    connection: sqlite3.Connection, users: int, profiles_per_user: int, stamp: str
) -> tuple[list[int], dict[int, list[int]]]:
    user_ids = []
    profiles: dict[int, list[int]] = {}
    for number in range(users):
        cursor = connection.execute(
            "INSERT INTO users (email, password_hash, created_at) VALUES (?, ?, ?)",
            (f"owner{number}@example.com", "$argon2id$v=19$m=65536,t=3,p=4$not-a-real-hash", stamp),
        )
        user_id = cursor.lastrowid
        assert user_id is not None
        # a personal workspace with the user's own id, so rows below can use one id for both
        connection.execute(
            "INSERT INTO workspaces (id, public_id, name, personal, created_at)"
            " VALUES (?, ?, 'Personal', 1, ?)",
            (user_id, f"ws_bench{user_id:012d}", stamp),
        )
        connection.execute(
            "INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES (?, ?, 'owner', ?)",
            (user_id, user_id, stamp),
        )
        user_ids.append(user_id)
        profiles[user_id] = []
        for index in range(profiles_per_user):
            cursor = connection.execute(
                "INSERT INTO bias_profiles (owner_id, workspace_id, name, description, categories, "
                "sensitivity, action, created_at, updated_at, version)"
                " VALUES (?1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1)",
                (
                    user_id,
                    f"profile-{index}",
                    "generated",
                    json.dumps(["gender", "age"]),
                    0.5,
                    "flag",
                    stamp,
                    stamp,
                ),
            )
            assert cursor.lastrowid is not None
            profiles[user_id].append(cursor.lastrowid)
    return user_ids, profiles


_INSERT_KEY = (
    "INSERT INTO api_keys (key_id, owner_id, workspace_id, name, digest, masked, status, expires_at, "
    "last_used_at, bias_profile_id, created_at, updated_at, version) "
    "VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 1)"
)
SERVICES = (
    "checkout",
    "billing",
    "search",
    "mobile-app",
    "analytics",
    "crm",
    "warehouse",
    "support-bot",
    "recommendations",
    "payments",
    "email",
    "reporting",
)
ENVIRONMENTS = ("production", "staging", "dev", "ci", "eu", "us")


def _unique_strings(number: int, salt: bytes) -> tuple[str, str]:
    """A realistic-looking digest (random spread in the unique index) and key_id, without HMAC."""
    digest = hashlib.sha256(salt + number.to_bytes(8, "little")).hexdigest()
    return digest, "key_" + hashlib.blake2b(digest.encode(), digest_size=10).hexdigest()[:16]


def build_expiry_database(path: Path, rows: int, due: int) -> dict[str, Any]:
    """`rows` keys over a few users; exactly `due` of them ACTIVE/INACTIVE with an end date in the past."""
    now = dt.datetime.now(dt.UTC)
    engine = _new_database(path)
    engine.dispose()
    past = _sqlite_timestamps([now - dt.timedelta(days=1 + i % 300, minutes=i) for i in range(1000)])
    future = _sqlite_timestamps([now + dt.timedelta(days=1 + i % 365, minutes=i) for i in range(1000)])
    created = _sqlite_timestamps([now - dt.timedelta(days=400 - i % 365, seconds=i) for i in range(1000)])
    used = _sqlite_timestamps([now - dt.timedelta(minutes=i) for i in range(1000)])
    connection = _bulk_connection(path)
    user_ids, profiles = _insert_users_and_profiles(connection, 5, 4, created[0])
    every = rows // due
    assert every * due == rows, "rows must be a multiple of due"
    rng = random.Random(1)
    due_positions = set()
    for block in range(due):  # one due key at a random place in each block of `every` rows
        due_positions.add(block * every + rng.randrange(every))

    def generate():
        for number in range(rows):
            owner = user_ids[number % len(user_ids)]
            digest, key_id = _unique_strings(number, b"expiry")
            kind = number % 10
            t = number % 1000
            if number in due_positions:
                status, expires = ("INACTIVE" if kind == 0 else "ACTIVE"), past[t]
            elif kind in (1, 2):
                status, expires = "EXPIRED", past[t]  # expired earlier: not due again
            elif kind in (3, 4, 5):
                status, expires = "ACTIVE", future[t]
            elif kind == 6:
                status, expires = "INACTIVE", None
            else:
                status, expires = "ACTIVE", None
            profile = profiles[owner][number % 4] if number % 3 else None
            yield (
                key_id,
                owner,
                f"{SERVICES[number % len(SERVICES)]}-{ENVIRONMENTS[number % 6]}-{number}",
                digest,
                "bpk_••••••••" + digest[-4:],
                status,
                expires,
                used[t] if number % 2 else None,
                profile,
                created[t],
                created[t],
            )

    with connection:
        connection.executemany(_INSERT_KEY, generate())
    connection.execute("ANALYZE")
    connection.close()
    return {"users": len(user_ids)}


@dataclass(frozen=True)
class _ExpiryRun:
    expired: int
    seconds: float
    cpu_seconds: float  # this process's CPU: the database's own work on SQLite only
    again: int  # what a second run found (nothing, if the first did all)
    idle_seconds: float
    audit_events: int

    def correct(self, due: int) -> bool:
        return self.expired == due and self.audit_events == due and self.again == 0


def _timed_expiry(engine: Any) -> _ExpiryRun:
    """The expiry job timed twice on `engine` (the due keys, then nothing left), and its audit rows."""
    from rxapp.jobs import expire_due_in_chunks

    started, cpu_started = time.perf_counter(), time.process_time()
    expired = expire_due_in_chunks(engine)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    started = time.perf_counter()
    again = expire_due_in_chunks(engine)
    idle_seconds = time.perf_counter() - started
    with engine.connect() as connection:
        audit_events = connection.execute(
            sa.text("SELECT count(*) FROM audit_events WHERE action = 'key.expire'")
        ).scalar_one()
    return _ExpiryRun(expired, seconds, cpu_seconds, again, idle_seconds, audit_events)


def bench_expiry(mode: Mode, results: Results, work_dir: Path) -> None:
    path = work_dir / "expiry.db"
    say(f"Building the expiry database: {mode.expiry_rows:,} keys, {mode.expiry_due:,} due")
    started = time.perf_counter()
    info = build_expiry_database(path, mode.expiry_rows, mode.expiry_due)
    build_seconds = time.perf_counter() - started
    engine = _new_database(path)  # production engine settings (WAL, synchronous=FULL)
    try:
        say("Timing the expiry job's chunked run (jobs.expire_due_in_chunks)")
        run = _timed_expiry(engine)
        with engine.connect() as connection:
            expired_rows = connection.execute(
                sa.text("SELECT count(*) FROM api_keys WHERE status = 'EXPIRED'")
            ).scalar_one()
    finally:
        engine.dispose()
    results.expiry = {
        "rows": mode.expiry_rows,
        "users": info["users"],
        "due": mode.expiry_due,
        "expired": run.expired,
        "audit_events": run.audit_events,
        "expired_rows_total": expired_rows,
        "seconds": round(run.seconds, 3),
        "cpu_seconds": round(run.cpu_seconds, 3),  # SQLite works in this process: its CPU, without waits
        "second_run_expired": run.again,
        "second_run_seconds": round(run.idle_seconds, 4),
        "build_seconds": round(build_seconds, 1),
        "correct": run.correct(mode.expiry_due),
    }
    path.unlink(missing_ok=True)


PG_EXPIRY_KEYS = """
INSERT INTO api_keys (key_id, owner_id, workspace_id, name, digest, masked, status, expires_at,
                      last_used_at, bias_profile_id, created_at, updated_at, version)
SELECT 'key_' || substr(md5(n::text), 1, 16), (SELECT min(id) FROM users) + n % :users,
       (SELECT min(id) FROM users) + n % :users, 'key-' || n,
       md5(n::text) || md5('x' || n), 'bpk_••••' || n % 10000,
       CASE WHEN n % 10 = 9 AND n % 100 = 9 THEN 'INACTIVE' WHEN n % 10 IN (1, 2) THEN 'EXPIRED'
            WHEN n % 10 = 6 THEN 'INACTIVE' ELSE 'ACTIVE' END,
       CASE WHEN n % 10 IN (1, 2, 9) THEN now() - make_interval(days => 1 + n % 300, mins => n % 1000)
            WHEN n % 10 IN (3, 4, 5) THEN now() + make_interval(days => 1 + n % 365) END,
       CASE WHEN n % 2 = 1 THEN now() - make_interval(mins => n % 1000) END, NULL,
       now() - make_interval(days => 400 - n % 365), now() - make_interval(days => 400 - n % 365), 1
FROM generate_series(0, :rows - 1) AS n
"""


def bench_expiry_postgres(postgres_url: str, mode: Mode, results: Results) -> None:
    """The same job on PostgreSQL: the same mix (every tenth key due), generated by the server."""
    from sqlmodel import SQLModel

    import rxapp.models  # noqa: F401 - registers the tables
    from rxapp.db import make_engine

    harness.reset_postgres(postgres_url)
    engine = make_engine(postgres_url)
    try:
        SQLModel.metadata.create_all(engine)
        say(f"PostgreSQL: building the expiry table ({mode.expiry_rows:,} keys, {mode.expiry_due:,} due)")
        with engine.begin() as connection:
            for number in range(5):
                user_id = connection.execute(
                    sa.text(
                        "INSERT INTO users (email, password_hash, created_at)"
                        " VALUES (:e, 'x', now()) RETURNING id"
                    ),
                    {"e": f"owner{number}@example.com"},
                ).scalar_one()
                # a personal workspace with the user's own id, as on SQLite (keys use one id for both)
                connection.execute(
                    sa.text(
                        "INSERT INTO workspaces (id, public_id, name, personal, created_at)"
                        " VALUES (:id, :public_id, 'Personal', true, now())"
                    ),
                    {"id": user_id, "public_id": f"ws_bench{user_id:012d}"},
                )
                connection.execute(
                    sa.text(
                        "INSERT INTO memberships (workspace_id, user_id, role, created_at)"
                        " VALUES (:id, :id, 'owner', now())"
                    ),
                    {"id": user_id},
                )
            connection.execute(sa.text(PG_EXPIRY_KEYS), {"users": 5, "rows": mode.expiry_rows})
            connection.execute(sa.text("ANALYZE"))
        say("PostgreSQL: timing the expiry job's chunked run")
        run = _timed_expiry(engine)  # (its CPU figure is this process's, not the server's: unused)
    finally:
        engine.dispose()
        harness.reset_postgres(postgres_url)
    results.expiry_pg = {
        "rows": mode.expiry_rows,
        "due": mode.expiry_due,
        "expired": run.expired,
        "audit_events": run.audit_events,
        "seconds": round(run.seconds, 3),
        "second_run_seconds": round(run.idle_seconds, 4),
        "correct": run.correct(mode.expiry_due),
    }


def build_list_database(path: Path, size: int) -> tuple[int, dict[str, Any]]:
    """One user with `size` keys: varied names, 60 % with a profile, half used, mixed status and dates."""
    now = dt.datetime.now(dt.UTC)
    engine = _new_database(path)
    engine.dispose()
    connection = _bulk_connection(path)
    created = _sqlite_timestamps(
        [now - dt.timedelta(days=700) + dt.timedelta(minutes=7 * i) for i in range(size)]
    )
    used = _sqlite_timestamps([now - dt.timedelta(seconds=37 * i) for i in range(size)])
    past = _sqlite_timestamps([now - dt.timedelta(days=1 + i % 90) for i in range(100)])
    future = _sqlite_timestamps([now + dt.timedelta(days=1 + i % 365) for i in range(100)])
    (owner,), profiles = _insert_users_and_profiles(connection, 1, 6, created[0])
    rng = random.Random(size)
    order = list(range(size))
    rng.shuffle(order)  # last_used is not in creation order

    def generate():
        for number in range(size):
            digest, key_id = _unique_strings(number, b"list")
            kind = number % 20
            if kind < 13:
                status, expires = "ACTIVE", None if number % 3 else future[number % 100]
            elif kind < 16:
                status, expires = "INACTIVE", None
            elif kind < 18:
                status, expires = "EXPIRED", past[number % 100]
            else:
                status, expires = "ACTIVE", past[number % 100]  # past its end date, job not yet run
            name = f"{SERVICES[rng.randrange(len(SERVICES))]}-{ENVIRONMENTS[rng.randrange(6)]}-{number}"
            yield (
                key_id,
                owner,
                name,
                digest,
                "bpk_••••••••" + digest[-4:],
                status,
                expires,
                used[order[number]] if number % 2 else None,
                profiles[owner][number % 6] if number % 5 < 3 else None,
                created[number],
                created[number],
            )

    with connection:
        connection.executemany(_INSERT_KEY, generate())
    connection.execute("ANALYZE")
    connection.close()
    return owner, {}


def bench_list(mode: Mode, results: Results, work_dir: Path) -> None:
    from sqlmodel import Session

    from rxapp.services import key_format
    from rxapp.services import keys as key_service
    from rxapp.services import workspaces as workspace_service

    queries = {
        "default (created desc, page 1)": key_service.KeyQuery(),
        "search 'checkout'": key_service.KeyQuery(search="checkout"),
        # Finding a key from the key: the last four as copied from the table (an index seek) and a
        # whole secret (a digest lookup; a well-formed one that no key has).
        "search last four '•…'": key_service.KeyQuery(search="•" + _unique_strings(7, b"list")[0][-4:]),
        "search whole secret": key_service.KeyQuery(search=key_format.generate_secret("bpk")),
        "status ACTIVE": key_service.KeyQuery(status="ACTIVE"),
        "sort by last used": key_service.KeyQuery(sort="last_used"),
        "deep page (page 200)": key_service.KeyQuery(page=200),
    }
    for size in mode.list_sizes:
        path = work_dir / f"list-{size}.db"
        say(f"Keys page query on {size:,} keys")
        owner, _ = build_list_database(path, size)
        engine = _new_database(path)
        try:
            for label, query in queries.items():
                timings, cpu = [], []
                for run in range(mode.list_runs + 1):
                    with Session(engine) as session:
                        started, cpu_started = time.perf_counter(), time.process_time()
                        access = workspace_service.resolve(session, owner)  # the page resolves it too
                        page = key_service.list_keys(session, access, query)
                        elapsed = (time.perf_counter() - started) * 1000
                        cpu_ms = (time.process_time() - cpu_started) * 1000
                    if run:  # the first run warms the connection and the page cache
                        timings.append(elapsed)
                        cpu.append(cpu_ms)
                results.list_query.append(
                    {
                        "keys": size,
                        "query": label,
                        "runs": len(timings),
                        "median_ms": round(statistics.median(timings), 2),
                        "p95_ms": round(percentile(timings, 0.95), 2),
                        "cpu_median_ms": round(statistics.median(cpu), 2),  # SQLite runs in process
                        "total_matches": page.total,
                        "page": page.page,
                        "rows": len(page.rows),
                    }
                )
        finally:
            engine.dispose()
            path.unlink(missing_ok=True)
