"""A returning patient's way back in without a password: a sign-in link sent by e-mail, and
the short session that following it starts (``/me``)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from scheduler.db.types import UTCDateTime


class PatientLink(SQLModel, table=True):
    """A single-use sign-in link. Only the token's SHA-256 is stored; the token itself is
    HMAC(secret key, id + ``nonce``), so the worker can put it in the mail while a copy of
    the database (without the key) cannot be turned into a working link."""

    __tablename__ = "patient_link"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    nonce: str = Field(max_length=64)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    notification_id: int | None = Field(default=None, foreign_key="notification.id")
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)


class PatientSession(SQLModel, table=True):
    """A patient signed in by a link: the ``HttpOnly`` cookie holds a random token, only its
    hash is stored; it ends at ``expires_at`` or on sign-out (``ended_at``)."""

    __tablename__ = "patient_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
