"""The instance admin's (and the operator CLI's) powers: accounts, passwords, who may sign in.

Browser callers pass through `require_admin` (the flag is read from the users table on every
call); the CLI runs as the operator and may always act.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlmodel import Session, col, func, select

from rxapp.context import get_settings
from rxapp.models import ApiKey, Membership, Role, SsoLink, User, UserSession, Workspace
from rxapp.services import audit, factors
from rxapp.services import users as user_service
from rxapp.services.errors import ForbiddenError, NotFoundError
from rxapp.services.token_revocation import revoke_tokens_of

SELF_DISABLE = "SELF_DISABLE"  # the refusal's code: an admin cannot lock themself out


class AdminUserRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    email: str
    created_at: dt.datetime
    last_sign_in_at: dt.datetime | None
    is_admin: bool
    disabled: bool
    workspaces: list[str]
    two_factor: str = "none"  # "none", "code", "2 passkeys", "code + 1 passkey" (services/factors.py)


class AdminWorkspaceRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    public_id: str
    name: str
    personal: bool
    members: int
    keys: int
    owner_email: str = ""  # a personal workspace's owner: what tells "Personal" ones apart


def require_admin(session: Session, user_id: int) -> None:
    user = session.get(User, user_id)
    if user is None or not user.is_admin or user.disabled:
        raise ForbiddenError("Only the instance admin can do that.")


def _user(session: Session, email: str) -> User:
    user = session.exec(select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        raise NotFoundError(f"No user with email {email!r}.", target_type="user", target_id=email[:100])
    return user


def signup_policy() -> str:
    return get_settings().signup_policy


def list_users(session: Session) -> list[AdminUserRow]:
    names: dict[int, list[str]] = {}
    for user_id, name in session.exec(
        select(Membership.user_id, Workspace.name)
        .join(Workspace, col(Workspace.id) == col(Membership.workspace_id))
        .order_by(col(Workspace.name))
    ).all():
        names.setdefault(user_id, []).append(name)
    users = session.exec(select(User).order_by(col(User.created_at), col(User.id))).all()
    factor_names = factors.describe(session, [user.id or 0 for user in users])
    return [
        AdminUserRow(
            id=user.id or 0,
            email=user.email,
            created_at=user.created_at,
            last_sign_in_at=user.last_sign_in_at,
            is_admin=user.is_admin,
            disabled=user.disabled,
            workspaces=names.get(user.id or 0, []),
            two_factor=factor_names.get(user.id or 0, "none"),
        )
        for user in users
    ]


def list_workspaces(session: Session) -> list[AdminWorkspaceRow]:
    keys = (
        select(ApiKey.workspace_id, func.count(col(ApiKey.id)).label("n"))
        .group_by(col(ApiKey.workspace_id))
        .subquery()
    )
    members = (
        select(Membership.workspace_id, func.count(col(Membership.id)).label("n"))
        .group_by(col(Membership.workspace_id))
        .subquery()
    )
    rows = session.exec(
        select(Workspace, func.coalesce(members.c.n, 0), func.coalesce(keys.c.n, 0))
        .join(members, members.c.workspace_id == Workspace.id, isouter=True)
        .join(keys, keys.c.workspace_id == Workspace.id, isouter=True)
        .order_by(col(Workspace.name), col(Workspace.id))
    ).all()
    personal_ids = [w.id for w, _, _ in rows if w.personal]
    owners: dict[int, str] = {}
    if personal_ids:
        for workspace_id, email in session.exec(
            select(Membership.workspace_id, User.email)
            .join(User, col(User.id) == col(Membership.user_id))
            .where(col(Membership.workspace_id).in_(personal_ids), Membership.role == Role.OWNER.value)
            .order_by(col(Membership.id))
        ).all():
            owners.setdefault(workspace_id, email)
    return [
        AdminWorkspaceRow(
            public_id=w.public_id,
            name=w.name,
            personal=w.personal,
            members=m,
            keys=k,
            owner_email=owners.get(w.id or 0, "") if w.personal else "",
        )
        for w, m, k in rows
    ]


def workspace_label(row: AdminWorkspaceRow) -> str:
    """How the admin tells workspaces apart: every user has one called "Personal"."""
    return f"{row.name} ({row.owner_email})" if row.personal and row.owner_email else row.name


def set_disabled(
    session: Session, actor: str, email: str, disabled: bool, *, client_address: str = ""
) -> None:
    """Disabling ends every session of the account at once (its open tabs are signed out on
    their next event) and refuses its sign-ins."""
    user = _user(session, email)
    if disabled and user.email == actor.strip().lower():
        raise ForbiddenError("You cannot disable your own account.", code=SELF_DISABLE)
    user.disabled = disabled
    session.add(user)
    if disabled:
        session.execute(sa.delete(UserSession).where(col(UserSession.user_id) == user.id))
        revoke_tokens_of(
            session, user.id or 0, actor=actor, reason="account disabled", client_address=client_address
        )
    audit.record_for_user(
        session,
        user,
        "admin.user_disable" if disabled else "admin.user_enable",
        client_address=client_address,
        actor=actor,
    )


def reset_password(
    session: Session, actor: str, email: str, password: str, *, client_address: str = ""
) -> None:
    """A new password (same rules as sign-up); every session of the account ends."""
    user = _user(session, email)
    user_service.validate_password(password)
    user.password_hash = user_service._hash(password)
    session.add(user)
    session.execute(sa.delete(UserSession).where(col(UserSession.user_id) == user.id))
    audit.record_for_user(session, user, "admin.password_reset", client_address=client_address, actor=actor)


def unlink_sso(session: Session, actor: str, email: str, *, client_address: str = "") -> int:
    """Forget which person at the single sign-on provider owns this account (services/sso.py):
    its next single sign-on binds whoever the provider vouches for with its email. For a person
    whose identity at the provider was made anew. How many bindings went (0: there were none)."""
    user = _user(session, email)
    deleted = session.execute(sa.delete(SsoLink).where(col(SsoLink.user_id) == user.id))
    gone = int(getattr(deleted, "rowcount", 0) or 0)
    if gone:
        audit.record_for_user(session, user, "admin.sso_unlink", client_address=client_address, actor=actor)
    return gone
