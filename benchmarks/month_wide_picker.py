"""The service's app with the time picker as it was before ``public/free_days.py``: one
``find_times`` over the whole month (every slot built) to learn which dates have a free time,
the chosen day's times filtered from it. ``benchmarks/public_pages.py --compare`` serves this
next to the current app to measure both in one run. Not part of the service.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from sqlmodel import Session

from scheduler.config import Settings
from scheduler.main import create_app as create_service_app
from scheduler.public import service
from scheduler.public.schemas import PublicAppointmentType, PublicLocation, PublicSlot
from scheduler.web import patient_base, patient_book, patient_manage
from scheduler.web.patient_view import (
    local_day_bounds,
    month_bounds,
    month_grid,
    parse_day,
    parse_month,
)


def month_wide_picker(
    db: Session,
    *,
    location: PublicLocation,
    kind: PublicAppointmentType,
    month_text: str | None,
    day_text: str | None,
    now: datetime,
    settings: Settings,
    provider_id: int | None = None,
    cache: object = None,
) -> dict[str, Any]:
    """The picker of ``web/patient_pages.py`` at main 23116a6 (now ``patient_base.picker``),
    with the provider choice added since (``cache`` is not used)."""
    zone = location.timezone
    today = now.astimezone(ZoneInfo(zone)).date()
    chosen_day = parse_day(day_text)
    month = parse_month(month_text) or (chosen_day or today).replace(day=1)
    last_month = (today.replace(day=1) + timedelta(days=31 * patient_base.MONTHS_AHEAD)).replace(
        day=1
    )
    month = min(max(month, today.replace(day=1)), last_month)
    start, end = month_bounds(month, zone)
    start = max(start, now)
    end = min(end, start + timedelta(days=settings.public_search_max_days))
    found = service.find_times(
        db,
        location_id=location.id,
        appointment_type_id=kind.id,
        start_at=start,
        end_at=end,
        now=now,
        settings=settings,
        provider_id=provider_id,
    )
    free = {s.start_at.astimezone(ZoneInfo(zone)).date() for s in found.items}
    if chosen_day is not None and chosen_day.replace(day=1) != month:
        chosen_day = None
    times: list[PublicSlot] = []
    if chosen_day is not None:
        day_start, day_end = local_day_bounds(chosen_day, zone)
        times = [s for s in found.items if day_start <= s.start_at < day_end]
    return {
        "grid": month_grid(month, free, selected=chosen_day, today=today, last_month=last_month),
        "day": chosen_day,
        "times": times,
        "tz": ZoneInfo(zone),
        "zone": zone,
        "kind": kind,
        "provider_id": provider_id,
    }


def create_app() -> FastAPI:
    # The booking and rescheduling pages call the picker by the name they imported.
    patient_book.picker = month_wide_picker
    patient_manage.picker = month_wide_picker
    return create_service_app()
