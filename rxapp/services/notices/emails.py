"""The email outbox: each `notices` row whose email is `pending` is one email to one person.

Claiming is one conditional UPDATE that leases due rows to this worker (PostgreSQL: over rows
picked with FOR UPDATE SKIP LOCKED; SQLite: writes are serialised), so with every worker running
the job an email is sent by one of them. A worker that dies mid-send loses its lease and another
sends the email again (at least once, never lost; the Message-ID stays the same, so a mail system
that saw it already can tell). A failed attempt waits per APIKEYS_SMTP_RETRY_SECONDS, then the email
is given up (`failed`); a 5xx refusal is given up at once. The notice itself stays in the console.

The emails are plain text: what happened to which key in which workspace, a link to the key's
page on APIKEYS_PUBLIC_URL, and how to stop them. Never a secret, digest or masked key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

import sqlalchemy as sa
from sqlmodel import Session, col

from rxapp import routes
from rxapp.models import KeyMoment, Membership, Notice, User, Workspace, core_table, utc_now
from rxapp.services.notices import inbox
from rxapp.services.notices.smtp import Outcome

BATCH = 20  # emails per claim (and per SMTP connection)
PRODUCT = "Key Console"


@dataclass(frozen=True)
class Email:
    notice_row_id: int
    attempts: int
    message: EmailMessage


def claim_due(
    session: Session,
    now: dt.datetime,
    lease: dt.timedelta,
    *,
    sender: str,
    public_url: str,
    limit: int = BATCH,
) -> list[Email]:
    """Due emails, leased to this worker until `now + lease`, composed. A person who opted out, was
    disabled or left the workspace since the notice was made gets none (the row says why)."""
    notices = core_table(Notice)
    due = (
        notices.c.email_status == "pending",
        notices.c.email_next_at <= now,
        sa.or_(notices.c.email_claimed_until.is_(None), notices.c.email_claimed_until < now),
    )
    pick = (
        sa.select(notices.c.id)
        .where(*due)
        .order_by(notices.c.email_next_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = (
        session.execute(
            sa.update(notices)
            .where(*due, notices.c.id.in_(pick.scalar_subquery()))
            .values(email_claimed_until=now + lease)
            .returning(notices.c.id)
        )
        .scalars()
        .all()
    )
    if not claimed:
        return []
    rows = session.execute(
        sa.select(Notice, KeyMoment, Workspace, User, col(Membership.role))
        .join(KeyMoment, col(KeyMoment.id) == col(Notice.moment_id))
        .join(Workspace, col(Workspace.id) == col(Notice.workspace_id))
        .join(User, col(User.id) == col(Notice.user_id))
        .outerjoin(
            Membership,
            sa.and_(
                col(Membership.workspace_id) == col(Notice.workspace_id),
                col(Membership.user_id) == col(Notice.user_id),
            ),
        )
        .where(col(Notice.id).in_(claimed))
    ).all()
    emails = []
    for notice, moment, workspace, user, role in rows:
        dropped = _dropped(user, role)
        if dropped:
            session.execute(
                sa.update(notices)
                .where(notices.c.id == notice.id)
                .values(email_status=dropped, email_claimed_until=None)
            )
            continue
        message = compose(notice, moment, workspace, user.email, sender=sender, public_url=public_url)
        emails.append(Email(notice.id or 0, notice.email_attempts, message))
    return emails


def _dropped(user: User, role: str | None) -> str:
    """Why this person gets no email after all ("" when they do)."""
    if user.email_notices_opt_out:
        return "opted_out"
    if user.disabled or role is None:  # a disabled account, or no longer a member
        return "off"
    return ""


def _one_line(text: str) -> str:
    """Header-safe: a key or workspace name never adds a header line."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


def compose(
    notice: Notice, moment: KeyMoment, workspace: Workspace, to: str, *, sender: str, public_url: str
) -> EmailMessage:
    key_name, workspace_name = _one_line(moment.key_name), _one_line(workspace.name)
    title = inbox.headline(moment.kind, key_name, moment.days_before)
    link = public_url + routes.key_detail(workspace.public_id, moment.key_id)
    body = "\n".join(
        [
            "Hello,",
            "",
            f"{title} in the workspace “{workspace_name}”.",
            inbox.detail(moment.kind, moment.key_expires_at, moment.leak_url, moment.leak_action),
            "",
            f"Key:       {key_name} ({moment.key_id})",
            f"Workspace: {workspace_name}",
            f"Open it:   {link}",
            "",
            f"You get this email because you own the workspace “{workspace_name}” or created this key.",
            "To stop these emails, turn off “Email notices” on your Account page:",
            f"{public_url}{routes.ACCOUNT}",
            "The same notices stay listed under Notices in the console.",
            "",
            f"— {PRODUCT}",
            "",
        ]
    )
    message = EmailMessage()
    message["Subject"] = f"[{PRODUCT}] {title} ({workspace_name})"
    message["From"] = sender
    message["To"] = to
    message["Date"] = format_datetime(utc_now())
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    # The same on every attempt: a mail system that got the email already can drop a repeat.
    message["Message-ID"] = f"<notice-{notice.id}.{moment.id}.{workspace.public_id}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to this
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(body)
    return message


def record(
    session: Session,
    email: Email,
    outcome: Outcome,
    *,
    now: dt.datetime | None = None,
    schedule: Sequence[float],
) -> str:
    """The email sent, rescheduled or given up; returns its new status."""
    now = now or utc_now()
    attempts = email.attempts + 1
    values: dict[str, object] = {
        "email_attempts": attempts,
        "email_claimed_until": None,
        "email_error": outcome.error[:300],
    }
    if outcome.ok:
        values.update(email_status="sent", email_sent_at=now, email_error="")
    elif outcome.permanent or attempts > len(schedule):
        values["email_status"] = "failed"
    else:
        values["email_next_at"] = now + dt.timedelta(seconds=schedule[attempts - 1])
    notices = core_table(Notice)
    session.execute(
        sa.update(notices)
        .where(notices.c.id == email.notice_row_id, notices.c.email_status == "pending")
        .values(**values)
    )
    return str(values.get("email_status", "pending"))
