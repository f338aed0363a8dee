"""Management tokens: bearer credentials for the management API (/api/v1/keys, /profiles, /audit).

A token behaves like an API key: shown once, only its HMAC stored (same pepper and helper as key
digests), its own visible prefix (`bpm_`, so secret scanners tell it from a `bpk_` service key)
and the same CRC checksum, so typos and garbage are refused before any database work.

Its rights are re-derived at every request: the token's scopes intersected with its creator's
CURRENT role in the workspace (`workspaces.resolve`, a live membership read). A demoted creator's
tokens lose their write scopes; a removed member's or a disabled user's tokens stop working.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlmodel import Session, col, select

from rxapp.context import get_settings
from rxapp.models import ManagementToken, ManagementTokenPublic, User, Workspace, as_utc, utc_now
from rxapp.services import audit, key_format, moments
from rxapp.services import workspaces as workspace_service
from rxapp.services.access import Access, Need, require
from rxapp.services.errors import ForbiddenError, NotFoundError, ServiceError, ValidationError
from rxapp.services.keys.rules import clean_name, iso

TOKEN_PREFIX = "bpm"  # noqa: S105 (a visible prefix, not a secret)
SCOPES = (
    "keys:read",
    "keys:write",
    "profiles:read",
    "profiles:write",
    "usage:read",
    "audit:read",
    "webhooks:write",
)
WRITE_SCOPES = frozenset({"keys:write", "profiles:write", "webhooks:write"})
# Last Used is written at most once per this interval per token: no write per request.
LAST_USED_RESOLUTION = dt.timedelta(seconds=60)


class TokenRejected(ServiceError):
    """Missing, malformed, unknown, revoked or expired token, or its creator lost access: all one
    answer (401), so a caller learns nothing about which."""

    default_code = "UNAUTHORIZED"


@dataclass(frozen=True)
class TokenAccess:
    """What an authenticated request may do: `access` (the creator's live role) and `scopes`
    (already intersected with that role)."""

    access: Access
    scopes: frozenset[str]
    token_row_id: int
    token_id: str
    name: str

    @property
    def actor(self) -> str:
        return f"token:{self.name}"

    def has(self, scope: str) -> bool:
        return scope in self.scopes


@dataclass(frozen=True)
class CreatedToken:
    """The only object that ever holds a token's secret; callers show it once and drop it."""

    token: ManagementTokenPublic
    secret: str = field(repr=False)


def _new_token_id() -> str:
    return "tok_" + base64.b32encode(secrets.token_bytes(10)).decode("ascii").lower()


def clean_scopes(scopes: list[str] | tuple[str, ...] | str) -> list[str]:
    if isinstance(scopes, str):
        scopes = [part for part in scopes.replace(",", " ").split() if part]
    chosen = sorted(set(scopes), key=SCOPES.index) if set(scopes) <= set(SCOPES) else None
    if chosen is None:
        unknown = sorted(set(scopes) - set(SCOPES))
        raise ValidationError(
            f"Unknown scope {unknown[0]!r}: choose from {', '.join(SCOPES)}.",
            field="scopes",
            code="BAD_SCOPE",
        )
    if not chosen:
        raise ValidationError("Choose at least one scope.", field="scopes", code="BAD_SCOPE")
    return chosen


def effective_scopes(scopes: list[str], access: Access) -> frozenset[str]:
    """Scopes ∩ role: a viewer's tokens read only, whatever they were created with."""
    return frozenset(s for s in scopes if access.can(Need.WRITE) or s not in WRITE_SCOPES)


def _public(token: ManagementToken, creator_email: str) -> ManagementTokenPublic:
    return ManagementTokenPublic(
        token_id=token.token_id,
        name=token.name,
        scopes=token.scopes.split(),
        masked=token.masked,
        created_by=creator_email,
        created_at=token.created_at,
        expires_at=token.expires_at,
        last_used_at=token.last_used_at,
        revoked_at=token.revoked_at,
    )


def create_token(
    session: Session,
    access: Access,
    actor: str,
    name: str,
    scopes: list[str] | str,
    *,
    expires_at: dt.datetime | None = None,
    client_address: str = "",
    now: dt.datetime | None = None,
) -> CreatedToken:
    """Owners and members make tokens (a viewer's token could only read, and reading is what the
    viewer already does in the console)."""
    workspace_id = require(access, Need.WRITE).workspace_id
    now = now or utc_now()
    name = clean_name(name)
    chosen = clean_scopes(scopes)
    expires_at = moments.future_end(expires_at, now, field="expires_at", label="Expiry")
    pepper = get_settings().pepper
    secret = key_format.generate_secret(TOKEN_PREFIX)
    token = ManagementToken(
        token_id=_new_token_id(),
        workspace_id=workspace_id,
        creator_id=access.user_id,
        name=name,
        scopes=" ".join(chosen),
        digest=key_format.digest(secret, pepper),
        masked=key_format.mask(secret, TOKEN_PREFIX),
        created_at=now,
        expires_at=expires_at,
    )
    session.add(token)
    audit.record_for(
        session,
        access,
        action="token.create",
        actor=actor,
        target_type="token",
        target_id=token.token_id,
        detail=f"name={name!r} scopes={' '.join(chosen)} expires_at={iso(expires_at)}",
        client_address=client_address,
        when=now,
    )
    session.flush()
    return CreatedToken(token=_public(token, access.email), secret=secret)


def list_tokens(session: Session, access: Access) -> list[ManagementTokenPublic]:
    """Every token of the workspace, newest first (revoked ones too, marked)."""
    workspace_id = require(access, Need.READ).workspace_id
    rows = session.exec(
        select(ManagementToken, User.email)
        .join(User, col(User.id) == col(ManagementToken.creator_id))
        .where(ManagementToken.workspace_id == workspace_id)
        .order_by(col(ManagementToken.created_at).desc(), col(ManagementToken.id).desc())
    ).all()
    return [_public(token, email) for token, email in rows]


def revoke_token(
    session: Session,
    access: Access,
    actor: str,
    token_id: str,
    *,
    client_address: str = "",
    now: dt.datetime | None = None,
) -> None:
    """Its creator or an owner revokes it; the next request with it is 401. Revoking twice is fine."""
    workspace_id = require(access, Need.WRITE).workspace_id
    token = session.exec(
        select(ManagementToken).where(
            ManagementToken.token_id == token_id[:24], ManagementToken.workspace_id == workspace_id
        )
    ).first()
    if token is None:
        raise NotFoundError("Management token not found.", target_type="token", target_id=token_id[:100])
    if token.creator_id != access.user_id and not access.can_manage:
        raise ForbiddenError("Only the token's creator or an owner can revoke it.")
    if token.revoked_at is not None:
        return
    now = now or utc_now()
    session.execute(
        sa.update(ManagementToken).where(col(ManagementToken.id) == token.id).values(revoked_at=now)
    )
    audit.record_for(
        session,
        access,
        action="token.revoke",
        actor=actor,
        target_type="token",
        target_id=token.token_id,
        detail=f"name={token.name!r}",
        client_address=client_address,
        when=now,
    )
    session.flush()


def authenticate(session: Session, secret: str, *, now: dt.datetime | None = None) -> TokenAccess:
    """The bearer secret -> what this request may do, or TokenRejected (one message for every case)."""
    rejected = TokenRejected("A valid management token is required.")
    secret = (secret or "").strip()
    if not key_format.is_well_formed(secret, TOKEN_PREFIX):
        raise rejected
    now = now or utc_now()
    row = session.exec(
        select(ManagementToken, Workspace.public_id)
        .join(Workspace, col(Workspace.id) == col(ManagementToken.workspace_id))
        .where(ManagementToken.digest == key_format.digest(secret, get_settings().pepper))
    ).first()
    if row is None:
        raise rejected
    token, workspace_public_id = row
    expires_at = as_utc(token.expires_at)
    if token.revoked_at is not None or (expires_at is not None and expires_at <= now):
        raise rejected
    try:
        access = workspace_service.resolve(session, token.creator_id, workspace_public_id)
    except NotFoundError:  # removed from the workspace, or disabled
        raise rejected from None
    last_used = as_utc(token.last_used_at)
    if last_used is None or now - last_used >= LAST_USED_RESOLUTION:
        # Conditional, so concurrent requests in the same minute write once between them.
        session.execute(
            sa.update(ManagementToken)
            .where(
                col(ManagementToken.id) == token.id,
                sa.or_(
                    col(ManagementToken.last_used_at).is_(None),
                    col(ManagementToken.last_used_at) <= now - LAST_USED_RESOLUTION,
                ),
            )
            .values(last_used_at=now)
        )
    return TokenAccess(
        access=access,
        scopes=effective_scopes(token.scopes.split(), access),
        token_row_id=token.id or 0,
        token_id=token.token_id,
        name=token.name,
    )


def revoke_for_user(
    session: Session, user_id: int, actor: str, token_id: str, *, client_address: str = ""
) -> str:
    """The CLI's revoke-token (no workspace given): the token's workspace, if the user is a member
    of it, then the same rules as the page. Returns the token's name."""
    row = session.exec(
        select(ManagementToken.name, Workspace.public_id)
        .join(Workspace, col(Workspace.id) == col(ManagementToken.workspace_id))
        .where(ManagementToken.token_id == token_id[:24])
    ).first()
    if row is None:
        raise NotFoundError("Management token not found.", target_type="token", target_id=token_id[:100])
    name, workspace_public_id = row
    access = workspace_service.resolve(session, user_id, workspace_public_id)
    revoke_token(session, access, actor, token_id, client_address=client_address)
    return name
