"""Append-only audit trail. Written in the same transaction as the change it records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from scheduler.db.types import UTCDateTime
from scheduler.models.base import JSONType


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    occurred_at: datetime = Field(sa_type=UTCDateTime, index=True)
    actor: str = Field(max_length=100)
    actor_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    action: str = Field(max_length=60, index=True)
    entity_type: str = Field(max_length=40)
    entity_id: int | None = Field(default=None)
    before: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    after: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    reason: str = Field(default="", max_length=1000)
    request_id: str = Field(default="", max_length=64)
