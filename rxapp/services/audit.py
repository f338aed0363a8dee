"""Append-only audit trail. Callers pass names and IDs only; nothing secret belongs here."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from rxapp.models import AuditEvent, AuditEventPublic, User, utc_now
from rxapp.services import keyset
from rxapp.services.access import Access, Need, require
from rxapp.services.text import storable

SYSTEM_ACTOR = "system"
TARGET_ID_MAX_LENGTH = 100  # the column's length: longer ids are cut when written, so never match


def record(
    session: Session,
    *,
    action: str,
    actor: str,
    owner_id: int | None,
    workspace_id: int | None = None,
    target_type: str = "",
    target_id: str = "",
    detail: str = "",
    client_address: str = "",
    when: dt.datetime | None = None,
) -> None:
    session.add(
        AuditEvent(
            owner_id=owner_id,
            workspace_id=workspace_id,
            actor=actor[:254],
            action=action,
            target_type=target_type,
            target_id=target_id[:TARGET_ID_MAX_LENGTH],
            detail=detail[:1000],
            client_address=client_address[:64],
            created_at=when or utc_now(),
        )
    )


def record_counted(
    session: Session,
    *,
    window: dt.timedelta,
    same: tuple[str, ...],
    action: str,
    actor: str,
    owner_id: int | None,
    target_type: str = "",
    target_id: str = "",
    detail: str = "",
    client_address: str = "",
    when: dt.datetime | None = None,
) -> None:
    """A repeated event written once per window: the first is a row, each repeat adds 1 to its
    `occurrences`. `same` names the columns (target_id, client_address, detail) that make two
    events the same, so a flood of refused attempts cannot grow the trail one row each."""
    when = when or utc_now()
    values = {"target_id": target_id[:100], "client_address": client_address[:64], "detail": detail[:1000]}
    latest = session.exec(
        select(AuditEvent.id)
        .where(
            AuditEvent.action == action,
            col(AuditEvent.created_at) > when - window,
            *(getattr(AuditEvent, name) == values[name] for name in same),
        )
        .order_by(col(AuditEvent.id).desc())
        .limit(1)
    ).first()
    if latest is not None:
        session.execute(
            sa.update(AuditEvent)
            .where(col(AuditEvent.id) == latest)
            .values(occurrences=AuditEvent.occurrences + 1)
        )
        return
    record(
        session,
        action=action,
        actor=actor,
        owner_id=owner_id,
        target_type=target_type,
        target_id=target_id,
        detail=detail,
        client_address=client_address,
        when=when,
    )


def record_for(
    session: Session,
    access: Access,
    *,
    action: str,
    actor: str,
    target_type: str,
    target_id: str,
    detail: str = "",
    client_address: str = "",
    when: dt.datetime | None = None,
) -> None:
    """An action taken in `access`'s workspace, kept in that workspace's trail and the acting
    member's own."""
    record(
        session,
        action=action,
        actor=actor,
        owner_id=access.user_id,
        workspace_id=access.workspace_id,
        target_type=target_type,
        target_id=target_id,
        detail=detail,
        client_address=client_address,
        when=when,
    )


def record_denied(
    session: Session,
    *,
    user_id: int,
    actor: str,
    target_type: str,
    target_id: str,
    client_address: str = "",
    workspace_id: int | None = None,
) -> None:
    """A request for something that is missing or not the user's: kept in the requester's trail."""
    record(
        session,
        action="access.denied",
        actor=actor,
        owner_id=user_id,
        workspace_id=workspace_id,
        target_type=target_type,
        target_id=target_id,
        detail="not found or not yours",
        client_address=client_address,
    )


def _events(access: Access, target_id: str) -> Any:
    require(access, Need.READ)
    query = select(AuditEvent).where(
        (col(AuditEvent.workspace_id) == access.workspace_id)
        | ((col(AuditEvent.owner_id) == access.user_id) & col(AuditEvent.workspace_id).is_(None))
    )
    if not target_id:
        return query
    if not storable(target_id):  # no id holds a NUL; PostgreSQL would refuse the comparison
        return query.where(sa.false())
    return query.where(AuditEvent.target_id == target_id)


_NEWEST_FIRST = (col(AuditEvent.created_at).desc(), col(AuditEvent.id).desc())


def list_events(
    session: Session,
    access: Access,
    *,
    target_id: str = "",
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[AuditEventPublic], int]:
    """The workspace's events (every member's), plus the reader's own account events."""
    query = _events(access, target_id)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    offset = max(page - 1, 0) * page_size
    rows = session.exec(query.order_by(*_NEWEST_FIRST).offset(offset).limit(page_size)).all()
    return [_public(row) for row in rows], total


def events_after(
    session: Session,
    access: Access,
    *,
    target_id: str = "",
    after: tuple[str | None, int] | None = None,
    page_size: int = 50,
) -> tuple[list[AuditEventPublic], int, tuple[str, int] | None]:
    """`list_events` by keyset: the page after `after` (the last row's ISO time and row id), and
    where the next page starts. Events recorded meanwhile never push a row into the next page."""
    query = _events(access, target_id)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    if after is not None:
        newer_or_same = keyset.beyond(
            col(AuditEvent.created_at),
            col(AuditEvent.id),
            keyset.parse_time(after[0]),
            after[1],
            descending=True,
            nullable=False,
        )
        query = query.where(newer_or_same)
    found = session.exec(query.order_by(*_NEWEST_FIRST).limit(page_size + 1)).all()
    rows, last = keyset.split_page(found, page_size)
    following = None
    if last is not None:
        assert last.id is not None
        following = (keyset.time_position(last.created_at), last.id)
    return [_public(row) for row in rows], total, following


def _public(row: AuditEvent) -> AuditEventPublic:
    return AuditEventPublic(
        created_at=row.created_at,
        actor=row.actor,
        action=row.action,
        target_type=row.target_type,
        target_id=row.target_id,
        detail=row.detail,
        client_address=row.client_address,
        occurrences=row.occurrences,
    )


def record_for_user(
    session: Session,
    user: User,
    action: str,
    detail: str = "",
    client_address: str = "",
    *,
    actor: str = "",
) -> None:
    """An event about one account (its sign-in factors, its standing): the account is the target,
    and the actor too unless someone else (an operator) acted on it."""
    record(
        session,
        action=action,
        actor=actor or user.email,
        owner_id=user.id,
        target_type="user",
        target_id=user.email,
        detail=detail,
        client_address=client_address,
    )
