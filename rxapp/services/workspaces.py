"""Workspaces, memberships and invitations, and `resolve`: the one place an `Access` is made.

Rules: a workspace always keeps at least one owner; a workspace the user is not a member of is
NOT_FOUND (like a missing row); an invitation link is single use, expires (7 days by default),
can be revoked, and only its HMAC is stored (like key digests), so a database dump joins nobody.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from rxapp.context import get_settings
from rxapp.models import (
    ApiKey,
    Invitation,
    InvitationPublic,
    MemberPublic,
    Membership,
    Role,
    User,
    Workspace,
    WorkspacePublic,
    utc_now,
)
from rxapp.services import audit, factors
from rxapp.services.access import Access, Need, require
from rxapp.services.errors import ConflictError, NotFoundError, ValidationError
from rxapp.services.token_revocation import revoke_tokens_of
from rxapp.services.versioning import rows_matched

NAME_MAX_LENGTH = 80
PERSONAL_NAME = "Personal"
INVITATION_DEFAULT_DAYS = 7
INVITATION_MAX_DAYS = 30
INVITATION_MIN_DAYS = 1 / 24  # one hour
ROLES = (Role.OWNER.value, Role.MEMBER.value, Role.VIEWER.value)
LAST_OWNER_CODE = "LAST_OWNER"


def new_public_id() -> str:
    """`ws_` + 16 base32 characters (80 random bits): stable, and says nothing about row counts."""
    return "ws_" + base64.b32encode(secrets.token_bytes(10)).decode().lower()


def _clean_name(name: str) -> str:
    cleaned = " ".join((name or "").split())
    if not cleaned:
        raise ValidationError("Enter a workspace name.", field="name")
    if len(cleaned) > NAME_MAX_LENGTH:
        raise ValidationError(f"Use at most {NAME_MAX_LENGTH} characters.", field="name")
    return cleaned


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise ValidationError("Choose owner, member or viewer.", field="role")
    return role


def _public(workspace: Workspace, role: str) -> WorkspacePublic:
    return WorkspacePublic(
        public_id=workspace.public_id,
        name=workspace.name,
        personal=workspace.personal,
        role=role,
        require_two_factor=workspace.require_two_factor,
    )


def create_workspace(
    session: Session, user_id: int, actor: str, name: str, *, personal: bool = False, client_address: str = ""
) -> WorkspacePublic:
    """A new workspace with its creator as owner."""
    workspace = Workspace(public_id=new_public_id(), name=_clean_name(name), personal=personal)
    session.add(workspace)
    session.flush()
    session.add(Membership(workspace_id=workspace.id or 0, user_id=user_id, role=Role.OWNER.value))
    audit.record(
        session,
        action="workspace.create",
        actor=actor,
        owner_id=user_id,
        workspace_id=workspace.id,
        target_type="workspace",
        target_id=workspace.public_id,
        detail=f"name={workspace.name!r} personal={personal}",
        client_address=client_address,
    )
    session.flush()
    return _public(workspace, Role.OWNER.value)


def list_for_user(session: Session, user_id: int) -> list[WorkspacePublic]:
    """The user's workspaces, personal first, then by name."""
    rows = session.exec(
        select(Workspace, Membership.role)
        .join(Membership, col(Membership.workspace_id) == col(Workspace.id))
        .where(Membership.user_id == user_id)
        .order_by(col(Workspace.personal).desc(), col(Workspace.name), col(Workspace.id))
    ).all()
    return [_public(workspace, role) for workspace, role in rows]


def resolve(session: Session, user_id: int, public_id: str = "") -> Access:
    """The caller's access to a workspace, from their live membership (never from a cache).

    An empty `public_id` means the personal workspace. Not a member: NOT_FOUND, like a missing row.
    """
    query = (
        select(Workspace, Membership.role, User.email)
        .join(Membership, col(Membership.workspace_id) == col(Workspace.id))
        .join(User, col(User.id) == col(Membership.user_id))
        .where(Membership.user_id == user_id, col(User.disabled).is_(False))
    )
    if public_id:
        query = query.where(Workspace.public_id == public_id[:32])
    else:
        query = query.order_by(col(Workspace.personal).desc(), col(Workspace.id))
    row = session.exec(query).first()
    if row is None:
        raise NotFoundError("Workspace not found.", target_type="workspace", target_id=public_id[:100])
    workspace, role, email = row
    return Access(
        user_id=user_id,
        email=email,
        workspace_id=workspace.id or 0,
        workspace_public_id=workspace.public_id,
        workspace_name=workspace.name,
        role=role,
        personal=workspace.personal,
        # only a workspace with the policy pays for the factor lookup
        needs_two_factor=workspace.require_two_factor and not factors.has_second_factor(session, user_id),
    )


