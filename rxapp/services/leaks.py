"""Leaked keys and management tokens, as secret scanners report them (issue 26, item 3).

A report names a secret; if it is a live key or management token of this console, the report is
recorded (`leak_reports`), audited, and acted on: a management token is revoked; a key follows
its workspace's leak policy: `notify` (recorded, audited, a notice on the key page), `disable`
(the default: the key turns INACTIVE, its page says why and links the report) or `roll` (a new
key with the same settings; the old one keeps working for LEAK_ROLL_GRACE, so the service can
switch over). The answer per report is GitHub's label and nothing more about the secret.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from rxapp.context import get_settings
from rxapp.models import ApiKey, KeyStatus, LeakReport, ManagementToken, Role, Workspace, as_utc, utc_now
from rxapp.services import audit, key_format, rolling
from rxapp.services import keys as key_service
from rxapp.services.access import Access, Need, require
from rxapp.services.errors import ValidationError
from rxapp.services.leak_signature import Reported
from rxapp.services.notices import moments
from rxapp.services.tokens import TOKEN_PREFIX

POLICIES = ("notify", "disable", "roll")
DEFAULT_POLICY = "disable"
POLICY_LABELS = {
    "notify": "Notify only (record and show a notice)",
    "disable": "Disable the key (recommended)",
    "roll": "Roll the key (old one ends after 1 hour)",
}
LEAK_ROLL_GRACE = rolling.GRACE_CHOICES["1h"]
ACTOR = "secret scanning"
TRUE_POSITIVE, FALSE_POSITIVE = "true_positive", "false_positive"
log = logging.getLogger(__name__)


def get_policy(session: Session, access: Access) -> str:
    require(access, Need.READ)
    policy = session.exec(select(Workspace.leak_policy).where(Workspace.id == access.workspace_id)).one()
    return policy if policy in POLICIES else DEFAULT_POLICY


def set_policy(session: Session, access: Access, actor: str, policy: str, *, client_address: str = "") -> str:
    """Owners only: what a leak report does to this workspace's keys."""
    require(access, Need.MANAGE)
    policy = (policy or "").strip().lower()
    if policy not in POLICIES:
        raise ValidationError(
            "Choose a leak policy: notify, disable or roll.", field="leak_policy", code="BAD_POLICY"
        )
    session.execute(
        sa.update(Workspace).where(col(Workspace.id) == access.workspace_id).values(leak_policy=policy)
    )
    audit.record_for(
        session,
        access,
        action="workspace.leak_policy",
        actor=actor,
        target_type="workspace",
        target_id=access.workspace_public_id,
        detail=f"leak_policy={policy}",
        client_address=client_address,
    )
    return policy


def handle_reports(
    session: Session, reports: list[Reported], *, source_name: str = "github", now: dt.datetime | None = None
) -> list[dict[str, str]]:
    """Each report's label in GitHub's response format, after acting on the live ones."""
    now = now or utc_now()
    return [
        {
            "token_raw": report.token,
            "token_type": report.type,
            "label": TRUE_POSITIVE if _handle(session, report, source_name, now) else FALSE_POSITIVE,
        }
        for report in reports
    ]


def _handle(session: Session, report: Reported, source_name: str, now: dt.datetime) -> bool:
    """True when the secret is a live key or management token of this console (and it was acted on)."""
    settings = get_settings()
    secret = report.token.strip()
    if key_format.is_well_formed(secret, settings.key_prefix):
        key = session.exec(
            select(ApiKey).where(ApiKey.digest == key_format.digest(secret, settings.pepper))
        ).first()
        live = (
            key is not None
            and key_service.effective_status(key.status, as_utc(key.expires_at), now) == "ACTIVE"
        )
        if key is not None and live:
            _key_leaked(session, key, report, source_name, now)
        return live
    if key_format.is_well_formed(secret, TOKEN_PREFIX):
        token = session.exec(
            select(ManagementToken).where(
                ManagementToken.digest == key_format.digest(secret, settings.pepper)
            )
        ).first()
        expires_at = as_utc(token.expires_at) if token else None
        if token is None or token.revoked_at is not None or (expires_at is not None and expires_at <= now):
            return False
        _token_leaked(session, token, report, source_name, now)
        return True
    return False


