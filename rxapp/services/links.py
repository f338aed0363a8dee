"""Where an old, workspace-less key link (`/keys/<key_id>`) leads: the key's own workspace, but
only for a member of it. Anyone else learns nothing (the answer is "", as for a key that does not
exist), and is sent to their current workspace, where the key reads as not found."""

from __future__ import annotations

from sqlmodel import Session, col, select

from rxapp.models import ApiKey, Membership, User, Workspace

KEY_ID_MAX_LENGTH = 40


def workspace_of_key(session: Session, user_id: int, key_id: str) -> str:
    """The public id of the workspace holding `key_id` when `user_id` is an active member of it,
    else "" (no such key, or not theirs: the same answer)."""
    if not key_id or not user_id:
        return ""
    query = (
        select(Workspace.public_id)
        .join(ApiKey, col(ApiKey.workspace_id) == col(Workspace.id))
        .join(Membership, col(Membership.workspace_id) == col(Workspace.id))
        .join(User, col(User.id) == col(Membership.user_id))
        .where(
            ApiKey.key_id == key_id[:KEY_ID_MAX_LENGTH],
            Membership.user_id == user_id,
            col(User.disabled).is_(False),
        )
    )
    return session.exec(query).first() or ""


def member_workspace(session: Session, user_id: int, public_id: str) -> str:
    """`public_id` back when `user_id` is an active member of that workspace, else ""."""
    if not public_id or not user_id:
        return ""
    query = (
        select(Workspace.public_id)
        .join(Membership, col(Membership.workspace_id) == col(Workspace.id))
        .join(User, col(User.id) == col(Membership.user_id))
        .where(
            Workspace.public_id == public_id[:32],
            Membership.user_id == user_id,
            col(User.disabled).is_(False),
        )
    )
    return session.exec(query).first() or ""
