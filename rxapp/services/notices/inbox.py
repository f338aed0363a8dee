"""Each person's notices in the console: the list (newest first), the count the bell shows,
dismissing one or all; the wording the emails share; and the per-person email opt-out.

A person sees a notice while still a member of its workspace (a removed member's notices about
that workspace's keys disappear with the membership). A dismissed notice is not shown again. The
expiry job prunes notices (and their moments) after NOTICE_RETENTION.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from rxapp.models import KeyMoment, Membership, Notice, User, Workspace, as_utc, core_table, utc_now
from rxapp.services import audit
from rxapp.services.errors import NotFoundError
from rxapp.services.notices.moments import EXPIRED, EXPIRING, LEAKED, UNUSED

LIST_LIMIT = 100
NOTICE_RETENTION = dt.timedelta(days=90)
LEAK_ACTIONS = {
    "disable": "The key was turned off (INACTIVE), as the workspace's leak policy says.",
    "roll": "The key was rolled: its replacement has the same settings, and the leaked key stops "
    "working 1 hour after the report.",
    "notify": "Nothing was changed (the workspace's leak policy is notify): roll or turn off the key.",
}


@dataclass(frozen=True)
class NoticeView:
    """One notice as the person reads it (no secret, digest or masked form: ids, names, times)."""

    id: int
    kind: str  # expiring | expired | leaked | unused
    headline: str  # "Key “checkout” expires within 7 days"
    detail: str  # one more sentence: the end date, or where the leak was found and what was done
    workspace_public_id: str
    workspace_name: str
    key_id: str
    key_name: str
    key_expires_at: dt.datetime | None
    leak_url: str
    created_at: dt.datetime


def headline(kind: str, key_name: str, days_before: int) -> str:
    if kind == EXPIRING:
        return f"Key “{key_name}” expires within {days_before} day{'s' if days_before != 1 else ''}"
    if kind == EXPIRED:
        return f"Key “{key_name}” expired"
    if kind == LEAKED:
        return f"Key “{key_name}” was reported leaked"
    if kind == UNUSED:
        return f"Key “{key_name}” will be disabled for being unused"
    return f"Key “{key_name}”: {kind}"


def detail(
    kind: str, expires_at: dt.datetime | None, leak_url: str, leak_action: str, *, with_url: bool = True
) -> str:
    """The sentence after the headline, with times in UTC. The page shows a leak's URL as a link of
    its own (`with_url=False`); an email says it in the text."""
    end = f"{as_utc(expires_at):%Y-%m-%d %H:%M} UTC" if expires_at is not None else ""
    if kind == EXPIRING:
        return f"It stops working on {end}. Roll it before then to keep the service running."
    if kind == EXPIRED:
        return f"Its end date passed on {end}; calls with it now fail. Roll or replace it."
    if kind == LEAKED:
        found = (f"Found at {leak_url}." if leak_url else "Found by a secret scanner.") if with_url else ""
        return f"{found} {LEAK_ACTIONS.get(leak_action, '')}".strip()
    if kind == UNUSED:
        day = f"{as_utc(expires_at):%Y-%m-%d}" if expires_at is not None else "its date"
        return (
            f"The workspace's key policy disables keys left unused; this one will be turned off on "
            f"{day} unless it is used before then. A call with it, or turning it on again, keeps it."
        )
    return ""


def _visible(user_id: int):
    """The person's undismissed notices in workspaces they are still a member of."""
    return (
        select(Notice, KeyMoment, Workspace)
        .join(KeyMoment, col(KeyMoment.id) == col(Notice.moment_id))
        .join(Workspace, col(Workspace.id) == col(Notice.workspace_id))
        .join(
            Membership,
            sa.and_(
                col(Membership.workspace_id) == col(Notice.workspace_id),
                col(Membership.user_id) == col(Notice.user_id),
            ),
        )
        .where(col(Notice.user_id) == user_id, col(Notice.dismissed_at).is_(None))
    )