def resolve_by_name(session: Session, user_id: int, name: str = "") -> Access:
    """For the CLI: a workspace of the user's by name (empty: the personal one)."""
    if not name:
        return resolve(session, user_id)
    matches = [w for w in list_for_user(session, user_id) if w.name == _clean_name(name)]
    if not matches:
        raise NotFoundError("Workspace not found.", target_type="workspace", target_id=name[:100])
    if len(matches) > 1:
        raise ConflictError(f"You have more than one workspace named {name!r}: use its id.")
    return resolve(session, user_id, matches[0].public_id)


def rename_workspace(session: Session, access: Access, name: str, *, client_address: str = "") -> None:
    require(access, Need.MANAGE)
    name = _clean_name(name)
    session.execute(sa.update(Workspace).where(col(Workspace.id) == access.workspace_id).values(name=name))
    _audit(
        session,
        access,
        "workspace.rename",
        "workspace",
        access.workspace_public_id,
        f"name={name!r}",
        client_address,
    )


NAME_MISMATCH = "NAME_MISMATCH"


def name_matches(typed: str, name: str) -> bool:
    """The name typed to confirm a deletion is the workspace's (outer and repeated spaces aside)."""
    return " ".join((typed or "").split()) == " ".join(name.split())


def delete_workspace(
    session: Session, access: Access, *, confirm_name: str | None = None, client_address: str = ""
) -> None:
    """Owners only; keys and profiles go with it (verify fails at once). Personal ones stay.

    `confirm_name`, when given (the console always gives it), must be the workspace's name."""
    require(access, Need.MANAGE)
    if access.personal:
        raise ValidationError("A personal workspace cannot be deleted.", code="PERSONAL")
    if confirm_name is not None and not name_matches(confirm_name, access.workspace_name):
        raise ValidationError(
            f"Type the workspace's name, {access.workspace_name}, to delete it.",
            field="confirm_name",
            code=NAME_MISMATCH,
        )
    session.execute(sa.delete(ApiKey).where(col(ApiKey.workspace_id) == access.workspace_id))
    session.execute(sa.delete(Workspace).where(col(Workspace.id) == access.workspace_id))
    audit.record(
        session,
        action="workspace.delete",
        actor=access.email,
        owner_id=access.user_id,
        target_type="workspace",
        target_id=access.workspace_public_id,
        detail=f"name={access.workspace_name!r}",
        client_address=client_address,
    )


def _audit(
    session: Session, access: Access, action: str, target_type: str, target_id: str, detail: str, address: str
) -> None:
    audit.record_for(
        session,
        access,
        action=action,
        actor=access.email,
        target_type=target_type,
        target_id=target_id,
        detail=detail,
        client_address=address,
    )


# ---------------------------------------------------------------- members


def list_members(session: Session, access: Access) -> list[MemberPublic]:
    require(access, Need.READ)
    rows = session.exec(
        select(Membership, User.email)
        .join(User, col(User.id) == col(Membership.user_id))
        .where(Membership.workspace_id == access.workspace_id)
        .order_by(col(User.email))
    ).all()
    return [
        MemberPublic(user_id=m.user_id, email=email, role=m.role, joined_at=m.created_at) for m, email in rows
    ]


def _membership(session: Session, access: Access, user_id: int) -> Membership:
    row = session.exec(
        select(Membership).where(
            Membership.workspace_id == access.workspace_id, Membership.user_id == user_id
        )
    ).first()
    if row is None:
        raise NotFoundError("Member not found.", target_type="member", target_id=str(user_id))
    return row


def _owner_count(session: Session, workspace_id: int) -> int:
    return session.exec(
        select(func.count()).where(
            Membership.workspace_id == workspace_id, Membership.role == Role.OWNER.value
        )
    ).one()


