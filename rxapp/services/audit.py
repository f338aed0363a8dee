"""Append-only audit trail. Callers pass names and IDs only; nothing secret belongs here."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, col, func, select

from rxapp.models import AuditEvent, AuditEventPublic, utc_now
from rxapp.services.access import Access, Need, require

SYSTEM_ACTOR = "system"


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
            target_id=target_id[:100],
            detail=detail[:1000],
            client_address=client_address[:64],
            created_at=when or utc_now(),
        )
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


def list_events(
    session: Session,
    access: Access,
    *,
    target_id: str = "",
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[AuditEventPublic], int]:
    """The workspace's events (every member's), plus the reader's own account events."""
    require(access, Need.READ)
    query = select(AuditEvent).where(
        (col(AuditEvent.workspace_id) == access.workspace_id)
        | ((col(AuditEvent.owner_id) == access.user_id) & col(AuditEvent.workspace_id).is_(None))
    )
    if target_id:
        query = query.where(AuditEvent.target_id == target_id)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(
        query.order_by(col(AuditEvent.created_at).desc(), col(AuditEvent.id).desc())
        .offset(max(page - 1, 0) * page_size)
        .limit(page_size)
    ).all()
    return [
        AuditEventPublic(
            created_at=row.created_at,
            actor=row.actor,
            action=row.action,
            target_type=row.target_type,
            target_id=row.target_id,
            detail=row.detail,
            client_address=row.client_address,
            occurrences=row.occurrences,
        )
        for row in rows
    ], total
