"""Operator CLI: `python -m rxapp <command>`. It calls the same service layer as the console."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import sys
from pathlib import Path

from rxapp.db import session_scope
from rxapp.models import utc_now
from rxapp.services import keys as key_service
from rxapp.services import profiles as profile_service
from rxapp.services import rolling, usage
from rxapp.services import users as user_service
from rxapp.services.errors import ServiceError
from rxapp.settings import InsecureConfigurationError
from rxapp.startup import ensure_same_pepper

CLI_ACTOR_SUFFIX = " (cli)"


def _read_password(confirm: bool) -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("Password: ")
    if confirm and getpass.getpass("Repeat password: ") != password:
        raise ServiceError("The passwords do not match.")
    return password


def _user(session, email: str):
    user = user_service.find_user(session, email)
    if user is None:
        raise ServiceError(f"No user with email {email!r}. Create it with `create-user` first.")
    return user


def _parse_time(value: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ServiceError(f"Not an ISO 8601 date/time: {value!r}.") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def create_user(args: argparse.Namespace) -> int:
    password = _read_password(confirm=True)
    with session_scope() as session:
        user = user_service.sign_up(session, args.email, password, client_address="cli")
    print(f"Created user {user.email}", file=sys.stderr)
    return 0


def create_profile(args: argparse.Namespace) -> int:
    categories = [part.strip() for part in args.categories.split(",") if part.strip()]
    with session_scope() as session:
        user = _user(session, args.email)
        profile = profile_service.create_profile(
            session,
            user.id,
            user.email + CLI_ACTOR_SUFFIX,
            args.name,
            description=args.description,
            categories=categories,
            sensitivity=args.sensitivity,
            action=args.action,
            client_address="cli",
        )
    print(f"Created bias profile {profile.name!r} (id {profile.id})", file=sys.stderr)
    return 0


def create_key(args: argparse.Namespace) -> int:
    expires_at = _parse_time(args.expires_at) if args.expires_at else None
    with session_scope() as session:
        user = _user(session, args.email)
        profile_id = None
        if args.profile:
            profile_id = profile_service.find_profile_by_name(session, user.id, args.profile).id
        created = key_service.create_key(
            session,
            user.id,
            user.email + CLI_ACTOR_SUFFIX,
            args.name,
            bias_profile_id=profile_id,
            expires_at=expires_at,
            rate_limit_per_minute=args.rate_limit,
            client_address="cli",
        )
    # Committed before the secret is shown. Only the secret goes to stdout, for scripts.
    print(created.secret)
    print(
        f"Created {created.key.key_id} ({created.key.masked}); store the key now, it is not shown again.",
        file=sys.stderr,
    )
    return 0


def roll_key(args: argparse.Namespace) -> int:
    with session_scope() as session:
        user = _user(session, args.email)
        rolled = rolling.roll_key(
            session,
            user.id,
            user.email + CLI_ACTOR_SUFFIX,
            args.key_id,
            rolling.parse_grace(args.grace),
            client_address="cli",
        )
    print(rolled.new.secret)  # committed above; only the new secret on stdout, for scripts
    print(
        f"Rolled {rolled.old_key_id} to {rolled.new.key.key_id} ({rolled.new.key.masked}); the old key "
        f"works until {rolled.old_expires_at.isoformat()}. Store the new key now, it is not shown again.",
        file=sys.stderr,
    )
    return 0


def key_usage(args: argparse.Namespace) -> int:
    window = usage.WINDOWS[args.window]
    with session_scope() as session:
        user = _user(session, args.email)
        row_id = key_service.key_row_id(session, user.id, args.key_id)
        totals = usage.usage_totals(session, [row_id], utc_now() - window).get(row_id, {})
    print("OUTCOME\tCALLS")
    for outcome in usage.OUTCOMES:
        print(f"{outcome}\t{totals.get(outcome, 0)}")
    return 0


def list_keys(args: argparse.Namespace) -> int:
    with session_scope() as session:
        user = _user(session, args.email)
        page = 1
        print("KEY_ID\tNAME\tKEY\tSTATUS\tLAST_USED\tBIAS_PROFILE\tEXPIRES")
        while True:
            result = key_service.list_keys(
                session, user.id, key_service.KeyQuery(page=page, page_size=100, sort="created")
            )
            for row in result.rows:
                print(
                    "\t".join(
                        [
                            row.key_id,
                            row.name,
                            row.masked,
                            row.status,
                            row.last_used_at.isoformat() if row.last_used_at else "Never",
                            row.bias_profile_name or "None",
                            row.expires_at.isoformat() if row.expires_at else "Never",
                        ]
                    )
                )
            if page * result.page_size >= result.total:
                break
            page += 1
    return 0


def set_key_status(args: argparse.Namespace) -> int:
    with session_scope() as session:
        user = _user(session, args.email)
        key = key_service.update_key(
            session,
            user.id,
            user.email + CLI_ACTOR_SUFFIX,
            args.key_id,
            key_service.parse_changes({"status": args.status}),
            client_address="cli",
        )
    print(f"{key.key_id} is now {key.status}", file=sys.stderr)
    return 0


def delete_key(args: argparse.Namespace) -> int:
    with session_scope() as session:
        user = _user(session, args.email)
        key_service.delete_key(
            session, user.id, user.email + CLI_ACTOR_SUFFIX, args.key_id, client_address="cli"
        )
    print(f"Deleted {args.key_id}", file=sys.stderr)
    return 0


def expire_keys(_args: argparse.Namespace) -> int:
    from rxapp.jobs import expire_keys_once

    print(f"{expire_keys_once()} key(s) marked EXPIRED")
    return 0


def backup(args: argparse.Namespace) -> int:
    from rxapp import backup as backups
    from rxapp.settings import get_settings

    result = backups.backup(get_settings().database_url, Path(args.path))
    print(f"Backed up the {result.backend} database to {result.path} ({result.detail}).", file=sys.stderr)
    print("The pepper is not in the backup: keep APIKEYS_PEPPER (or data/pepper) apart.", file=sys.stderr)
    return 0


def restore(args: argparse.Namespace) -> int:
    from rxapp import backup as backups
    from rxapp.settings import get_settings

    result = backups.restore(get_settings().database_url, Path(args.path), force=args.force)
    print(f"Restored {result.path} ({result.detail}). Start with the pepper of the backup.", file=sys.stderr)
    return 0


def doctor(_args: argparse.Namespace) -> int:
    from rxapp import doctor as checks

    return checks.main()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rxapp", description="API key console operator CLI")
    commands = parser.add_subparsers(dest="command", required=True)

    command = commands.add_parser("create-user", help="create a user (password from stdin when piped)")
    command.add_argument("email")
    command.set_defaults(handler=create_user)

    command = commands.add_parser("create-profile", help="create a bias profile for a user")
    command.add_argument("email")
    command.add_argument("name")
    command.add_argument("--description", default="")
    command.add_argument("--categories", default="", help="comma-separated, e.g. gender,age")
    command.add_argument("--sensitivity", type=float, default=0.5)
    command.add_argument("--action", default="flag", choices=["flag", "block", "rewrite"])
    command.set_defaults(handler=create_profile)

    command = commands.add_parser("create-key", help="create a key; prints only the secret on stdout")
    command.add_argument("email")
    command.add_argument("name")
    command.add_argument("--profile", default="", help="bias profile name")
    command.add_argument("--expires-at", default="", help="ISO 8601 end date (UTC if no offset)")
    command.add_argument("--rate-limit", type=int, default=None, help="calls per minute (default: none)")
    command.set_defaults(handler=create_key)

    command = commands.add_parser("roll-key", help="roll a key; prints only the new secret on stdout")
    command.add_argument("email")
    command.add_argument("key_id")
    command.add_argument("--grace", default="24h", choices=list(rolling.GRACE_CHOICES))
    command.set_defaults(handler=roll_key)

    command = commands.add_parser("key-usage", help="calls of a key by outcome over a window")
    command.add_argument("email")
    command.add_argument("key_id")
    command.add_argument("--window", default="24h", choices=list(usage.WINDOWS))
    command.set_defaults(handler=key_usage)

    command = commands.add_parser("list-keys", help="list a user's keys (masked)")
    command.add_argument("email")
    command.set_defaults(handler=list_keys)

    command = commands.add_parser("set-key-status", help="turn a key ACTIVE or INACTIVE")
    command.add_argument("email")
    command.add_argument("key_id")
    command.add_argument("status", choices=["ACTIVE", "INACTIVE"])
    command.set_defaults(handler=set_key_status)

    command = commands.add_parser("delete-key", help="delete a key permanently")
    command.add_argument("email")
    command.add_argument("key_id")
    command.set_defaults(handler=delete_key)

    command = commands.add_parser("expire-keys", help="mark due keys EXPIRED once (for cron)")
    command.set_defaults(handler=expire_keys)

    command = commands.add_parser("backup", help="online, consistent backup of the database to PATH")
    command.add_argument("path")
    command.set_defaults(handler=backup)

    command = commands.add_parser("restore", help="restore a backup into the configured database")
    command.add_argument("path")
    command.add_argument("--force", action="store_true", help="replace a database that holds data")
    command.set_defaults(handler=restore)

    command = commands.add_parser("doctor", help="check the configuration, one line per check")
    command.set_defaults(handler=doctor)
    return parser


_NO_PEPPER_CHECK = {doctor}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.handler not in _NO_PEPPER_CHECK:  # the doctor reports configuration problems itself
            ensure_same_pepper()
        return args.handler(args)
    except ServiceError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 1
    except InsecureConfigurationError as error:  # one clear line, no traceback
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
