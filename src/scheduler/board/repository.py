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

from sqlalchemy import and_, bindparam, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from scheduler.models import Booking, metadata

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


_location = metadata.tables["location"]
_hours = metadata.tables["location_hours"]
_chair = metadata.tables["chair"]
_provider = metadata.tables["provider"]
_provider_location = metadata.tables["provider_location"]
_booking = metadata.tables["booking"]
_hold = metadata.tables["hold"]
_type = metadata.tables["appointment_type"]
_patient = metadata.tables["patient"]

# The board's statements are built once (Core, bound parameters) and compiled once per
# dialect by SQLAlchemy's cache: a board is read on every refresh of every front desk.
_LOCATIONS = (
    sa_select(
        _location.c.id,
        _location.c.name,
        _location.c.timezone,
        _hours.c.weekday,
        _hours.c.open_time,
        _hours.c.close_time,
    )
    .select_from(_location.outerjoin(_hours, _hours.c.location_id == _location.c.id))
    .where(_location.c.active.is_(True))
    .order_by(func.lower(_location.c.name), _location.c.id, _hours.c.weekday, _hours.c.open_time)
)

_CHAIRS = (
    sa_select(_chair.c.id, _chair.c.name)
    .where(_chair.c.location_id == bindparam("location_id"), _chair.c.active.is_(True))
    .order_by(_chair.c.position, _chair.c.name, _chair.c.id)
)

# Visits that start before the window ends and less than a day before it starts.
_VISITING = sa_select(_booking.c.provider_id).where(
    _booking.c.location_id == bindparam("location_id"),
    _booking.c.start_at < bindparam("end_at"),
    _booking.c.start_at > bindparam("scan_from"),
)
_PROVIDERS = (
    sa_select(
        _provider.c.id,
        _provider.c.display_name,
        _provider.c.credentials,
        _provider.c.max_concurrent_patients,
    )
    .where(
        or_(
            and_(
                _provider.c.active.is_(True),
                _provider.c.id.in_(
                    sa_select(_provider_location.c.provider_id).where(
                        _provider_location.c.location_id == bindparam("location_id")
                    )
                ),
            ),
            _provider.c.id.in_(_VISITING),
        )
    )
    .order_by(func.lower(_provider.c.display_name), _provider.c.id)
)

_BOOKINGS = (
    sa_select(
        _booking.c.id,
        _booking.c.start_at,
        _booking.c.end_at,
        _booking.c.chair_end_at,
        _booking.c.phases,
        _booking.c.turnover_minutes,
        _booking.c.chair_id,
        _booking.c.provider_id,
        _booking.c.status,
        _type.c.name,
        _patient.c.first_name,
        _patient.c.last_name,
    )
    .select_from(
        _booking.join(_type, _type.c.id == _booking.c.appointment_type_id).join(
            _patient, _patient.c.id == _booking.c.patient_id
        )
    )
    .where(
        _booking.c.location_id == bindparam("location_id"),
        _booking.c.start_at < bindparam("end_at"),
        _booking.c.start_at > bindparam("scan_from"),
        func.coalesce(_booking.c.chair_end_at, _booking.c.end_at) > bindparam("start_at"),
        _booking.c.status.in_(bindparam("statuses", expanding=True)),
    )
    .order_by(_booking.c.start_at, _booking.c.id)
)

_HOLDS = (
    sa_select(
        _hold.c.id,
        _hold.c.start_at,
        _hold.c.end_at,
        _hold.c.phases,
        _hold.c.turnover_minutes,
        _hold.c.chair_id,
        _hold.c.provider_id,
        _type.c.name,
    )
    .select_from(_hold.join(_type, _type.c.id == _hold.c.appointment_type_id))
    .where(
        _hold.c.location_id == bindparam("location_id"),
        _hold.c.start_at < bindparam("end_at"),
        _hold.c.start_at > bindparam("scan_from"),
        func.coalesce(_hold.c.chair_end_at, _hold.c.end_at) > bindparam("start_at"),
        _hold.c.expires_at > bindparam("now"),
        _hold.c.released_at.is_(None),
        _hold.c.consumed_at.is_(None),
    )
    .order_by(_hold.c.start_at, _hold.c.id)
)


def _window(location_id: int, start_at: datetime, end_at: datetime) -> dict[str, Any]:
    return {
        "location_id": location_id,
        "start_at": start_at,
        "end_at": end_at,
        "scan_from": start_at - LONGEST_VISIT,
    }


def active_locations(session: Session) -> list[LocationRow]:
    """Every active location by name, with its opening hours (one statement: outer join)."""
    out: dict[int, LocationRow] = {}
    for location_id, name, zone, weekday, open_time, close_time in session.execute(_LOCATIONS):
        found = out.setdefault(location_id, LocationRow(location_id, name, zone))
        if weekday is not None:
            hours = (*found.hours, (weekday, open_time, close_time))
            out[location_id] = found._replace(hours=hours)
    return list(out.values())


def chairs_of(session: Session, location_id: int) -> list[ChairRow]:
    """The location's active chairs in board order (position, then name)."""
    rows = session.execute(_CHAIRS, {"location_id": location_id})
    return [ChairRow(i, n) for i, n in rows]


def providers_of(
    session: Session, location_id: int, start_at: datetime, end_at: datetime
) -> list[ProviderRow]:
    """The location's active providers, plus anyone with a visit there in the window (a
    provider since moved or retired still has a lane for what they did)."""
    rows = session.execute(_PROVIDERS, _window(location_id, start_at, end_at))
    return [ProviderRow(*row) for row in rows]


def bookings_between(
    session: Session,
    location_id: int,
    start_at: datetime,
    end_at: datetime,
    statuses: Sequence[str],
) -> list[VisitRow]:
    """Bookings of the location in ``statuses`` whose time (turnover included) meets the window."""
    params = _window(location_id, start_at, end_at) | {"statuses": list(statuses)}
    return [VisitRow(*row) for row in session.execute(_BOOKINGS, params)]


def holds_between(
    session: Session, location_id: int, start_at: datetime, end_at: datetime, now: datetime
) -> list[HoldRow]:
    """Live holds (not expired, released or consumed) of the location meeting the window."""
    params = _window(location_id, start_at, end_at) | {"now": now}
    return [HoldRow(*row) for row in session.execute(_HOLDS, params)]


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
