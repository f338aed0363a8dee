"""Single sign-on's table (re-exported by rxapp.models, where every other table lives; kept apart
only to keep that module small)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from rxapp.clock import utc_now


class SsoLink(SQLModel, table=True):
    """An account's person at the single sign-on provider: the ID token's `iss` and `sub`, which
    OIDC promises are never given to another person, where an email address can be handed on
    (services/sso.py). One per account and provider; a person at the provider has one account."""

    __tablename__ = "sso_links"
    __table_args__ = (
        sa.UniqueConstraint("issuer", "subject", name="uq_sso_links_subject"),
        sa.UniqueConstraint("user_id", "issuer", name="uq_sso_links_account"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE")
    issuer: str = Field(max_length=500)
    subject: str = Field(max_length=255)
    created_at: dt.datetime = Field(default_factory=utc_now)
