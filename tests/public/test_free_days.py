"""The patient month grid's "which dates have a free time" (public/free_days.py): the same
dates as the times ``find_times`` offers over the same window, under the same checks.

Clock: Monday 2 March 2026, 09:00 in New York (the clocks go forward on Sunday 8 March); the
nurse of tests/clinic_fixture.py works weekdays 9-5.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session

from scheduler.config import Settings
from scheduler.errors import InvalidInput, NotFound
from scheduler.kit.clock import FrozenClock
from scheduler.models import AvailabilityException
from scheduler.public import service
from scheduler.public.free_days import free_days
from tests.clinic_fixture import Clinic

NEW_YORK = ZoneInfo("America/New_York")


def _window(clock: FrozenClock) -> tuple[datetime, datetime]:
    now = clock.now()
    return now, datetime(2026, 4, 1, tzinfo=NEW_YORK)


def test_free_days_are_the_dates_find_times_offers(
    clinic: Clinic, db: Session, clock: FrozenClock, settings: Settings
) -> None:
    clinic.consult.self_schedulable = True
    db.add(clinic.consult)
    # The clinic is closed all of Wednesday 4 March.
    db.add(
        AvailabilityException(
            location_id=clinic.location_id,
            kind="unavailable",
            start_at=datetime(2026, 3, 4, tzinfo=NEW_YORK),
            end_at=datetime(2026, 3, 5, tzinfo=NEW_YORK),
        )
    )
    db.commit()
    start, end = _window(clock)
    ids = {"location_id": clinic.location_id, "appointment_type_id": clinic.consult.id or 0}
    days = free_days(db, **ids, start_at=start, end_at=end, now=clock.now(), settings=settings)
    times = service.find_times(
        db, **ids, start_at=start, end_at=end, now=clock.now(), settings=settings
    )
    assert days == sorted({s.start_at.astimezone(NEW_YORK).date() for s in times.items})
    assert date(2026, 3, 4) not in days  # closed
    assert date(2026, 3, 6) in days  # the Friday before the clocks go forward
    assert date(2026, 3, 9) in days  # the Monday after
    assert all(d.weekday() < 5 for d in days)  # the nurse works weekdays
    assert len(days) == 21  # the 22 weekdays from 2 to 31 March, but for the closure


def test_free_days_refuse_what_find_times_refuses(
    clinic: Clinic, db: Session, clock: FrozenClock, settings: Settings
) -> None:
    start, end = _window(clock)
    now = clock.now()
    type_id = clinic.consult.id or 0
    with pytest.raises(NotFound):  # not bookable by patients
        free_days(
            db,
            location_id=clinic.location_id,
            appointment_type_id=type_id,
            start_at=start,
            end_at=end,
            now=now,
            settings=settings,
        )
    clinic.consult.self_schedulable = True
    db.add(clinic.consult)
    db.commit()
    with pytest.raises(InvalidInput):  # longer than public_search_max_days
        free_days(
            db,
            location_id=clinic.location_id,
            appointment_type_id=type_id,
            start_at=start,
            end_at=start + timedelta(days=settings.public_search_max_days + 1),
            now=now,
            settings=settings,
        )
    clinic.location.active = False
    db.add(clinic.location)
    db.commit()
    with pytest.raises(NotFound):  # an inactive location
        free_days(
            db,
            location_id=clinic.location_id,
            appointment_type_id=type_id,
            start_at=start,
            end_at=end,
            now=now,
            settings=settings,
        )
