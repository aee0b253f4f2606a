"""The queries behind the day board and the week view.

A board is read in a fixed number of statements whatever the number of bookings: locations,
chairs, providers, bookings (with patient and type names joined in) and holds, one SELECT each.
Bookings and holds are found through ``ix_booking_location_id_start_at``: a visit never lasts a
day, so "starts before the window ends and after one day before it starts" bounds the index scan
and the end condition then removes the few that finished earlier.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Select, func, or_, union
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from scheduler.models import (
    AppointmentType,
    Booking,
    Chair,
    Hold,
    Location,
    LocationHours,
    Patient,
    Provider,
    ProviderLocation,
)

# A visit is shorter than this (types are validated well below it); it bounds the index scan.
LONGEST_VISIT = timedelta(days=1)


class LocationRow(NamedTuple):
    id: int
    name: str
    timezone: str
    # Opening hours: (weekday, open_time, close_time), local wall-clock times.
    hours: tuple[tuple[int, time, time], ...] = ()

    def opening_on(self, weekday: int) -> list[tuple[time, time]]:
        return [(o, c) for d, o, c in self.hours if d == weekday]


class ChairRow(NamedTuple):
    id: int
    name: str


class ProviderRow(NamedTuple):
    id: int
    display_name: str
    credentials: str
    max_concurrent_patients: int


class VisitRow(NamedTuple):
    id: int
    start_at: datetime
    end_at: datetime
    chair_end_at: datetime | None
    phases: list[dict[str, Any]]
    turnover_minutes: int
    chair_id: int | None
    provider_id: int
    status: str
    type_name: str
    first_name: str
    last_name: str


class HoldRow(NamedTuple):
    id: int
    start_at: datetime
    end_at: datetime
    phases: list[dict[str, Any]]
    turnover_minutes: int
    chair_id: int | None
    provider_id: int
    type_name: str


def active_locations(session: Session) -> list[LocationRow]:
    """Every active location by name, with its opening hours (one statement: outer join)."""
    rows = session.execute(
        sa_select(
            col(Location.id),
            col(Location.name),
            col(Location.timezone),
            col(LocationHours.weekday),
            col(LocationHours.open_time),
            col(LocationHours.close_time),
        )
        .outerjoin(LocationHours, col(LocationHours.location_id) == col(Location.id))
        .where(col(Location.active).is_(True))
        .order_by(
            func.lower(Location.name),
            col(Location.id),
            col(LocationHours.weekday),
            col(LocationHours.open_time),
        )
    ).all()
    out: dict[int, LocationRow] = {}
    for location_id, name, zone, weekday, open_time, close_time in rows:
        found = out.setdefault(location_id, LocationRow(location_id, name, zone))
        if weekday is not None:
            hours = (*found.hours, (weekday, open_time, close_time))
            out[location_id] = found._replace(hours=hours)
    return list(out.values())


def chairs_of(session: Session, location_id: int) -> list[ChairRow]:
    rows = session.exec(
        select(Chair.id, Chair.name)
        .where(Chair.location_id == location_id, col(Chair.active).is_(True))
        .order_by(col(Chair.position), col(Chair.name), col(Chair.id))
    ).all()
    return [ChairRow(int(i or 0), n) for i, n in rows]


def providers_of(
    session: Session, location_id: int, start_at: datetime, end_at: datetime
) -> list[ProviderRow]:
    """The location's active providers, plus anyone with a visit there in the window."""
    at_location: Select[tuple[int]] = sa_select(
        col(ProviderLocation.provider_id).label("pid")
    ).where(col(ProviderLocation.location_id) == location_id)
    visiting: Select[tuple[int]] = sa_select(col(Booking.provider_id).label("pid")).where(
        col(Booking.location_id) == location_id,
        col(Booking.start_at) < end_at,
        col(Booking.start_at) > start_at - LONGEST_VISIT,
    )
    ids = union(at_location, visiting).subquery()
    rows = session.exec(
        select(
            Provider.id,
            Provider.display_name,
            Provider.credentials,
            Provider.max_concurrent_patients,
        )
        .where(col(Provider.id).in_(sa_select(ids.c.pid)))
        .where(or_(col(Provider.active).is_(True), col(Provider.id).in_(visiting)))
        .order_by(func.lower(Provider.display_name), col(Provider.id))
    ).all()
    return [ProviderRow(int(i or 0), n, c, m) for i, n, c, m in rows]