def list_for(session: Session, user_id: int, limit: int = LIST_LIMIT) -> list[NoticeView]:
    rows = session.exec(
        _visible(user_id).order_by(col(Notice.created_at).desc(), col(Notice.id).desc()).limit(limit)
    ).all()
    return [
        NoticeView(
            id=notice.id or 0,
            kind=moment.kind,
            headline=headline(moment.kind, moment.key_name, moment.days_before),
            detail=detail(
                moment.kind, moment.key_expires_at, moment.leak_url, moment.leak_action, with_url=False
            ),
            workspace_public_id=workspace.public_id,
            workspace_name=workspace.name,
            key_id=moment.key_id,
            key_name=moment.key_name,
            key_expires_at=as_utc(moment.key_expires_at),
            leak_url=moment.leak_url,
            created_at=as_utc(notice.created_at) or notice.created_at,
        )
        for notice, moment, workspace in rows
    ]


def count_for(session: Session, user_id: int) -> int:
    """What the bell shows: undismissed notices (counted up to LIST_LIMIT, the most the list shows)."""
    shown = _visible(user_id).with_only_columns(col(Notice.id)).limit(LIST_LIMIT).subquery()
    return session.execute(sa.select(sa.func.count()).select_from(shown)).scalar_one()


def dismiss(session: Session, user_id: int, notice_id: int, now: dt.datetime | None = None) -> None:
    """Hide one of the person's own notices (someone else's reads as not found)."""
    matched = session.execute(
        sa.update(core_table(Notice))
        .where(
            core_table(Notice).c.id == notice_id,
            core_table(Notice).c.user_id == user_id,
            core_table(Notice).c.dismissed_at.is_(None),
        )
        .values(dismissed_at=now or utc_now())
        .returning(core_table(Notice).c.id)
    ).all()
    if not matched:
        raise NotFoundError("That notice is gone (dismissed already?).", target_type="notice")


def dismiss_all(session: Session, user_id: int, now: dt.datetime | None = None) -> int:
    notices = core_table(Notice)
    result = session.execute(
        sa.update(notices)
        .where(notices.c.user_id == user_id, notices.c.dismissed_at.is_(None))
        .values(dismissed_at=now or utc_now())
        .returning(notices.c.id)
    )
    return len(result.all())


def email_opted_out(session: Session, user_id: int) -> bool:
    return bool(session.exec(select(User.email_notices_opt_out).where(User.id == user_id)).first())


def set_email_opt_out(session: Session, user_id: int, opted_out: bool, *, client_address: str = "") -> None:
    """The person's own switch. Opting out also drops the emails still waiting to be sent to them
    (their notices stay in the console); opting back in applies to notices from then on."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError("Account not found.", target_type="user")
    if user.email_notices_opt_out == opted_out:
        return
    user.email_notices_opt_out = opted_out
    session.add(user)
    if opted_out:
        notices = core_table(Notice)
        session.execute(
            sa.update(notices)
            .where(notices.c.user_id == user_id, notices.c.email_status == "pending")
            .values(email_status="opted_out")
        )
    audit.record_for_user(
        session,
        user,
        "account.email_notices",
        detail="email notices off" if opted_out else "email notices on",
        client_address=client_address,
    )


def prune(
    session: Session, older_than: dt.timedelta = NOTICE_RETENTION, now: dt.datetime | None = None
) -> int:
    """Moments (and so their notices) older than `older_than`. Safe for the reminders: a moment
    is only ever recorded again while its key's end date is ahead, at most 30 days away."""
    cutoff = (now or utc_now()) - older_than
    moments, notices = core_table(KeyMoment), core_table(Notice)
    old = sa.select(moments.c.id).where(moments.c.created_at < cutoff)
    session.execute(sa.delete(notices).where(notices.c.moment_id.in_(old)))
    result = session.execute(sa.delete(moments).where(moments.c.created_at < cutoff))
    return max(getattr(result, "rowcount", 0) or 0, 0)
