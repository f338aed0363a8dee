"""The CLI's programmable-key options for `create-key` (credits, refill, limits, permissions, roles,
meta, IP allowlist, identity), turned into the fields the key service takes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from rxapp.cli_table import EMAIL, KEY_ID, WORKSPACE, arg
from rxapp.db import session_scope
from rxapp.services import keys as key_service
from rxapp.services import programs

PROGRAM_ARGS = (
    arg("--credits", type=int, default=None, help="credits (uses) the key starts with"),
    arg("--refill", default="", help="N/day, N/month or N/month@DAY: sets the balance each period"),
    arg("--limit", action="append", default=[], help="NAME=N/DURATION, e.g. requests=100/1m (repeatable)"),
    arg(
        "--permission",
        action="append",
        default=[],
        help="a permission name, e.g. documents.read (repeatable)",
    ),
    arg(
        "--role",
        action="append",
        default=[],
        help="a role of the workspace's catalogue: the key gets its permissions (repeatable)",
    ),
    arg("--meta", default="", help="a JSON object returned by verify (at most 4 KiB)"),
    arg(
        "--ip-allow",
        action="append",
        default=[],
        help="an IPv4/IPv6 CIDR callers must come from (repeatable)",
    ),
    arg("--identity", default="", help="the identity's external id (made when new)"),
)


def program_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Only the options given; ValidationError (with its code) for a malformed one."""
    given: dict[str, Any] = {}
    if args.credits is not None:
        given["credits"] = args.credits
    if args.refill:
        given["refill"] = programs.parse_refill_text(args.refill)
    if args.limit:
        given["ratelimits"] = [programs.parse_limit_text(text) for text in args.limit]
    if args.permission:
        given["permissions"] = list(args.permission)
    if args.role:
        given["roles"] = list(args.role)
    if args.meta:
        given["meta"] = programs.parse_meta_text(args.meta)
    if args.ip_allow:
        given["ip_allow"] = list(args.ip_allow)
    if args.identity:
        given["identity"] = args.identity
    return given


SET_CREDITS_ARGS = (EMAIL, KEY_ID, arg("credits", type=int), WORKSPACE)


def set_credits_with(acting: Callable[[Any, argparse.Namespace], tuple[Any, str]]) -> Callable[..., int]:
    """`set-credits EMAIL KEY_ID N`: the key's remaining credits (audited); a key without gains them.
    `acting` is the CLI's find-user step (rxapp/__main__.py)."""

    def set_credits(args: argparse.Namespace) -> int:
        with session_scope() as session:
            access, actor = acting(session, args)
            changes = key_service.KeyChanges.model_validate({"credits": args.credits})
            key = key_service.update_key(session, access, actor, args.key_id, changes, client_address="cli")
        print(f"{key.key_id}: {key.credits} credits", file=sys.stderr)
        return 0

    return set_credits
