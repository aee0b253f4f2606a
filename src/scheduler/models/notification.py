"""The outbox: messages to patients, written in the same transaction as the change.

A ``Notification`` names its booking (or, for a message about no visit such as a sign-in link
or a waitlist offer, its patient) and kind, never the patient's address or the text: both are
read when the message is sent, so nothing personal sits in the queue. A kind whose message
needs more than a booking (a sign-in link, a waitlist offer) keeps it in its own table, which
points at the notification. ``message_id`` is
fixed when the row is written, so a message sent again after a crash carries the same
``Message-ID`` and mail clients fold the two.

State: ``queued`` (due at ``due_at``; a worker holding it has ``lease_until`` in the future),
``sent``, ``failed`` (after the last attempt; ``last_error`` says why) or ``withdrawn`` (the
booking moved or was cancelled first, or the patient opted out of reminders).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index
from sqlmodel import Field, SQLModel

from scheduler.db import UTCDateTime
from scheduler.models.enums import NotificationKind, NotificationStatus, one_of

NOTIFICATION_STATUSES = tuple(NotificationStatus)
NOTIFICATION_KINDS = tuple(NotificationKind)


class Notification(SQLModel, table=True):
    __tablename__ = "notification"
    __table_args__ = (
        CheckConstraint(one_of("status", NotificationStatus), name="status_valid"),
        CheckConstraint("booking_id IS NOT NULL OR patient_id IS NOT NULL", name="has_subject"),
        # The worker's claim: due queued messages in due order.
        Index("ix_notification_status_due_at", "status", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    booking_id: int | None = Field(default=None, foreign_key="booking.id", index=True)
    patient_id: int | None = Field(default=None, foreign_key="patient.id", index=True)
    kind: str = Field(max_length=20)
    channel: str = Field(default="email", max_length=20)
    status: str = Field(default="queued", max_length=20)
    due_at: datetime = Field(sa_type=UTCDateTime)
    attempts: int = 0
    last_error: str = Field(default="", max_length=1000)
    message_id: str = Field(max_length=200, unique=True)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    claimed_by: str = Field(default="", max_length=100)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class NotificationLink(SQLModel, table=True):
    """A manage link carried by one message: only the token's hash is stored.

    Each rendering of a message makes a fresh token, so every message (front-desk bookings,
    which have no manage token of their own, included) carries a working link without any raw
    token at rest. The public manage endpoints accept it like a booking's own token; it
    follows the booking through reschedules.
    """

    __tablename__ = "notification_link"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    booking_id: int = Field(foreign_key="booking.id", index=True)
    notification_id: int | None = Field(default=None, foreign_key="notification.id")
    expires_at: datetime = Field(sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)


class ReminderOptOut(SQLModel, table=True):
    """A patient who asked (through a message's link) for no more reminders.

    Confirmations, changes and cancellations still go: they are about the patient's own visits.
    """

    __tablename__ = "reminder_opt_out"

    patient_id: int = Field(foreign_key="patient.id", primary_key=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
