"""CLI command for workspace key policies (issue 26, item 4): `set-policy EMAIL WORKSPACE [...]`
changes the rules given (the others stay) and prints the existing keys that break the policy.
A row for the command table in `rxapp/__main__.py`."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from rxapp.cli_common import CLI_ACTOR_SUFFIX, find_user
from rxapp.cli_table import Command, arg
from rxapp.db import session_scope
from rxapp.services import key_policies
from rxapp.services import workspaces as workspace_service

_UNCHANGED = object()


def days_or_none(text: str) -> int | None:
    """`--max-lifetime 90` or `none` (no such rule); the service checks the range."""
    cleaned = text.strip().lower()
    if cleaned in ("none", "off", ""):
        return None
    if not cleaned.isdecimal() or len(cleaned) > 6:
        raise argparse.ArgumentTypeError(f"expected a number of days or 'none', not {text[:20]!r}")
    return int(cleaned)


def describe(policy: key_policies.KeyPolicy) -> str:
    def days(value: int | None) -> str:
        return f"{value} days" if value else "none"

    return (
        f"max lifetime {days(policy.max_lifetime_days)}, default lifetime "
        f"{days(policy.default_lifetime_days)}, Bias Profile "
        f"{'required' if policy.require_bias_profile else 'not required'}, disable unused keys after "
        f"{days(policy.disable_unused_after_days)}"
    )


def set_policy(args: argparse.Namespace) -> int:
    """Options not given keep their value; with none, the policy is only shown."""
    with session_scope() as session:
        user = find_user(session, args.email)
        if args.workspace.startswith("ws_"):
            access = workspace_service.resolve(session, user.id, args.workspace)
        else:
            access = workspace_service.resolve_by_name(session, user.id, args.workspace)
        current = key_policies.values_of(key_policies.get_policy(session, access))
        given = {
            field: value
            for field, value in (
                ("max_lifetime_days", args.max_lifetime),
                ("default_lifetime_days", args.default_lifetime),
                ("require_bias_profile", args.require_profile),
                ("disable_unused_after_days", args.disable_unused),
            )
            if value is not _UNCHANGED
        }
        if given:
            found = key_policies.set_policy(
                session,
                access,
                user.email + CLI_ACTOR_SUFFIX,
                dataclasses.replace(current, **given),
                client_address="cli",
            )
        else:
            found = key_policies.view(session, access)
    print("KEY_ID\tNAME\tBREAKS")
    for violation in found.violations:
        print("\t".join([violation.key_id, violation.name, "; ".join(p.message for p in violation.problems)]))
    more = found.violations_total - len(found.violations)
    print(
        f"Key policy of {access.workspace_name!r}: {describe(found.policy)}. "
        f"{found.violations_total} existing key(s) break it{f' ({more} not listed)' if more else ''}; "
        "none was changed.",
        file=sys.stderr,
    )
    return 0


POLICY_COMMANDS = (
    Command(
        "set-policy",
        set_policy,
        "a workspace's key policy (owners); lists the existing keys that break it",
        (
            arg("email", help="an owner of the workspace"),
            arg("workspace", help="workspace name (or its ws_ id)"),
            arg("--max-lifetime", type=days_or_none, default=_UNCHANGED, metavar="DAYS|none"),
            arg("--default-lifetime", type=days_or_none, default=_UNCHANGED, metavar="DAYS|none"),
            arg(
                "--require-profile",
                action=argparse.BooleanOptionalAction,
                default=_UNCHANGED,
                help="every key needs a Bias Profile (--no-require-profile: not)",
            ),
            arg("--disable-unused", type=days_or_none, default=_UNCHANGED, metavar="DAYS|none"),
        ),
    ),
)
