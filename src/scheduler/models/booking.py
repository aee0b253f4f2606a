"""Holds, bookings, series and idempotency records.

A booking snapshots its type's phases and turnover, so editing a type later never changes the
capacity already committed. ``chair_start_at``/``chair_end_at`` is the time the chair is busy,
turnover included: on PostgreSQL the exclusion constraint ``ex_booking_chair_time`` (added by
migration) guarantees no two active bookings of one chair overlap in it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from scheduler.db.types import UTCDateTime
from scheduler.models.base import JSONType
from scheduler.models.enums import ACTIVE_STATUSES, BookingStatus, one_of

__all__ = [
    "ACTIVE_STATUSES",
    "Booking",
    "Hold",
    "IdempotencyRecord",
    "Series",
    "SeriesTemplate",
]


class SeriesTemplate(SQLModel, table=True):
    """How a treatment course of one appointment type is planned (hard rules and soft
    preferences; see ``scheduler.series.placer``)."""

    __tablename__ = "series_template"
    __table_args__ = (
        CheckConstraint("visit_count >= 1", name="visit_count_positive"),
        CheckConstraint("window_days >= 1", name="window_days_positive"),
        CheckConstraint("max_gap_hours >= min_gap_hours", name="gap_range"),
        CheckConstraint("max_per_week >= 1", name="max_per_week_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    appointment_type_id: int = Field(foreign_key="appointment_type.id", index=True)
    name: str = Field(max_length=200)
    visit_count: int
    window_days: int
    min_gap_hours: int
    max_gap_hours: int
    max_per_week: int
    booster_interval_days: int | None = None
    prefer_same_time: bool = True
    prefer_same_chair: bool = False
    prefer_same_provider: bool = False
    active: bool = True
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class Series(SQLModel, table=True):
    """A planned course of bookings (``Booking.series_id``), booked all-or-nothing."""

    __tablename__ = "series"

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    label: str = Field(default="", max_length=200)
    template_id: int | None = Field(default=None, foreign_key="series_template.id")
    location_id: int | None = Field(default=None, foreign_key="location.id")
    # "active" or "cancelled" (the rest of its visits cancelled).
    status: str = Field(default="active", max_length=20)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)


class Hold(SQLModel, table=True):
    """A short reservation while somebody completes a booking. Expired = ``expires_at`` past."""

    __tablename__ = "hold"
    __table_args__ = (CheckConstraint("end_at > start_at", name="end_after_start"),)

    id: int | None = Field(default=None, primary_key=True)
    appointment_type_id: int = Field(foreign_key="appointment_type.id")
    location_id: int = Field(foreign_key="location.id")
    chair_id: int | None = Field(default=None, foreign_key="chair.id", index=True)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    patient_id: int | None = Field(default=None, foreign_key="patient.id")
    start_at: datetime = Field(sa_type=UTCDateTime, index=True)
    end_at: datetime = Field(sa_type=UTCDateTime)
    chair_start_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    chair_end_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    phases: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType)
    turnover_minutes: int = 0
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
    released_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    consumed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    source: str = Field(default="front_desk", max_length=20)
    # Hash of the public client's hold secret: lets an anonymous patient book or release it.
    secret_hash: str | None = Field(default=None, max_length=64)
    created_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(sa_type=UTCDateTime)


class Booking(SQLModel, table=True):
    __tablename__ = "booking"
    __table_args__ = (
        CheckConstraint("end_at > start_at", name="end_after_start"),
        CheckConstraint(one_of("status", BookingStatus), name="status_valid"),
        Index("ix_booking_provider_id_start_at", "provider_id", "start_at"),
        Index("ix_booking_location_id_start_at", "location_id", "start_at"),
        Index("ix_booking_chair_id_chair_start_at", "chair_id", "chair_start_at"),
        # Calendar feeds: the bookings that end after the window starts, with what the feed's
        # validator sums (version, id), so a 304 is an index-only scan (feeds/repository.py).
        Index("ix_booking_provider_feed", "provider_id", "end_at", "start_at", "version", "id"),
        Index("ix_booking_location_feed", "location_id", "end_at", "start_at", "version", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    appointment_type_id: int = Field(foreign_key="appointment_type.id")
    location_id: int = Field(foreign_key="location.id")
    chair_id: int | None = Field(default=None, foreign_key="chair.id")
    provider_id: int = Field(foreign_key="provider.id")
    start_at: datetime = Field(sa_type=UTCDateTime)
    end_at: datetime = Field(sa_type=UTCDateTime)
    chair_start_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    chair_end_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    phases: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType)
    turnover_minutes: int = 0
    status: str = Field(max_length=20)
    source: str = Field(default="front_desk", max_length=20)
    version: int = 1
    # Stable across a reschedule: the new booking inherits it (with a higher SEQUENCE), so
    # calendar apps move the event instead of showing a cancellation and a new one.
    ical_uid: str = Field(max_length=100)
    sequence: int = 0
    notes: str = Field(default="", max_length=4000)
    override_reason: str = Field(default="", max_length=1000)
    cancel_reason: str = Field(default="", max_length=1000)
    cancelled_by: str = Field(default="", max_length=20)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    late_cancel: bool = False
    rescheduled_from_id: int | None = Field(default=None, foreign_key="booking.id", index=True)
    series_id: int | None = Field(default=None, foreign_key="series.id", index=True)
    hold_id: int | None = Field(default=None, foreign_key="hold.id", unique=True)
    driver_confirmed: bool = False
    fasting_acknowledged: bool = False
    manage_token_hash: str | None = Field(default=None, max_length=64, unique=True)
    manage_token_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class IdempotencyRecord(SQLModel, table=True):
    """The first response to an ``Idempotency-Key``, replayed for a retry with the same body."""

    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=100)
    key: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    status_code: int
    # The response without its secrets (see idempotency/service.py): replayed until expiry.
    response_body: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
