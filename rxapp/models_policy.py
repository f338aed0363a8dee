"""Workspace key policies' tables (re-exported by rxapp/models.py, where callers import them from;
kept here only to keep that module short). The rules themselves: rxapp/services/keys/policy.py
(what a new or changed key must satisfy) and rxapp/services/keys/idle.py (disabling unused keys).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from rxapp.clock import utc_now


class WorkspaceKeyPolicy(SQLModel, table=True):
    """A workspace's key policy (issue 26, item 4); no row means no policy. Every field is optional."""

    __tablename__ = "workspace_key_policies"

    workspace_id: int = Field(primary_key=True, foreign_key="workspaces.id", ondelete="CASCADE")
    max_lifetime_days: int | None = Field(default=None)
    default_lifetime_days: int | None = Field(default=None)
    require_bias_profile: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    disable_unused_after_days: int | None = Field(default=None)
    # When the maximum lifetime was last set or shortened: keys made before may still be given an
    # end date up to that many days after this moment (so an old key can be brought in line).
    max_lifetime_since: dt.datetime | None = Field(default=None)
    # When the unused rule was last switched on or shortened: nothing is disabled before this plus
    # the grace period (services/keys/idle.py GRACE).
    disable_unused_since: dt.datetime | None = Field(default=None)
    updated_at: dt.datetime = Field(default_factory=utc_now)


class KeyIdleNotice(SQLModel, table=True):
    """What the unused-key rule told about one key: the warning ("will be disabled on DATE if still
    unused"), then the disable and its reason. Claimed by conditional UPDATEs, so several workers
    warn and disable each key once."""

    __tablename__ = "key_idle_notices"

    api_key_id: int = Field(primary_key=True, foreign_key="api_keys.id", ondelete="CASCADE")
    workspace_id: int = Field(foreign_key="workspaces.id", index=True, ondelete="CASCADE")
    idle_since: dt.datetime | None = Field(default=None)  # the last use (or start) the warning is about
    disable_on: dt.datetime | None = Field(default=None)  # the date the warning named
    warned_at: dt.datetime | None = Field(default=None)
    after_days: int | None = Field(default=None)  # the rule's N when warned (the reason's words)
    disabled_at: dt.datetime | None = Field(default=None)
    # The idle clock starts no earlier than this: turning a key back on counts as a use.
    clock_from: dt.datetime | None = Field(default=None)
