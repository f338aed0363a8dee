"""The CLI's webhook commands (owners of the workspace): create (prints only the signing secret on
stdout, shown once), list, roll the secret, delete, and a delivery log. Same services as the page
and the REST API."""

from __future__ import annotations

import argparse
import sys

from rxapp.cli_common import acting
from rxapp.cli_table import EMAIL, WORKSPACE, Command, arg
from rxapp.db import session_scope
from rxapp.services.webhooks import EVENTS
from rxapp.services.webhooks import endpoints as endpoint_service

ENDPOINT_ID = arg("endpoint_id", help="whep_... (as listed by list-webhooks)")


def create_webhook(args: argparse.Namespace) -> int:
    with session_scope() as session:
        access, actor = acting(session, args)
        made = endpoint_service.create_endpoint(
            session, access, actor, args.url, args.events, args.description, client_address="cli"
        )
    print(made.secret)
    print(
        f"Created webhook endpoint {made.endpoint.endpoint_id} in {access.workspace_name!r} for "
        f"{', '.join(made.endpoint.events)}; store its signing secret now, it is not shown again.",
        file=sys.stderr,
    )
    return 0


def list_webhooks(args: argparse.Namespace) -> int:
    with session_scope() as session:
        access, _ = acting(session, args)
        rows = endpoint_service.list_endpoints(session, access)
    print("ENDPOINT_ID\tURL\tEVENTS\tENABLED\tDESCRIPTION")
    for row in rows:
        enabled = "yes" if row.enabled else "no"
        print(f"{row.endpoint_id}\t{row.url}\t{','.join(row.events)}\t{enabled}\t{row.description}")
    return 0


def roll_webhook_secret(args: argparse.Namespace) -> int:
    with session_scope() as session:
        access, actor = acting(session, args)
        rolled = endpoint_service.roll_secret(session, access, actor, args.endpoint_id, client_address="cli")
    print(rolled.secret)
    print(f"New signing secret for {args.endpoint_id}; the old one no longer signs.", file=sys.stderr)
    return 0


def delete_webhook(args: argparse.Namespace) -> int:
    with session_scope() as session:
        access, actor = acting(session, args)
        endpoint_service.delete_endpoint(session, access, actor, args.endpoint_id, client_address="cli")
    print(f"Deleted webhook endpoint {args.endpoint_id}.", file=sys.stderr)
    return 0


def webhook_deliveries(args: argparse.Namespace) -> int:
    with session_scope() as session:
        access, _ = acting(session, args)
        rows = endpoint_service.list_deliveries(session, access, args.endpoint_id)
    print("DELIVERY_ID\tEVENT\tSTATUS\tATTEMPTS\tHTTP\tLATENCY_MS\tCREATED")
    for row in rows:
        code = "" if row.status_code is None else str(row.status_code)
        latency = "" if row.latency_ms is None else str(row.latency_ms)
        created = row.created_at.isoformat()
        print(
            f"{row.delivery_id}\t{row.event_type}\t{row.status}\t{row.attempts}\t{code}\t{latency}\t{created}"
        )
    return 0


COMMANDS = (
    Command(
        "create-webhook",
        create_webhook,
        "register a webhook endpoint (owners); prints only its signing secret on stdout",
        (
            EMAIL,
            arg("url"),
            arg("--events", required=True, help=f"comma-separated, from {','.join(EVENTS)}"),
            arg("--description", default=""),
            WORKSPACE,
        ),
    ),
    Command("list-webhooks", list_webhooks, "list a workspace's webhook endpoints", (EMAIL, WORKSPACE)),
    Command(
        "roll-webhook-secret",
        roll_webhook_secret,
        "a new signing secret for an endpoint; prints only it on stdout",
        (EMAIL, ENDPOINT_ID, WORKSPACE),
    ),
    Command("delete-webhook", delete_webhook, "delete a webhook endpoint", (EMAIL, ENDPOINT_ID, WORKSPACE)),
    Command(
        "webhook-deliveries",
        webhook_deliveries,
        "an endpoint's newest deliveries",
        (EMAIL, ENDPOINT_ID, WORKSPACE),
    ),
)
