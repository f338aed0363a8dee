"""Ending a person's management tokens for good, when they lose access (removed from a workspace,
or their account disabled): the workspace and admin services call this, each revocation audited."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col, select

from rxapp.models import ManagementToken, utc_now
from rxapp.services import audit


def revoke_tokens_of(
    session: Session,
    user_id: int,
    *,
    actor: str,
    reason: str,
    workspace_id: int | None = None,
    client_address: str = "",
) -> int:
    """Revoke, for good, the live management tokens a person created (in one workspace, or all).

    A token's rights are resolved per request from its creator's membership, so removal stops it
    at once; but re-inviting (or re-enabling) the person would bring it back. Removal and
    disabling therefore end it here, each revocation audited in the token's workspace trail.
    """
    live = select(ManagementToken).where(
        col(ManagementToken.creator_id) == user_id, col(ManagementToken.revoked_at).is_(None)
    )
    if workspace_id is not None:
        live = live.where(col(ManagementToken.workspace_id) == workspace_id)
    tokens = session.exec(live).all()
    now = utc_now()
    for token in tokens:
        session.execute(
            sa.update(ManagementToken)
            .where(col(ManagementToken.id) == token.id, col(ManagementToken.revoked_at).is_(None))
            .values(revoked_at=now)
        )
        audit.record(
            session,
            action="token.revoke",
            actor=actor,
            owner_id=user_id,
            workspace_id=token.workspace_id,
            target_type="token",
            target_id=token.token_id,
            detail=f"name={token.name!r} ({reason})",
            client_address=client_address,
            when=now,
        )
    return len(tokens)
