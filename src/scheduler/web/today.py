"""Today's arrivals at a location: what the front desk checks patients in from.

Times are the location's wall clock; "late" means the visit should have started and the
patient is not checked in yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session

from scheduler.auth.actors import Actor
from scheduler.bookings import service as bookings_service
from scheduler.bookings.service import TRANSITIONS
from scheduler.errors import Conflict, NotFound, PreconditionFailed
from scheduler.kit.timeutil import to_local
from scheduler.kit.zones import zone_label
from scheduler.models import Location, Patient
from scheduler.web import repository

STATUS_LABELS = {
    "pending": "Pending",
    "booked": "Booked",
    "arrived": "Arrived",
    "checked-in": "Checked in",
    "fulfilled": "Completed",
    "noshow": "No-show",
    "cancelled": "Cancelled",
    "entered-in-error": "Entered in error",
}


@dataclass(frozen=True)
class Arrival:
    booking_id: int
    version: int
    start_local: datetime
    end_local: datetime
    patient_name: str
    type_name: str
    provider_name: str
    chair_name: str | None
    status: str
    status_label: str
    late: bool
    can_check_in: bool
    driver_required: bool
    driver_confirmed: bool
    fasting_hours: int | None
    fasting_acknowledged: bool


@dataclass(frozen=True)
class TodayView:
    location: Location
    locations: list[Location]
    day: date
    zone_label: str
    arrivals: list[Arrival]


def arrivals_today(session: Session, location_id: int | None, *, now: datetime) -> TodayView:
    """The arrivals of the location's current local day (the first active location when
    none is named), in start order."""
    locations = repository.location_choices(session)
    if location_id is None:
        if not locations:
            raise NotFound("There is no active location yet.")
        location = locations[0]
    else:
        found = session.get(Location, location_id)
        if found is None:
            raise NotFound(f"Location {location_id} does not exist.")
        location = found
    assert location.id is not None
    day = to_local(now, location.timezone).date()
    start_at, end_at = bookings_service.local_day_window(session, day, location.id)
    check_in_from = TRANSITIONS["check-in"][0]
    rows = []
    for booking, patient, kind, _, provider, chair in repository.arrivals(
        session, location.id, start_at, end_at
    ):
        assert booking.id is not None
        can_check_in = booking.status in check_in_from
        rows.append(
            Arrival(
                booking_id=booking.id,
                version=booking.version,
                start_local=to_local(booking.start_at, location.timezone),
                end_local=to_local(booking.end_at, location.timezone),
                patient_name=f"{patient.first_name} {patient.last_name}",
                type_name=kind.name,
                provider_name=provider.display_name or provider.name,
                chair_name=chair.name if chair else None,
                status=booking.status,
                status_label=STATUS_LABELS.get(booking.status, booking.status),
                late=can_check_in and booking.start_at <= now,
                can_check_in=can_check_in,
                driver_required=kind.driver_required,
                driver_confirmed=booking.driver_confirmed,
                fasting_hours=kind.fasting_hours,
                fasting_acknowledged=booking.fasting_acknowledged,
            )
        )
    label = zone_label(location.timezone, now)
    return TodayView(
        location=location, locations=locations, day=day, zone_label=label, arrivals=rows
    )


STALE = (
    "Someone else changed this booking while you were looking, so nothing was done. "
    "The list below shows its current state."
)


def check_in(
    session: Session, booking_id: int, *, version: int, actor: Actor, now: datetime
) -> str:
    """Check a patient in from the arrivals list; return what to tell the receptionist.

    ``version`` is the one the page showed: when the booking changed since (someone checked
    the patient in, cancelled or moved the visit), nothing is written and the message says
    so. A transition the booking's status does not allow is explained the same way.
    """
    try:
        booking = bookings_service.transition(
            session,
            booking_id,
            "check-in",
            actor=actor,
            now=now,
            if_match=f'"{booking_id}.{version}"',
        )
    except PreconditionFailed:
        return STALE
    except Conflict as exc:
        return f"Not checked in: {exc.detail}"
    patient = session.get(Patient, booking.patient_id)
    who = f"{patient.first_name} {patient.last_name}" if patient else f"Booking {booking_id}"
    return f"{who} is checked in."
