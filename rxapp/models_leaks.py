"""The leak reports table (re-exported by rxapp/models.py, where callers import it from; here only to
keep each module short)."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Field, SQLModel

from rxapp.clock import utc_now


class LeakReport(SQLModel, table=True):
    """A secret-scanning report that matched a key or token of this console (services/leaks.py)."""

    __tablename__ = "leak_reports"

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspaces.id", index=True, ondelete="CASCADE")
    target_type: str = Field(max_length=8)  # "key" | "token"
    target_id: str = Field(max_length=24, index=True)
    url: str = Field(default="", max_length=1000)
    source: str = Field(default="", max_length=40)
    action: str = Field(max_length=8)  # notify | disable | roll | revoke
    created_at: dt.datetime = Field(default_factory=utc_now)