def _keep_an_owner(session: Session, access: Access, membership: Membership) -> None:
    if membership.role == Role.OWNER.value and _owner_count(session, access.workspace_id) <= 1:
        raise ConflictError(
            "A workspace needs at least one owner. Make someone else owner first.", code=LAST_OWNER_CODE
        )


def change_role(
    session: Session, access: Access, user_id: int, role: str, *, client_address: str = ""
) -> MemberPublic:
    require(access, Need.MANAGE)
    role = _check_role(role)
    membership = _membership(session, access, user_id)
    if membership.role != role:
        if role != Role.OWNER.value:
            _keep_an_owner(session, access, membership)
        before = membership.role
        membership.role = role
        session.add(membership)
        email = session.get_one(User, user_id).email
        _audit(session, access, "member.role", "member", email, f"{before} -> {role}", client_address)
        session.flush()
    email = session.get_one(User, user_id).email
    return MemberPublic(user_id=user_id, email=email, role=membership.role, joined_at=membership.created_at)


def remove_member(session: Session, access: Access, user_id: int, *, client_address: str = "") -> None:
    """Owners remove anyone but the last owner; anyone may leave (except the last owner, or their
    personal workspace). The removed member's next event is refused: access is resolved per event."""
    if user_id != access.user_id:
        require(access, Need.MANAGE)
    elif access.personal:
        raise ValidationError("You cannot leave your personal workspace.", code="PERSONAL")
    membership = _membership(session, access, user_id)
    _keep_an_owner(session, access, membership)
    email = session.get_one(User, user_id).email
    session.execute(sa.delete(Membership).where(col(Membership.id) == membership.id))
    _audit(session, access, "member.remove", "member", email, f"role={membership.role}", client_address)
    revoke_tokens_of(
        session,
        user_id,
        actor=access.email,
        reason="member removed",
        workspace_id=access.workspace_id,
        client_address=client_address,
    )


def leave_refusal(access: Access, members: list[MemberPublic]) -> str:
    """Why the caller may not leave (remove_member's refusals, said before any click), or ""."""
    if access.personal:
        return "Your personal workspace: it cannot be left."
    owners = [m.user_id for m in members if m.role == Role.OWNER.value]
    if owners == [access.user_id]:
        return "You are the only owner: make someone else owner before leaving."
    return ""


# ---------------------------------------------------------------- invitations


def invitation_digest(token: str) -> str:
    """HMAC-SHA256 under the pepper, like key digests."""
    pepper = get_settings().pepper
    return hmac.new(pepper, b"invitation:" + token.encode("utf-8", "replace"), hashlib.sha256).hexdigest()


INVITATION_NOTE_MAX_LENGTH = 120


def invitation_note(text: str) -> str:
    """Whom an invitation is for: one line, spaces collapsed, at most 120 characters."""
    note = " ".join((text or "").split())
    if len(note) > INVITATION_NOTE_MAX_LENGTH:
        raise ValidationError(
            f'Keep "For" to {INVITATION_NOTE_MAX_LENGTH} characters.', field="note", code="NOTE_TOO_LONG"
        )
    return note


def create_invitation(
    session: Session,
    access: Access,
    role: str = Role.MEMBER.value,
    *,
    days: float = INVITATION_DEFAULT_DAYS,
    note: str = "",
    client_address: str = "",
    now: dt.datetime | None = None,
) -> tuple[str, InvitationPublic]:
    """A fresh single-use token (returned once; only its HMAC is stored). `note` says whom it is
    for (an email or a few words), so the pending list tells invitations apart; it is not checked
    against who opens the link."""
    require(access, Need.MANAGE)
    role = _check_role(role)
    note = invitation_note(note)
    if not INVITATION_MIN_DAYS <= days <= INVITATION_MAX_DAYS:  # NaN fails both
        raise ValidationError(
            f"Choose an expiry between 1 hour and {INVITATION_MAX_DAYS} days.", field="days"
        )
    now = now or utc_now()
    token = "inv_" + secrets.token_urlsafe(24)
    invitation = Invitation(
        workspace_id=access.workspace_id,
        token_digest=invitation_digest(token),
        role=role,
        note=note,
        created_by=access.email,
        created_at=now,
        expires_at=now + dt.timedelta(days=days),
    )
    session.add(invitation)
    session.flush()
    _audit(
        session,
        access,
        "invitation.create",
        "invitation",
        str(invitation.id),
        f"role={role} days={days:g}" + (f" for={note!r}" if note else ""),
        client_address,
    )
    return token, _invitation_public(invitation)


