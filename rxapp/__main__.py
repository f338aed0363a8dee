"""Operator CLI: `python -m rxapp <command>`. It calls the same service layer as the console."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rxapp.cli_common import CLI_ACTOR_SUFFIX, EXPIRES_HELP, acting, find_user, parse_time, read_password
from rxapp.cli_leaks import LEAK_COMMANDS, print_scanner_rules
from rxapp.cli_policy import POLICY_COMMANDS
from rxapp.cli_programs import PROGRAM_ARGS, SET_CREDITS_ARGS, program_from_args, set_credits_with
from rxapp.cli_table import EMAIL, KEY_ID, WORKSPACE, Command, arg
from rxapp.cli_webhooks import COMMANDS as WEBHOOK_COMMANDS
from rxapp.db import session_scope
from rxapp.models import ProfileAction, utc_now
from rxapp.services import admin, rolling, two_factor, usage
from rxapp.services import keys as key_service
from rxapp.services import profiles as profile_service
from rxapp.services import tokens as token_service
from rxapp.services import users as user_service
from rxapp.services import workspaces as workspace_service
from rxapp.services.errors import ServiceError
from rxapp.settings import InsecureConfigurationError
from rxapp.startup import ensure_same_pepper


def create_user(args: argparse.Namespace) -> int:
    """Allowed under every sign-up policy: the operator decides."""
    password = read_password(confirm=True)
    with session_scope() as session:
        user = user_service.sign_up(session, args.email, password, client_address="cli", admin=args.admin)
    print(f"Created user {user.email}" + (" (instance admin)" if user.is_admin else ""), file=sys.stderr)
    return 0


def reset_password(args: argparse.Namespace) -> int:
    password = read_password(confirm=True)
    with session_scope() as session:
        admin.reset_password(session, "operator (cli)", args.email, password, client_address="cli")
    print(f"New password set for {args.email}; their sessions have ended.", file=sys.stderr)
    return 0


def sso_unlink(args: argparse.Namespace) -> int:
    with session_scope() as session:
        gone = admin.unlink_sso(session, "operator (cli)", args.email, client_address="cli")
    if gone:
        print(f"{args.email}: unbound; its next single sign-on binds it again", file=sys.stderr)
    else:
        print(f"{args.email} was bound to no one at the single sign-on provider", file=sys.stderr)
    return 0


def _set_disabled(disabled: bool):
    def handler(args: argparse.Namespace) -> int:
        with session_scope() as session:
            admin.set_disabled(session, "operator (cli)", args.email, disabled, client_address="cli")
        print(f"{args.email} is now {'disabled' if disabled else 'enabled'}", file=sys.stderr)
        return 0

    return handler


def reset_2fa(args: argparse.Namespace) -> int:
    with session_scope() as session:
        two_factor.reset(session, args.email)
    print(
        f"Two-factor sign-in is off and the passkeys are gone for {args.email}: the password alone signs in.",
        file=sys.stderr,
    )
    return 0


disable_user = _set_disabled(True)
enable_user = _set_disabled(False)


def create_workspace(args: argparse.Namespace) -> int:
    with session_scope() as session:
        user = find_user(session, args.email)
        workspace = workspace_service.create_workspace(
            session, user.id, user.email + CLI_ACTOR_SUFFIX, args.name, client_address="cli"
        )
    print(workspace.public_id)
    print(f"Created workspace {workspace.name!r} owned by {args.email}", file=sys.stderr)
    return 0


def remove_member(args: argparse.Namespace) -> int:
    """An owner removes a member; the member's management tokens in that workspace end for good."""
    with session_scope() as session:
        owner = find_user(session, args.email)
        access = workspace_service.resolve_by_name(session, owner.id, args.workspace)
        member = find_user(session, args.member)
        workspace_service.remove_member(session, access, member.id, client_address="cli")
    print(f"Removed {args.member} from {args.workspace!r}", file=sys.stderr)
    return 0


