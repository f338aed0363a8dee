"""Passkeys' tables and public shape (re-exported by rxapp.models, where every other table lives;
kept apart only to keep that module small). A public shape never carries a key or a challenge."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlmodel import Field, SQLModel

from rxapp.clock import utc_now


class Passkey(SQLModel, table=True):
    """A user's passkey (WebAuthn credential, services/passkeys.py): its public key only. The
    signature counter is checked on each use (a cloned authenticator shows a counter that does
    not move forward)."""

    __tablename__ = "passkeys"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=60)
    credential_id: str = Field(max_length=1400, unique=True, index=True)  # base64url
    public_key: str = Field(max_length=2000)  # COSE key, base64url
    sign_count: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False, server_default="0"))
    created_at: dt.datetime = Field(default_factory=utc_now)
    last_used_at: dt.datetime | None = Field(default=None)


class PasskeyChallenge(SQLModel, table=True):
    """A WebAuthn challenge the server issued: used once (deleted when used), for one purpose
    (`register`, `sign_in`, `second_factor`, `reauth`), short-lived. Only its SHA-256 is kept."""

    __tablename__ = "passkey_challenges"

    id: int | None = Field(default=None, primary_key=True)
    digest: str = Field(max_length=64, unique=True, index=True)
    purpose: str = Field(max_length=16)
    user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="CASCADE")
    expires_at: dt.datetime = Field(index=True)


class PasskeyPublic(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None = None
