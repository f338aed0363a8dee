"""What every CLI command shares: reading a password, finding the acting user and their access,
and reading `--expires-at`. Kept apart from the command table in `rxapp/__main__.py`."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import sys

from rxapp.models import utc_now
from rxapp.services import moments
from rxapp.services import users as user_service
from rxapp.services import workspaces as workspace_service
from rxapp.services.access import Access
from rxapp.services.errors import ServiceError

CLI_ACTOR_SUFFIX = " (cli)"


def read_password(confirm: bool) -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("Password: ")
    if confirm and getpass.getpass("Repeat password: ") != password:
        raise ServiceError("The passwords do not match.")
    return password


def find_user(session, email: str):
    user = user_service.find_user(session, email)
    if user is None:
        raise ServiceError(f"No user with email {email!r}. Create it with `create-user` first.")
    return user


def acting(session, args: argparse.Namespace) -> tuple[Access, str]:
    """The one find-user step of every key/profile command: the user's access to --workspace
    (default: their personal workspace), role-checked by the service it is passed to, and the
    actor name the audit trail records."""
    user = find_user(session, args.email)
    access = workspace_service.resolve_by_name(session, user.id, getattr(args, "workspace", "") or "")
    return access, user.email + CLI_ACTOR_SUFFIX


EXPIRES_HELP = "YYYY-MM-DD (the end of that day, your time) or ISO 8601 (UTC if no offset)"


def parse_time(value: str) -> dt.datetime:
    """`--expires-at` text: a bare date (YYYY-MM-DD) is the end of that day in this shell's time
    zone, as an end date is everywhere (keys and tokens alike); a date and time is taken as given
    (UTC if no offset). The service checks its range (rxapp/services/moments)."""
    if moments.is_bare_date(value):
        zone = dt.datetime.now().astimezone().tzinfo or dt.UTC
        return moments.local_end_date(value, zone, utc_now(), label="--expires-at")
    return moments.parse(value, field="expires_at", label="--expires-at")
