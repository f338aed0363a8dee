"""The management API's audit trail: the workspace's activity, newest first, page by page."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from rxapp.api.management.common import (
    Cursor,
    Token,
    decode_position,
    json_answer,
    make_router,
    next_cursor,
    responses,
)
from rxapp.api.problems import need, service_call
from rxapp.models import AuditEventPublic
from rxapp.services import audit

router = make_router()
AUDIT_PAGE_SIZE = 50


class AuditOut(BaseModel):
    data: list[AuditEventPublic]
    total: int
    next_cursor: str | None


@router.get("/audit", operation_id="listAudit", response_model=AuditOut, responses=responses(200, AuditOut))
def list_audit(
    token: Token,
    target_id: Annotated[str, Query(max_length=audit.TARGET_ID_MAX_LENGTH)] = "",
    cursor: Cursor = None,
) -> JSONResponse:
    """The workspace's activity, newest first (the console's Activity page)."""
    need(token, "audit:read")
    fingerprint = f"audit|{target_id}"
    after = decode_position(cursor, fingerprint)
    with service_call() as session:
        rows, total, following = audit.events_after(
            session,
            token.access,
            target_id=target_id,
            after=after,
            page_size=AUDIT_PAGE_SIZE,
        )
    return json_answer(
        AuditOut(
            data=rows,
            total=total,
            next_cursor=next_cursor(following, fingerprint),
        )
    )
