"""Which dates of a window have any free time for a patient (the booking month grid).

The same checks as ``public.service.find_times`` (``common.check_search``: an active
location, a type patients may book, at most ``public_search_max_days``) and the same answer
as the dates of its times, without building them: the month grid asks for this, and
``find_times`` only for the one day the patient opens.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session

from scheduler.availability.cache import OpenStartsCache
from scheduler.availability.service import search_free_days
from scheduler.config import Settings
from scheduler.public.common import check_search


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
    cache: OpenStartsCache | None = None,
) -> list[date]:
    """The location's local dates in [start_at, end_at) with at least one free start time
    (of ``provider_id`` only, where the clinic shows providers to patients; else ignored).
    ``cache``: the app's, see ``availability.service.search_free_days``."""
    subject = check_search(
        session,
        location_id=location_id,
        appointment_type_id=appointment_type_id,
        start_at=start_at,
        end_at=end_at,
        settings=settings,
    )
    return search_free_days(
        session,
        location_id=location_id,
        appointment_type_id=appointment_type_id,
        start_at=start_at,
        end_at=end_at,
        now=now,
        provider_id=provider_id if settings.show_provider_to_patients else None,
        cache=cache,
        subject=subject,
    )
