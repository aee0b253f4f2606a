"""The closed vocabularies of the schema: staff roles, booking statuses, and the kinds and
states of the messages to patients.

One definition used by the CHECK constraints below, the API schemas, the booking transitions
and the public service alike. ``StrEnum`` members are their string values, so rows, JSON and
comparisons with plain strings all agree.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """``admin`` (everything), ``front_desk`` (bookings, patients, availability, resources),
    ``provider`` (their own schedule, availability and feed tokens only)."""

    ADMIN = "admin"
    FRONT_DESK = "front_desk"
    PROVIDER = "provider"


class BookingStatus(StrEnum):
    PENDING = "pending"  # waiting for staff approval
    BOOKED = "booked"
    ARRIVED = "arrived"
    CHECKED_IN = "checked-in"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    NOSHOW = "noshow"
    ENTERED_IN_ERROR = "entered-in-error"


# Statuses that hold a chair and a provider's time.
ACTIVE_STATUSES: tuple[BookingStatus, ...] = (
    BookingStatus.PENDING,
    BookingStatus.BOOKED,
    BookingStatus.ARRIVED,
    BookingStatus.CHECKED_IN,
    BookingStatus.FULFILLED,
)


class NotificationStatus(StrEnum):
    QUEUED = "queued"  # due at due_at (a worker may hold it)
    SENT = "sent"
    FAILED = "failed"  # gave up after the last attempt; last_error says why
    WITHDRAWN = "withdrawn"  # no longer needed (the visit moved or was cancelled, opt-out)


class NotificationKind(StrEnum):
    """What a message is about. The first five are about one visit (``booking_id``); a
    sign-in link and a waitlist offer are about a patient (``patient_id``)."""

    CONFIRMATION = "confirmation"
    RESCHEDULED = "rescheduled"
    CANCELLATION = "cancellation"
    REMINDER = "reminder"
    INSTRUCTIONS = "instructions"
    WAITLIST_OFFER = "waitlist_offer"
    SIGN_IN = "sign_in"


def one_of(column: str, values: type[StrEnum]) -> str:
    """The SQL of a CHECK that ``column`` holds one of the enum's values."""
    listed = ", ".join(f"'{member.value}'" for member in values)
    return f"{column} IN ({listed})"
