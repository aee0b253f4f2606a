"""The waitlist: "call me if something opens", and the offers the worker makes from it.

A ``WaitlistEntry`` asks for a type at a location within a window of dates and a daily window
of wall-clock times in the clinic's zone, with one provider or any. It is ``waiting`` (first
come, first served: ``created_at``), ``offered`` (one offer in flight), ``booked``,
``expired`` (its window ended) or ``cancelled`` (by staff).

A ``WaitlistOffer`` is one freed slot held for one entry: the hold it made, the message that
carried it (a ``waitlist_offer`` notification), and an accept link. Only the link token's hash
is stored; the worker derives the raw token again from the server's secret key and the offer's
``nonce`` when it renders the message (``waitlist/tokens.py``). It is ``offered``, then
``accepted`` (booked from the hold), ``passed`` (declined) or ``expired`` (unanswered in time;
the hold is released and the slot passes to the next entry).
"""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import CheckConstraint, Index
from sqlmodel import Field, SQLModel

from scheduler.db.types import UTCDateTime

ENTRY_STATUSES = ("waiting", "offered", "booked", "expired", "cancelled")
OFFER_STATUSES = ("offered", "accepted", "passed", "expired")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class WaitlistEntry(SQLModel, table=True):
    __tablename__ = "waitlist_entry"
    __table_args__ = (
        CheckConstraint(_in("status", ENTRY_STATUSES), name="status_valid"),
        CheckConstraint("latest_date >= earliest_date", name="date_window"),
        CheckConstraint("latest_time > earliest_time", name="time_window"),
        # The worker's scan and the desk's list: one location and type, by status, first come.
        Index(
            "ix_waitlist_entry_queue", "location_id", "appointment_type_id", "status", "created_at"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    location_id: int = Field(foreign_key="location.id")
    appointment_type_id: int = Field(foreign_key="appointment_type.id")
    provider_id: int | None = Field(default=None, foreign_key="provider.id")  # None: any
    earliest_date: date
    latest_date: date
    earliest_time: time
    latest_time: time
    status: str = Field(default="waiting", max_length=20)
    booking_id: int | None = Field(default=None, foreign_key="booking.id")
    created_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class WaitlistOffer(SQLModel, table=True):
    __tablename__ = "waitlist_offer"
    __table_args__ = (
        CheckConstraint(_in("status", OFFER_STATUSES), name="status_valid"),
        Index("ix_waitlist_offer_status_expires_at", "status", "expires_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int = Field(foreign_key="waitlist_entry.id", index=True)
    hold_id: int = Field(foreign_key="hold.id", unique=True)
    notification_id: int | None = Field(default=None, foreign_key="notification.id", unique=True)
    nonce: str = Field(max_length=64)
    token_hash: str = Field(max_length=64, unique=True)
    start_at: datetime = Field(sa_type=UTCDateTime)
    end_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    status: str = Field(default="offered", max_length=20)
    booking_id: int | None = Field(default=None, foreign_key="booking.id")
    responded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
