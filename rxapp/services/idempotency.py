"""Idempotency-Key for the management API's POSTs: (token, key) -> the resource the first request
made, stored in the database so every worker (and a restart) gives the same answer.

How concurrent retries stay single: the record is inserted, in the same transaction as the
resource, before the resource is made. A unique constraint on (token, key) makes a second
concurrent insert wait for the first transaction (PostgreSQL's unique index, SQLite's single
writer) and then fail; the loser raises `IdempotencyRace` and the caller replays the winner's
resource. If the first request fails, its record rolls back with it and a retry starts afresh.
The secret is never stored (DESIGN.md), so a replay carries no secret.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from rxapp.models import IdempotencyRecord, utc_now
from rxapp.services.errors import ConflictError, ValidationError
from rxapp.services.versioning import rows_matched

KEY_MAX_LENGTH = 255
REUSED_CODE = "IDEMPOTENCY_KEY_REUSED"


class IdempotencyRace(Exception):
    """Another request with the same key committed first: replay its resource."""


@dataclass(frozen=True)
class Replay:
    resource_type: str
    resource_id: str


def request_hash(method: str, path: str, body: Any) -> str:
    canonical = json.dumps([method.upper(), path, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _check_key(key: str) -> str:
    if not key or len(key) > KEY_MAX_LENGTH or not key.isprintable():
        raise ValidationError(
            f"Idempotency-Key must be 1 to {KEY_MAX_LENGTH} printable characters.",
            field="Idempotency-Key",
            code="BAD_IDEMPOTENCY_KEY",
        )
    return key


def find(session: Session, token_row_id: int, key: str, body_hash: str) -> Replay | None:
    """The earlier request's resource, None if this key is new; the same key with another body
    is refused (ConflictError code IDEMPOTENCY_KEY_REUSED)."""
    record = session.exec(
        select(IdempotencyRecord).where(
            IdempotencyRecord.token_row_id == token_row_id,
            IdempotencyRecord.idempotency_key == _check_key(key),
        )
    ).first()
    if record is None:
        return None
    if record.request_hash != body_hash:
        raise ConflictError(
            "This Idempotency-Key was used with a different request. Use a new key.", code=REUSED_CODE
        )
    return Replay(record.resource_type, record.resource_id)


def claim(session: Session, token_row_id: int, key: str, body_hash: str) -> IdempotencyRecord:
    """Insert the record first (see the module docstring); IdempotencyRace if another won."""
    record = IdempotencyRecord(
        token_row_id=token_row_id,
        idempotency_key=_check_key(key),
        request_hash=body_hash,
        created_at=utc_now(),
    )
    session.add(record)
    try:
        session.flush()
    except sa.exc.IntegrityError:
        raise IdempotencyRace from None
    return record


def complete(session: Session, record: IdempotencyRecord, resource_type: str, resource_id: str) -> None:
    session.execute(
        sa.update(IdempotencyRecord)
        .where(col(IdempotencyRecord.id) == record.id)
        .values(resource_type=resource_type, resource_id=resource_id)
    )


def prune(session: Session, retention: dt.timedelta, now: dt.datetime | None = None) -> int:
    """Forget records older than the retention (run by the expiry job): a retry after that makes
    a new resource. Without this the table grows with every create ever made."""
    cutoff = (now or utc_now()) - retention
    result = session.execute(sa.delete(IdempotencyRecord).where(col(IdempotencyRecord.created_at) < cutoff))
    return int(rows_matched(result) or 0)
