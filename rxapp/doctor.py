"""`python -m rxapp doctor`: check the configuration before starting, one line and verdict per check.

Verdicts: OK, WARN (works, but look at it), FAIL (the console would not run correctly). Exit code 1
when anything fails, so `scripts/run --prod` stops before starting a broken console.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rxapp import settings as settings_module
from rxapp.context import app_context
from rxapp.metrics_dir import ENV_VAR as METRICS_DIR_ENV
from rxapp.metrics_dir import is_private

OK, WARN, FAIL = "OK", "WARN", "FAIL"


@dataclass(frozen=True)
class Check:
    name: str
    verdict: str
    detail: str


def _settings() -> settings_module.Settings:
    app_context.reset()  # read the environment as it is now
    return app_context.settings


def check_pepper() -> Check:
    try:
        current = _settings()
    except (settings_module.InsecureConfigurationError, ValueError) as error:
        return Check("settings", FAIL, str(error))
    if current.pepper_is_generated:
        where = current.data_dir / "pepper"
        return Check("pepper", OK, f"pepper from {where} (0600): keep a backup of it with the database")
    return Check("pepper", OK, f"APIKEYS_PEPPER set ({len(current.pepper)} characters)")


def check_origins(current: settings_module.Settings) -> Check:
    origins = current.allowed_origins
    if "*" in origins:
        return Check("origins", FAIL, "'*' lets any site open the websocket; list the console's origins")
    plain = [o for o in origins if o.startswith("http://") and "localhost" not in o and "127.0.0.1" not in o]
    if current.production and plain:
        return Check("origins", WARN, f"plain-HTTP origins in production: {', '.join(plain)}")
    return Check("origins", OK, ", ".join(origins))


def check_database(current: settings_module.Settings) -> Check:
    import sqlalchemy as sa

    from rxapp.db import make_engine

    engine = make_engine(current.database_url)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except Exception as error:
        return Check("database", FAIL, f"unreachable: {type(error).__name__}")
    finally:
        engine.dispose()
    return Check("database", OK, f"{engine.dialect.name} reachable")


def _revisions(current: settings_module.Settings) -> tuple[set[str], set[str], set[str]]:
    """(this release's heads, every revision it knows, the database's current revisions)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from rxapp.db import make_engine

    script = ScriptDirectory(str(settings_module.PROJECT_ROOT / "alembic"))
    known = {revision.revision for revision in script.walk_revisions()}
    engine = make_engine(current.database_url)
    try:
        with engine.connect() as connection:
            applied = set(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()
    return set(script.get_heads()), known, applied


def database_is_ahead() -> bool:
    """True when a release newer than this one has migrated the database (revisions this release
    does not know): during a rolling upgrade this release runs beside it without migrating."""
    _heads, known, applied = _revisions(_settings())
    return bool(applied) and not applied & known


def check_migrations(current: settings_module.Settings) -> Check:
    try:
        heads, known, applied = _revisions(current)
    except Exception as error:
        return Check("migrations", FAIL, f"cannot read the revision: {type(error).__name__}")
    if applied == heads:
        return Check("migrations", OK, f"at head {', '.join(sorted(heads))}")
    if applied and not applied & known:
        return Check(
            "migrations",
            WARN,
            f"database at {', '.join(sorted(applied))}, which a newer release made: this release "
            "runs beside it while that release's migrations only expand (docs/operations.md, Upgrading)",
        )
    return Check("migrations", FAIL, "database not at head: run `reflex db migrate` (scripts/run does)")


def check_fingerprint(current: settings_module.Settings) -> Check:
    """The database's pepper fingerprint against the configured pepper: a mismatch means no key
    verifies (a restored backup or a moved database with another installation's pepper)."""
    import hmac

    import sqlalchemy as sa

    from rxapp.db import make_engine, session_scope
    from rxapp.services import instance

    engine = make_engine(current.database_url)
    try:
        if not sa.inspect(engine).has_table("app_meta"):
            return Check("fingerprint", OK, "none recorded yet (the database is not migrated)")
        with session_scope(engine) as session:
            recorded = instance.recorded_fingerprint(session)
    except Exception as error:
        return Check("fingerprint", FAIL, f"cannot read the pepper fingerprint: {type(error).__name__}")
    finally:
        engine.dispose()
    mine = instance.pepper_fingerprint(current.pepper)
    if recorded is None:
        return Check("fingerprint", OK, f"none recorded yet; the first start records {mine[:8]}…")
    if not hmac.compare_digest(recorded, mine):
        return Check(
            "fingerprint",
            FAIL,
            f"the database was made with another pepper (fingerprint {recorded[:8]}…, the configured "
            f"pepper's is {mine[:8]}…): no key would verify; configure the pepper that made it",
        )
    return Check("fingerprint", OK, f"the database matches the configured pepper ({mine[:8]}…)")


def check_redis(current: settings_module.Settings) -> Check:
    if not current.redis_url:
        return Check("redis", OK, "not configured (one worker, in-process state)")
    import redis

    client = redis.Redis.from_url(current.redis_url, socket_timeout=3, socket_connect_timeout=3)
    try:
        client.ping()
    except Exception as error:
        return Check("redis", FAIL, f"unreachable: {type(error).__name__}")
    finally:
        client.close()
    return Check("redis", OK, "reachable")


def check_data_folder(current: settings_module.Settings) -> Check:
    folder = current.data_dir
    if not folder.is_dir():
        return Check("data folder", FAIL, f"{folder} does not exist")
    if not os.access(folder, os.W_OK):
        return Check("data folder", FAIL, f"{folder} is not writable by this user")
    problems = []
    if folder.stat().st_mode & stat.S_IWOTH:
        problems.append(f"{folder} is world-writable")
    for name in ("pepper", "console.db"):
        path = folder / name
        if path.exists() and path.stat().st_mode & stat.S_IROTH:
            problems.append(f"{path.name} is world-readable (chmod 600)")
    metrics_dir = os.environ.get(METRICS_DIR_ENV)
    if metrics_dir and Path(metrics_dir).exists() and not is_private(metrics_dir):
        problems.append(f"{METRICS_DIR_ENV} is readable by others (chmod 700)")
    if problems:
        return Check("data folder", WARN, "; ".join(problems))
    return Check("data folder", OK, f"{folder} writable, not world-readable")


def check_clock(current: settings_module.Settings) -> Check:
    now = dt.datetime.now(dt.UTC)
    if not dt.datetime(2024, 1, 1, tzinfo=dt.UTC) < now < dt.datetime(2100, 1, 1, tzinfo=dt.UTC):
        return Check("clock", FAIL, f"implausible system time {now.isoformat()}")
    if not current.is_sqlite:
        import sqlalchemy as sa

        from rxapp.db import make_engine

        engine = make_engine(current.database_url)
        try:
            with engine.connect() as connection:
                server = connection.execute(sa.text("SELECT now()")).scalar_one()
        except Exception:
            return Check("clock", WARN, "could not read the database server's clock")
        finally:
            engine.dispose()
        skew = abs((server - dt.datetime.now(dt.UTC)).total_seconds())
        if skew > 5:
            return Check("clock", FAIL, f"database clock differs by {skew:.0f} s (end dates would be off)")
        return Check("clock", OK, f"{now.isoformat(timespec='seconds')}, database within {skew:.1f} s")
    return Check("clock", OK, now.isoformat(timespec="seconds"))


def run_checks() -> list[Check]:
    results = [check_pepper()]
    try:
        current = _settings()
    except (settings_module.InsecureConfigurationError, ValueError):
        return results  # the pepper line already says why
    steps: list[Callable[[settings_module.Settings], Check]] = [
        check_origins,
        check_database,
        check_migrations,
        check_fingerprint,
        check_redis,
        check_data_folder,
        check_clock,
    ]
    for step in steps:
        try:
            results.append(step(current))
        except Exception as error:  # a broken check is a failed check, not a crash
            results.append(
                Check(step.__name__.removeprefix("check_"), FAIL, f"{type(error).__name__}: {error}")
            )
    return results


def main() -> int:
    results = run_checks()
    for check in results:
        print(f"{check.verdict:<4}  {check.name:<12} {check.detail}")
    return 1 if any(check.verdict == FAIL for check in results) else 0
