"""Patients: people being treated. Personal data; never logged, never in feeds by default."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from scheduler.db import UTCDateTime


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
    # An online booking never attaches to an existing record on e-mail and date of birth alone:
    # it makes its own record and points here at the (lowest-id) record it matched, for staff
    # to review and merge. Cleared by a merge.
    probable_duplicate_of_id: int | None = Field(default=None, foreign_key="patient.id", index=True)
    # Set on the record a merge folded into another (records are never deleted).
    merged_into_id: int | None = Field(default=None, foreign_key="patient.id")
    created_at: datetime = Field(sa_type=UTCDateTime)
    # Indexed for calendar feeds, which look up the patients changed since yesterday.
    updated_at: datetime = Field(sa_type=UTCDateTime, index=True)