def _invitation_public(invitation: Invitation) -> InvitationPublic:
    return InvitationPublic(
        id=invitation.id or 0,
        role=invitation.role,
        note=invitation.note,
        created_by=invitation.created_by,
        created_at=invitation.created_at,
        expires_at=invitation.expires_at,
    )


def list_invitations(
    session: Session, access: Access, now: dt.datetime | None = None
) -> list[InvitationPublic]:
    """Pending ones: not used, not revoked, not expired."""
    require(access, Need.MANAGE)
    now = now or utc_now()
    rows = session.exec(
        select(Invitation)
        .where(
            Invitation.workspace_id == access.workspace_id,
            col(Invitation.used_at).is_(None),
            col(Invitation.revoked_at).is_(None),
            col(Invitation.expires_at) > now,
        )
        .order_by(col(Invitation.created_at).desc())
    ).all()
    return [_invitation_public(row) for row in rows]


def revoke_invitation(
    session: Session, access: Access, invitation_id: int, *, client_address: str = ""
) -> None:
    require(access, Need.MANAGE)
    row = session.exec(
        select(Invitation).where(
            Invitation.id == invitation_id, Invitation.workspace_id == access.workspace_id
        )
    ).first()
    if row is None or row.used_at is not None or row.revoked_at is not None:
        raise NotFoundError("Invitation not found.", target_type="invitation", target_id=str(invitation_id))
    row.revoked_at = utc_now()
    session.add(row)
    _audit(
        session,
        access,
        "invitation.revoke",
        "invitation",
        str(invitation_id),
        f"role={row.role}",
        client_address,
    )


def _pending(session: Session, token: str, now: dt.datetime) -> Invitation:
    row = None
    if token and len(token) <= 128:
        row = session.exec(
            select(Invitation).where(Invitation.token_digest == invitation_digest(token))
        ).first()
    if row is None or row.used_at is not None or row.revoked_at is not None or row.expires_at <= now:
        raise NotFoundError(
            "This invitation link is not valid: it was used, revoked or has expired. Ask for a new one.",
            code="INVITATION_INVALID",
        )
    return row


def invitation_is_pending(session: Session, token: str, now: dt.datetime | None = None) -> bool:
    try:
        _pending(session, token, now or utc_now())
    except NotFoundError:
        return False
    return True


def invitation_preview(session: Session, token: str) -> tuple[str, str]:
    """(workspace name, role) for the landing page; NOT_FOUND when the link cannot be used."""
    row = _pending(session, token, utc_now())
    workspace = session.get(Workspace, row.workspace_id)
    return (workspace.name if workspace else ""), row.role


def accept_invitation(
    session: Session, user_id: int, token: str, *, client_address: str = "", now: dt.datetime | None = None
) -> WorkspacePublic:
    """Join the workspace with the invitation's role; the link is spent (single use)."""
    now = now or utc_now()
    row = _pending(session, token, now)
    spent = session.execute(
        sa.update(Invitation)
        .where(col(Invitation.id) == row.id, col(Invitation.used_at).is_(None))
        .values(used_at=now, used_by_id=user_id)
    )
    if rows_matched(spent) != 1:
        raise NotFoundError("This invitation link was just used.", code="INVITATION_INVALID")
    workspace = session.get(Workspace, row.workspace_id)
    assert workspace is not None
    existing = session.exec(
        select(Membership).where(Membership.workspace_id == row.workspace_id, Membership.user_id == user_id)
    ).first()
    role = existing.role if existing else row.role
    if existing is None:
        session.add(Membership(workspace_id=row.workspace_id, user_id=user_id, role=row.role, created_at=now))
    email = session.get_one(User, user_id).email
    audit.record(
        session,
        action="invitation.accept",
        actor=email,
        owner_id=user_id,
        workspace_id=row.workspace_id,
        target_type="invitation",
        target_id=str(row.id),
        detail=f"role={role}" + (" (already a member)" if existing else ""),
        client_address=client_address,
    )
    session.flush()
    return _public(workspace, role)
