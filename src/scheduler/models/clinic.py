"""Clinic resources: locations and their hours, chairs, providers, availability, types."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import CheckConstraint, UniqueConstraint
from sqlmodel import Field, SQLModel

from scheduler.db.types import UTCDateTime
from scheduler.models.base import JSONType


class Location(SQLModel, table=True):
    __tablename__ = "location"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    address: str = Field(default="", max_length=500)
    timezone: str = Field(max_length=64)
    phone: str = Field(default="", max_length=40)
    active: bool = True
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class LocationHours(SQLModel, table=True):
    """Opening hours of a location on one weekday, local wall-clock time."""

    __tablename__ = "location_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("close_time > open_time", name="close_after_open"),
    )

    id: int | None = Field(default=None, primary_key=True)
    location_id: int = Field(foreign_key="location.id", index=True, ondelete="CASCADE")
    weekday: int
    open_time: time
    close_time: time


class Chair(SQLModel, table=True):
    __tablename__ = "chair"
    __table_args__ = (UniqueConstraint("location_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    location_id: int = Field(foreign_key="location.id", index=True)
    name: str = Field(max_length=100)
    position: int = 0
    active: bool = True
    tags: list[str] = Field(default_factory=list, sa_type=JSONType)


class Provider(SQLModel, table=True):
    __tablename__ = "provider"
    __table_args__ = (
        CheckConstraint("max_concurrent_patients >= 1", name="capacity_positive"),
        CheckConstraint("min_minutes_between_starts >= 0", name="stagger_non_negative"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    display_name: str = Field(max_length=200)
    credentials: str = Field(default="", max_length=50)
    email: str = Field(default="", max_length=320)
    max_concurrent_patients: int = 1
    min_minutes_between_starts: int = 0
    active: bool = True


class ProviderLocation(SQLModel, table=True):
    __tablename__ = "provider_location"

    provider_id: int = Field(foreign_key="provider.id", primary_key=True, ondelete="CASCADE")
    location_id: int = Field(foreign_key="location.id", primary_key=True)


class ProviderAppointmentType(SQLModel, table=True):
    __tablename__ = "provider_appointment_type"

    provider_id: int = Field(foreign_key="provider.id", primary_key=True, ondelete="CASCADE")
    appointment_type_id: int = Field(foreign_key="appointment_type.id", primary_key=True)


class AvailabilityRule(SQLModel, table=True):
    """Weekly working hours of a provider at a location, local wall-clock times."""

    __tablename__ = "availability_rule"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("end_time > start_time", name="end_after_start"),
    )

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    location_id: int = Field(foreign_key="location.id", index=True)
    weekday: int
    start_time: time
    end_time: time
    valid_from_date: date | None = None
    valid_until_date: date | None = None


class AvailabilityException(SQLModel, table=True):
    """A dated change: a provider's time off or extra hours, or a location closure.

    ``provider_id`` NULL with a ``location_id`` is a closure of the whole location (kind is then
    always ``unavailable``). A provider's ``unavailable`` without location applies everywhere;
    ``extra`` hours always name the location.
    """

    __tablename__ = "availability_exception"
    __table_args__ = (
        CheckConstraint("end_at > start_at", name="end_after_start"),
        CheckConstraint("kind IN ('unavailable', 'extra')", name="kind_valid"),
        CheckConstraint("provider_id IS NOT NULL OR location_id IS NOT NULL", name="has_subject"),
    )

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int | None = Field(default=None, foreign_key="provider.id", index=True)
    location_id: int | None = Field(default=None, foreign_key="location.id", index=True)
    kind: str = Field(max_length=20)
    start_at: datetime = Field(sa_type=UTCDateTime)
    end_at: datetime = Field(sa_type=UTCDateTime)
    reason: str = Field(default="", max_length=500)


class AppointmentType(SQLModel, table=True):
    """What can be booked. ``phases`` is a list of {minutes, uses_chair, provider_use}."""

    __tablename__ = "appointment_type"
    __table_args__ = (
        CheckConstraint("duration_minutes > 0", name="duration_positive"),
        CheckConstraint("slot_step_minutes > 0", name="step_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=50, unique=True)
    name: str = Field(max_length=200)
    description: str = Field(default="", max_length=2000)
    duration_minutes: int
    phases: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType)
    needs_chair: bool = False
    turnover_minutes: int = 0
    slot_step_minutes: int = 15
    min_notice_minutes: int = 0
    max_days_ahead: int = 90
    patient_cancel_cutoff_minutes: int = 24 * 60
    patient_reschedule_cutoff_minutes: int = 48 * 60
    self_schedulable: bool = False
    requires_approval: bool = False
    prerequisites: list[str] = Field(default_factory=list, sa_type=JSONType)
    fasting_hours: int | None = None
    clear_liquids_hours: int | None = None
    driver_required: bool = False
    patient_instructions: str = Field(default="", max_length=4000)
    active: bool = True
