"""CLI commands for leak reports: scanner rules for the key and token formats, and the
workspace's leak policy. Rows for the command table in `rxapp/__main__.py`."""

from __future__ import annotations

import argparse
import sys

from rxapp.cli_common import acting
from rxapp.cli_table import EMAIL, Command, arg
from rxapp.context import get_settings
from rxapp.db import session_scope
from rxapp.services import leaks, scanner_rules


def print_scanner_rules(args: argparse.Namespace) -> int:
    """Needs no database: the formats are fixed, the key prefix is the configured one."""
    sys.stdout.write(scanner_rules.render(args.format, get_settings().key_prefix))
    return 0


def set_leak_policy(args: argparse.Namespace) -> int:
    with session_scope() as session:
        access, actor = acting(session, args)
        policy = leaks.set_policy(session, access, actor, args.policy, client_address="cli")
    print(f"Leak policy of {access.workspace_name!r} is now {policy}", file=sys.stderr)
    return 0


LEAK_COMMANDS = (
    Command(
        "scanner-rules",
        print_scanner_rules,
        "print secret-scanner rules (regex) for this console's keys and management tokens",
        (arg("--format", required=True, choices=list(scanner_rules.FORMATS)),),
    ),
    Command(
        "set-leak-policy",
        set_leak_policy,
        "what a leak report does to a workspace's keys (owners)",
        (
            EMAIL,
            arg("policy", choices=list(leaks.POLICIES)),
            arg("--workspace", default="", help="workspace name (default: personal)"),
        ),
    ),
)
