"""A workspace's two-factor policy: its owners may require every member to have a second factor
(an authenticator code or a passkey) before the workspace's pages open. The check itself is part
of resolving a member's access (workspaces.resolve sets `Access.needs_two_factor`), so every page
reads one flag (SessionGuard -> protected_page)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col

from rxapp.models import Workspace
from rxapp.services import audit, factors
from rxapp.services.access import Access, Need, require
from rxapp.services.errors import ConflictError

OWNER_FACTOR_FIRST = "two_factor_owner_first"


def is_required(session: Session, access: Access) -> bool:
    require(access, Need.READ)
    workspace = session.get(Workspace, access.workspace_id)
    return bool(workspace and workspace.require_two_factor)


def set_required(session: Session, access: Access, required: bool, *, client_address: str = "") -> None:
    """Owners only, audited. Turning it on needs the owner's own second factor first (no rule its
    maker does not follow, and no owner locked out of the workspace by their own click)."""
    require(access, Need.MANAGE)
    if required and not factors.has_second_factor(session, access.user_id):
        raise ConflictError(
            "Turn on two-factor sign-in or add a passkey on your Account page first.", code=OWNER_FACTOR_FIRST
        )
    session.execute(
        sa.update(Workspace)
        .where(col(Workspace.id) == access.workspace_id)
        .values(require_two_factor=required)
    )
    audit.record_for(
        session,
        access,
        action="workspace.two_factor_policy",
        actor=access.email,
        target_type="workspace",
        target_id=access.workspace_public_id,
        detail="two factors required" if required else "two factors not required",
        client_address=client_address,
    )
