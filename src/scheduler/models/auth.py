"""Staff users and calendar feed tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint
from sqlmodel import Field, SQLModel

from scheduler.db import UTCDateTime


class User(SQLModel, table=True):
    __tablename__ = "user_account"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'front_desk', 'provider')", name="role_valid"),
        CheckConstraint("role <> 'provider' OR provider_id IS NOT NULL", name="provider_linked"),
    )

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True)
    full_name: str = Field(default="", max_length=200)
    password_hash: str = Field(max_length=500)
    role: str = Field(max_length=20)
    provider_id: int | None = Field(default=None, foreign_key="provider.id")
    active: bool = True
    created_at: datetime = Field(sa_type=UTCDateTime)
    # When the password, role, provider link or active flag last changed: access tokens and
    # sessions issued before this instant are refused (auth/credentials.py). Null: never.
    credentials_changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class FeedToken(SQLModel, table=True):
    """A calendar subscription secret. Only its SHA-256 is stored; the token is shown once."""

    __tablename__ = "feed_token"
    __table_args__ = (
        CheckConstraint("(provider_id IS NULL) <> (location_id IS NULL)", name="exactly_one_owner"),
    )

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    provider_id: int | None = Field(default=None, foreign_key="provider.id", index=True)
    location_id: int | None = Field(default=None, foreign_key="location.id", index=True)
    label: str = Field(default="", max_length=200)
    created_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The token a rotation replaced this one with: revoking any token of a rotation chain
    # revokes the chain's live end, the URL the subscriber actually holds.
    replaced_by_id: int | None = Field(default=None, foreign_key="feed_token.id")