def _key_leaked(session: Session, key: ApiKey, report: Reported, source_name: str, now: dt.datetime) -> None:
    policy = session.exec(select(Workspace.leak_policy).where(Workspace.id == key.workspace_id)).one()
    policy = policy if policy in POLICIES else DEFAULT_POLICY
    where = f"({report.source or 'unknown source'}) at {report.url or 'no URL'}"
    detail = f"reported by {source_name} {where}; policy {policy}"
    events = [("key.leaked", detail[:1000])]
    if policy == "disable":
        events.append(("key.status", "ACTIVE -> INACTIVE (leaked)"))
        key_service.change_key(session, key, {"status": KeyStatus.INACTIVE.value}, ACTOR, events, now=now)
    elif policy == "roll":
        _audit_key(session, key, events)
        rolling.roll_key(  # a leaked key is replaced even where the key policy wants a profile
            session,
            _system_access(session, key),
            ACTOR,
            key.key_id,
            LEAK_ROLL_GRACE,
            now=now,
            profile_rule=False,
        )
    else:
        _audit_key(session, key, events)
    session.refresh(key)
    report_handled(session, _record(session, key.workspace_id, "key", key.key_id, report, policy, now), key)


def _token_leaked(
    session: Session, token: ManagementToken, report: Reported, source_name: str, now: dt.datetime
) -> None:
    session.execute(
        sa.update(ManagementToken).where(col(ManagementToken.id) == token.id).values(revoked_at=now)
    )
    audit.record(
        session,
        action="token.leaked",
        actor=ACTOR,
        owner_id=token.creator_id,
        workspace_id=token.workspace_id,
        target_type="token",
        target_id=token.token_id,
        detail=f"reported by {source_name} at {report.url or 'no URL'}; revoked"[:1000],
        when=now,
    )
    report_handled(
        session, _record(session, token.workspace_id, "token", token.token_id, report, "revoke", now)
    )


def _audit_key(session: Session, key: ApiKey, events: list[tuple[str, str]]) -> None:
    for action, detail in events:
        audit.record(
            session,
            action=action,
            actor=ACTOR,
            owner_id=key.owner_id,
            workspace_id=key.workspace_id,
            target_type="key",
            target_id=key.key_id,
            detail=detail,
        )


def _system_access(session: Session, key: ApiKey) -> Access:
    """The scanner acts for the workspace (no signed-in person): an owner-level Access made here,
    the one place outside `workspaces.resolve`, only for the roll a leak policy asked for."""
    workspace = session.get(Workspace, key.workspace_id)
    assert workspace is not None and workspace.id is not None  # the key's row references it
    return Access(key.owner_id, ACTOR, workspace.id, workspace.public_id, workspace.name, Role.OWNER.value)


def _record(
    session: Session,
    workspace_id: int,
    target_type: str,
    target_id: str,
    report: Reported,
    action: str,
    now: dt.datetime,
) -> LeakReport:
    row = LeakReport(
        workspace_id=workspace_id,
        target_type=target_type,
        target_id=target_id,
        url=report.url[:1000],
        source=report.source[:40],
        action=action,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def report_handled(session: Session, report: LeakReport, key: ApiKey | None = None) -> None:
    """The one place a handled leak is announced beyond the audit trail, in the report's
    transaction: for a key, the `leaked` moment (the `key.leaked` webhook, the notices and emails
    to its workspace's owners and creator: where it was found, never the key)."""
    log.warning(
        "leak report handled: %s %s in workspace %s, action %s",
        report.target_type,
        report.target_id,
        report.workspace_id,
        report.action,
    )
    if key is not None:
        moments.leaked(session, key, report)


@dataclass(frozen=True)
class LeakNotice:
    """What the key page shows about the latest leak report of a key."""

    reported_at: dt.datetime
    url: str
    source: str
    action: str


def latest_for_key(session: Session, access: Access, key_id: str) -> LeakNotice | None:
    workspace_id = require(access, Need.READ).workspace_id
    row = session.exec(
        select(LeakReport)
        .where(
            LeakReport.workspace_id == workspace_id,
            LeakReport.target_type == "key",
            LeakReport.target_id == key_id,
        )
        .order_by(col(LeakReport.id).desc())
    ).first()
    if row is None:
        return None
    return LeakNotice(as_utc(row.created_at) or row.created_at, row.url, row.source, row.action)
