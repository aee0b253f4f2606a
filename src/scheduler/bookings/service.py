"""Bookings and holds: the operations routers and other services call. No FastAPI here.

The work lives in ``holds`` (reserving a slot), ``book`` (create and reschedule over one
shared placement path), ``lifecycle`` (status transitions, edits, cancellation) and
``placement`` (the rules checked under the locks); this module re-exports them and holds the
day-list queries' service side.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from scheduler.availability.engine import local_instant
from scheduler.bookings import repository
from scheduler.bookings.book import create_booking, new_ical_uid, reschedule_booking
from scheduler.bookings.holds import create_hold, get_hold, get_hold_for, hold_is_live, release_hold
from scheduler.bookings.lifecycle import (
    CHANGEABLE,
    TRANSITIONS,
    cancel_booking,
    check_if_match,
    etag_of,
    get_booking,
    get_booking_for,
    is_late,
    transition,
    update_booking,
)
from scheduler.errors import InvalidInput, NotFound
from scheduler.models import Booking, Location

__all__ = [
    "CHANGEABLE",
    "TRANSITIONS",
    "cancel_booking",
    "check_if_match",
    "create_booking",
    "create_hold",
    "etag_of",
    "get_booking",
    "get_booking_for",
    "get_hold",
    "get_hold_for",
    "hold_is_live",
    "is_late",
    "list_bookings",
    "local_day_window",
    "new_ical_uid",
    "release_hold",
    "reschedule_booking",
    "transition",
    "update_booking",
]


def local_day_window(
    session: Session, day: date, location_id: int | None
) -> tuple[datetime, datetime]:
    """[local midnight, next local midnight) of ``day`` at the location (23 or 25 hours on
    DST-change days)."""
    if location_id is None:
        raise InvalidInput(
            "Filtering by date needs location_id (for its time zone).", field="location_id"
        )
    location = session.get(Location, location_id)
    if location is None:
        raise NotFound(f"Location {location_id} does not exist.")
    tz = ZoneInfo(location.timezone)
    return local_instant(day, time(0), tz), local_instant(day + timedelta(days=1), time(0), tz)


def list_bookings(
    session: Session,
    *,
    start_at: datetime | None,
    end_at: datetime | None,
    location_id: int | None,
    chair_id: int | None,
    provider_id: int | None,
    patient_id: int | None,
    statuses: Sequence[str],
    limit: int,
    offset: int,
) -> tuple[list[Booking], int]:
    return repository.list_bookings(
        session,
        start_at=start_at,
        end_at=end_at,
        location_id=location_id,
        chair_id=chair_id,
        provider_id=provider_id,
        patient_id=patient_id,
        statuses=statuses,
        limit=limit,
        offset=offset,
    )
