"""Signed-in staff sessions of the web pages (``/admin``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from scheduler.db import UTCDateTime


class WebSession(SQLModel, table=True):
    """One browser's sign-in. The cookie holds a random token; only its SHA-256 is stored,
    so a copy of the database cannot be replayed as a cookie.

    A session ends at ``ended_at`` (sign-out), after ``last_seen_at`` + the idle limit, after
    ``created_at`` + the absolute limit, when its user is disabled, or when the user's
    credentials changed after ``created_at``. ``flash`` holds the one message the next page
    shows ("Checked in."), then is cleared.
    """

    __tablename__ = "web_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    last_seen_at: datetime = Field(sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    flash: str | None = Field(default=None, sa_type=Text)
