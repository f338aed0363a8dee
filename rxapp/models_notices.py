"""The notice tables (re-exported by rxapp/models.py, where callers import them from; here only to
keep each module short). services/notices/ is what reads and writes them.

- `KeyMoment`: a key reached a moment people are told of (its end date is 30, 7 or 1 day away, it
  expired, it was reported leaked). One row per moment, whoever detects it: the unique constraint
  is what makes a moment recorded once, however many workers scan at the same time, and webhooks,
  emails and in-app notices all follow from the insert that created the row.
- `Notice`: one moment told to one person (the workspace's owners and the key's creator), shown
  in the console until dismissed, and the durable email outbox for that person: the email is
  claimed with a lease by one conditional UPDATE, so each (person, key, moment) is sent once.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from rxapp.clock import utc_now


class KeyMoment(SQLModel, table=True):
    __tablename__ = "key_moments"
    __table_args__ = (
        # once per key, kind, reminder and end date (a new end date is a new moment); a leak
        # report is a moment of its own (leak_report_id), 0 for the other kinds
        sa.UniqueConstraint(
            "key_row_id",
            "kind",
            "days_before",
            "key_expires_at",
            "leak_report_id",
            name="uq_key_moments_moment",
        ),
        sa.Index("ix_key_moments_created", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspaces.id", index=True, ondelete="CASCADE")
    # None once the key is deleted: what people were told stays, under the name it had.
    key_row_id: int | None = Field(default=None, foreign_key="api_keys.id", ondelete="SET NULL")
    key_id: str = Field(max_length=24)
    key_name: str = Field(max_length=100)
    kind: str = Field(max_length=16)  # expiring | expired | leaked | unused
    days_before: int = Field(default=0)  # expiring: the reminder (30, 7 or 1); unused: the rule's days
    key_expires_at: dt.datetime | None = Field(default=None)
    leak_report_id: int = Field(default=0)  # leaked: the leak_reports row; 0 otherwise
    leak_url: str = Field(default="", max_length=1000)
    leak_action: str = Field(default="", max_length=8)  # leaked: notify | disable | roll
    created_at: dt.datetime = Field(default_factory=utc_now)


class Notice(SQLModel, table=True):
    __tablename__ = "notices"
    __table_args__ = (
        sa.UniqueConstraint("moment_id", "user_id", name="uq_notices_moment_user"),
        sa.Index("ix_notices_user_time", "user_id", "created_at"),
        sa.Index("ix_notices_email_due", "email_status", "email_next_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    moment_id: int = Field(foreign_key="key_moments.id", ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE")
    workspace_id: int = Field(foreign_key="workspaces.id", index=True, ondelete="CASCADE")
    created_at: dt.datetime = Field(default_factory=utc_now)
    dismissed_at: dt.datetime | None = Field(default=None)
    # off (no SMTP when it was made) | opted_out | pending | sent | failed
    email_status: str = Field(default="off", max_length=10)
    email_attempts: int = Field(default=0)
    email_next_at: dt.datetime = Field(default_factory=utc_now)
    # A worker's lease on the email: its own until then (a worker that dies mid-send loses it).
    email_claimed_until: dt.datetime | None = Field(default=None)
    email_sent_at: dt.datetime | None = Field(default=None)
    email_error: str = Field(default="", max_length=300)