def invite(args: argparse.Namespace) -> int:
    """Prints the invitation link (shown once): the inviter must be an owner of the workspace."""
    from rxapp import routes

    with session_scope() as session:
        user = find_user(session, args.email)
        access = workspace_service.resolve_by_name(session, user.id, args.workspace)
        token, invitation = workspace_service.create_invitation(
            session, access, args.role, days=args.days, note=args.note, client_address="cli"
        )
    print(f"{args.base_url.rstrip('/')}{routes.invitation_path(token)}")
    print(
        f"Invitation to {access.workspace_name!r} as {invitation.role}, valid until "
        f"{invitation.expires_at.isoformat()}; single use.",
        file=sys.stderr,
    )
    return 0


def create_profile(args: argparse.Namespace) -> int:
    categories = [part.strip() for part in args.categories.split(",") if part.strip()]
    with session_scope() as session:
        access, actor = acting(session, args)
        profile = profile_service.create_profile(
            session,
            access,
            actor,
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
    expires_at = parse_time(args.expires_at) if args.expires_at else None
    with session_scope() as session:
        access, actor = acting(session, args)
        profile_id = None
        if args.profile:
            profile_id = profile_service.find_profile_by_name(session, access, args.profile).id
        created = key_service.create_key(
            session,
            access,
            actor,
            args.name,
            bias_profile_id=profile_id,
            expires_at=expires_at,
            rate_limit_per_minute=args.rate_limit,
            program=program_from_args(args),
            client_address="cli",
        )
    # Committed before the secret is shown. Only the secret goes to stdout, for scripts.
    print(created.secret)
    print(
        f"Created {created.key.key_id} ({created.key.masked}); store the key now, it is not shown again.",
        file=sys.stderr,
    )
    return 0


def create_token(args: argparse.Namespace) -> int:
    """Prints only the management token on stdout (shown once), for scripts."""
    expires_at = parse_time(args.expires_at) if args.expires_at else None
    with session_scope() as session:
        access, actor = acting(session, args)
        created = token_service.create_token(
            session, access, actor, args.name, args.scopes, expires_at=expires_at, client_address="cli"
        )
    print(created.secret)
    print(
        f"Created management token {created.token.token_id} ({created.token.masked}) in "
        f"{access.workspace_name!r}; store it now, it is not shown again.",
        file=sys.stderr,
    )
    return 0


def revoke_token(args: argparse.Namespace) -> int:
    with session_scope() as session:
        user = find_user(session, args.email)
        name = token_service.revoke_for_user(
            session, user.id, user.email + CLI_ACTOR_SUFFIX, args.token_id, client_address="cli"
        )
    print(f"Revoked management token {args.token_id} ({name!r})", file=sys.stderr)
    return 0


def roll_key(args: argparse.Namespace) -> int:
    with session_scope() as session:
        access, actor = acting(session, args)
        rolled = rolling.roll_key(
            session,
            access,
            actor,
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
        access, _actor = acting(session, args)
        row_id = key_service.key_row_id(session, access, args.key_id)
        totals = usage.usage_totals(session, [row_id], utc_now() - window).get(row_id, {})
    print("OUTCOME\tCALLS")
    for outcome in usage.OUTCOMES:
        print(f"{outcome}\t{totals.get(outcome, 0)}")
    return 0


def list_keys(args: argparse.Namespace) -> int:
    with session_scope() as session:
        access, _actor = acting(session, args)
        after = None  # keyset paging: a key created or deleted meanwhile shifts no other key
        print("KEY_ID\tNAME\tKEY\tSTATUS\tLAST_USED\tBIAS_PROFILE\tEXPIRES")
        while True:
            result = key_service.list_keys(
                session, access, key_service.KeyQuery(page_size=100, sort="created"), after=after
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
            if result.next_position is None:
                break
            after = key_service.KeyPosition(*result.next_position)
    return 0


def set_key_status(args: argparse.Namespace) -> int:
    with session_scope() as session:
        access, actor = acting(session, args)
        key = key_service.update_key(
            session,
            access,
            actor,
            args.key_id,
            key_service.parse_changes({"status": args.status}),
            client_address="cli",
        )
    print(f"{key.key_id} is now {key.status}", file=sys.stderr)
    return 0


def delete_key(args: argparse.Namespace) -> int:
    with session_scope() as session:
        access, actor = acting(session, args)
        key_service.delete_key(session, access, actor, args.key_id, client_address="cli")
    print(f"Deleted {args.key_id}", file=sys.stderr)
    return 0


def expire_keys(_args: argparse.Namespace) -> int:
    from rxapp.jobs import expire_keys_once

    print(f"{expire_keys_once()} key(s) marked EXPIRED")
    return 0


def backup(args: argparse.Namespace) -> int:
    from rxapp import backup as backups
    from rxapp.context import get_settings

    settings = get_settings()
    result = backups.backup(settings.database_url, Path(args.path), settings.pepper)
    print(
        f"Backed up the {result.backend} database to {result.path} ({result.detail}); its signature "
        f"(HMAC under the pepper) is {result.path}.sig: keep the two together.",
        file=sys.stderr,
    )
    print("The pepper is not in the backup: keep APIKEYS_PEPPER (or data/pepper) apart.", file=sys.stderr)
    return 0


def restore(args: argparse.Namespace) -> int:
    from rxapp import backup as backups
    from rxapp.context import get_settings

    settings = get_settings()
    result = backups.restore(
        settings.database_url,
        Path(args.path),
        settings.pepper,
        force=args.force,
        allow_unsigned=args.allow_unsigned,
    )
    print(
        f"Restored {result.path} ({result.detail}). Start the console with this pepper; "
        "`scripts/run --prod` applies any newer migrations.",
        file=sys.stderr,
    )
    return 0


def doctor(_args: argparse.Namespace) -> int:
    from rxapp import doctor as checks

    return checks.main()


# Every command of the CLI, in `--help` order: one row each, arguments shared by name.
COMMANDS = (
    Command(
        "create-user",
        create_user,
        "create a user (password from stdin when piped)",
        (EMAIL, arg("--admin", action="store_true", help="make the user an instance admin")),
    ),
    Command("reset-password", reset_password, "set a new password (from stdin when piped)", (EMAIL,)),
    Command(
        "sso-unlink",
        sso_unlink,
        "forget the single sign-on person bound to an account (they were made anew at the provider)",
        (EMAIL,),
    ),
    Command("disable-user", disable_user, "refuse a user's sign-ins and end their sessions", (EMAIL,)),
    Command("enable-user", enable_user, "let a disabled user sign in again", (EMAIL,)),
    Command(
        "reset-2fa",
        reset_2fa,
        "turn off two-factor sign-in and remove the passkeys of a user who lost them (audited)",
        (EMAIL,),
    ),
    Command("create-workspace", create_workspace, "create a workspace owned by a user", (EMAIL, arg("name"))),
    Command(
        "remove-member",
        remove_member,
        "remove a member from a workspace (revokes their tokens there)",
        (
            arg("email", help="an owner of the workspace"),
            arg("workspace", help="workspace name"),
            arg("member", help="the member's email"),
        ),
    ),
    Command(
        "invite",
        invite,
        "print a single-use invitation link to a workspace",
        (
            arg("email", help="an owner of the workspace (the inviter)"),
            arg("workspace", help="workspace name"),
            arg("--role", default="member", choices=list(workspace_service.ROLES)),
            arg("--days", type=float, default=workspace_service.INVITATION_DEFAULT_DAYS),
            arg("--for", dest="note", default="", help="whom it is for (an email or a few words)"),
            arg("--base-url", default="http://localhost:3000", help="the console's address"),
        ),
    ),
    Command(
        "create-profile",
        create_profile,
        "create a bias profile for a user",
        (
            EMAIL,
            arg("name"),
            arg("--description", default=""),
            arg("--categories", default="", help="comma-separated, e.g. gender,age"),
            arg("--sensitivity", type=float, default=0.5),
            arg("--action", default=ProfileAction.FLAG.value, choices=[a.value for a in ProfileAction]),
            WORKSPACE,
        ),
    ),
    Command(
        "create-key",
        create_key,
        "create a key; prints only the secret on stdout",
        (
            EMAIL,
            arg("name"),
            arg("--profile", default="", help="bias profile name"),
            arg("--expires-at", default="", help=EXPIRES_HELP),
            arg("--rate-limit", type=int, default=None, help="calls per minute (default: none)"),
            *PROGRAM_ARGS,
            WORKSPACE,
        ),
    ),
    Command("set-credits", set_credits_with(acting), "set a key's remaining credits", SET_CREDITS_ARGS),
    Command(
        "create-token",
        create_token,
        "create a management API token; prints only the token",
        (
            arg("email", help="its creator (an owner or member of the workspace)"),
            arg("name"),
            arg("--scopes", required=True, help=f"comma-separated, from {','.join(token_service.SCOPES)}"),
            WORKSPACE,
            arg("--expires-at", default="", help=EXPIRES_HELP),
        ),
    ),
    Command(
        "revoke-token",
        revoke_token,
        "revoke a management API token (its creator or an owner)",
        (EMAIL, arg("token_id", help="tok_... (as listed on the Management tokens page)")),
    ),
    Command(
        "roll-key",
        roll_key,
        "roll a key; prints only the new secret on stdout",
        (EMAIL, KEY_ID, arg("--grace", default="24h", choices=list(rolling.GRACE_CHOICES)), WORKSPACE),
    ),
    Command(
        "key-usage",
        key_usage,
        "calls of a key by outcome over a window",
        (EMAIL, KEY_ID, arg("--window", default="24h", choices=list(usage.WINDOWS)), WORKSPACE),
    ),
    Command("list-keys", list_keys, "list a user's keys (masked)", (EMAIL, WORKSPACE)),
    Command(
        "set-key-status",
        set_key_status,
        "turn a key ACTIVE or INACTIVE",
        (EMAIL, KEY_ID, arg("status", choices=["ACTIVE", "INACTIVE"]), WORKSPACE),
    ),
    Command("delete-key", delete_key, "delete a key permanently", (EMAIL, KEY_ID, WORKSPACE)),
    Command("expire-keys", expire_keys, "mark due keys EXPIRED once (for cron)", ()),
    Command(
        "backup",
        backup,
        "online, consistent backup of the database to PATH, signed in PATH.sig",
        (arg("path"),),
    ),
    Command(
        "restore",
        restore,
        "check a backup (schema against the migrations, pepper fingerprint, PATH.sig) and "
        "restore it into the configured database",
        (
            arg("path"),
            arg("--force", action="store_true", help="replace a database that holds users or keys"),
            arg(
                "--allow-unsigned",
                action="store_true",
                help="restore a file that has no PATH.sig (you trust it; a wrong signature is still refused)",
            ),
        ),
    ),
    Command("doctor", doctor, "check the configuration, one line per check", ()),
    *WEBHOOK_COMMANDS,
    *LEAK_COMMANDS,
    *POLICY_COMMANDS,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rxapp", description="API key console operator CLI")
    commands = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        sub = commands.add_parser(command.name, help=command.help)
        for argument in command.args:
            sub.add_argument(*argument.flags, **argument.options)
        sub.set_defaults(handler=command.handler)
    return parser


# The doctor reports configuration problems itself; restore checks the backup's pepper fingerprint
# and replaces the target, whose own fingerprint does not matter (and must not create its file).
_NO_PEPPER_CHECK = {doctor, restore, print_scanner_rules}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.handler not in _NO_PEPPER_CHECK:
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
