"""Patients: people being treated. Personal data; never logged, never in feeds by default."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from scheduler.db.types import UTCDateTime


class Patient(SQLModel, table=True):
    __tablename__ = "patient"

    id: int | None = Field(default=None, primary_key=True)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    date_of_birth: date
    email: str = Field(default="", max_length=320, index=True)
    phone: str = Field(default="", max_length=40)
    consult_completed: bool = False
    consent_signed: bool = False
    rems_enrolled: bool = False
    notes: str = Field(default="", max_length=4000)
    created_at: datetime = Field(sa_type=UTCDateTime)
    # Indexed for calendar feeds, which look up the patients changed since yesterday.
    updated_at: datetime = Field(sa_type=UTCDateTime, index=True)
