"""Which dates of a window have any free time for a patient (the booking month grid).

The same checks as ``public.service.find_times`` (an active location, a type patients may
book, at most ``public_search_max_days``) and the same answer as the dates of its times,
without building them: the month grid asks for this, and ``find_times`` only for the one
day the patient opens.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlmodel import Session

from scheduler.availability.service import search_free_days
from scheduler.config import Settings
from scheduler.errors import InvalidInput
from scheduler.public.common import active_location, bookable_type


def free_days(
    session: Session,
    *,
    location_id: int,
    appointment_type_id: int,
    start_at: datetime,
    end_at: datetime,
    now: datetime,
    settings: Settings,
    provider_id: int | None = None,
) -> list[date]:
    """The location's local dates in [start_at, end_at) with at least one free start time
    (of ``provider_id`` only, where the clinic shows providers to patients; else ignored)."""
    active_location(session, location_id)
    bookable_type(session, appointment_type_id)
    if end_at - start_at > timedelta(days=settings.public_search_max_days):
        raise InvalidInput(
            f"Search at most {settings.public_search_max_days} days at a time.", field="end"
        )
    return search_free_days(
        session,
        location_id=location_id,
        appointment_type_id=appointment_type_id,
        start_at=start_at,
        end_at=end_at,
        now=now,
        provider_id=provider_id if settings.show_provider_to_patients else None,
    )