def bookings_between(
    session: Session,
    location_id: int,
    start_at: datetime,
    end_at: datetime,
    statuses: Sequence[str],
) -> list[VisitRow]:
    """Bookings of the location in ``statuses`` whose time (turnover included) meets the window."""
    ends = func.coalesce(Booking.chair_end_at, Booking.end_at)
    rows = session.execute(
        sa_select(
            col(Booking.id),
            col(Booking.start_at),
            col(Booking.end_at),
            col(Booking.chair_end_at),
            col(Booking.phases),
            col(Booking.turnover_minutes),
            col(Booking.chair_id),
            col(Booking.provider_id),
            col(Booking.status),
            col(AppointmentType.name),
            col(Patient.first_name),
            col(Patient.last_name),
        )
        .join(AppointmentType, col(AppointmentType.id) == Booking.appointment_type_id)
        .join(Patient, col(Patient.id) == Booking.patient_id)
        .where(
            col(Booking.location_id) == location_id,
            col(Booking.start_at) < end_at,
            col(Booking.start_at) > start_at - LONGEST_VISIT,
            ends > start_at,
            col(Booking.status).in_(list(statuses)),
        )
        .order_by(col(Booking.start_at), col(Booking.id))
    ).all()
    return [VisitRow(*row) for row in rows]


def holds_between(
    session: Session, location_id: int, start_at: datetime, end_at: datetime, now: datetime
) -> list[HoldRow]:
    """Live holds (not expired, released or consumed) of the location meeting the window."""
    ends = func.coalesce(Hold.chair_end_at, Hold.end_at)
    rows = session.execute(
        sa_select(
            col(Hold.id),
            col(Hold.start_at),
            col(Hold.end_at),
            col(Hold.phases),
            col(Hold.turnover_minutes),
            col(Hold.chair_id),
            col(Hold.provider_id),
            col(AppointmentType.name),
        )
        .join(AppointmentType, col(AppointmentType.id) == Hold.appointment_type_id)
        .where(
            col(Hold.location_id) == location_id,
            col(Hold.start_at) < end_at,
            col(Hold.start_at) > start_at - LONGEST_VISIT,
            ends > start_at,
            col(Hold.expires_at) > now,
            col(Hold.released_at).is_(None),
            col(Hold.consumed_at).is_(None),
        )
        .order_by(col(Hold.start_at), col(Hold.id))
    ).all()
    return [HoldRow(*row) for row in rows]


class ChairTimeRow(NamedTuple):
    chair_id: int
    start_at: datetime
    end_at: datetime


def chair_time_between(
    session: Session,
    location_id: int,
    start_at: datetime,
    end_at: datetime,
    statuses: Sequence[str],
) -> list[ChairTimeRow]:
    """The chair time (turnover included) of the location's bookings meeting the window."""
    starts = func.coalesce(Booking.chair_start_at, Booking.start_at)
    ends = func.coalesce(Booking.chair_end_at, Booking.end_at)
    rows = session.execute(
        sa_select(col(Booking.chair_id), starts, ends)
        .where(
            col(Booking.location_id) == location_id,
            col(Booking.chair_id).is_not(None),
            col(Booking.start_at) < end_at,
            col(Booking.start_at) > start_at - LONGEST_VISIT,
            ends > start_at,
            col(Booking.status).in_(list(statuses)),
        )
        .order_by(col(Booking.start_at), col(Booking.id))
    ).all()
    return [ChairTimeRow(int(c or 0), s, e) for c, s, e in rows]
