"""The closed vocabularies of the schema: staff roles and booking statuses.

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


def one_of(column: str, values: type[StrEnum]) -> str:
    """The SQL of a CHECK that ``column`` holds one of the enum's values."""
    listed = ", ".join(f"'{member.value}'" for member in values)
    return f"{column} IN ({listed})"
