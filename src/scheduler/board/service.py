"""The day board and week view of a location: load the day, lay it out.

Reads only; no commit. The board shows every visit that takes or took the chair (the active
statuses) plus no-shows (greyed, so the desk sees who did not come); cancelled visits only when
asked, since a cancelled visit sits under the booking that replaced it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from scheduler.board import repository
from scheduler.board.layout import (
    ACTIVE_STATUSES,
    Board,
    ChairIn,
    ProviderIn,
    VisitIn,
    day_bounds,
    lay_out_day,
)
from scheduler.board.repository import LocationRow
from scheduler.board.week import BusySpan, Week, lay_out_week, week_bounds
from scheduler.errors import NotFound

SHOWN_STATUSES = (*sorted(ACTIVE_STATUSES), "noshow")
CANCELLED_STATUSES = ("cancelled",)


@dataclass(frozen=True)
class DayBoard:
    locations: list[LocationRow]
    location: LocationRow
    day: date
    today: date
    board: Board

    @property
    def previous_day(self) -> date:
        return self.day - timedelta(days=1)

    @property
    def next_day(self) -> date:
        return self.day + timedelta(days=1)


def pick_location(locations: list[LocationRow], location_id: int | None) -> LocationRow | None:
    """The asked-for location, or the first one (by name) when none is asked for; None when
    there is no location at all yet (and none was asked for)."""
    if location_id is None:
        return locations[0] if locations else None
    for location in locations:
        if location.id == location_id:
            return location
    raise NotFound(f"Location {location_id} not found.", code="location_not_found")


def local_today(zone: str, now: datetime) -> date:
    return now.astimezone(ZoneInfo(zone)).date()


def day_board(
    session: Session,
    *,
    location_id: int | None,
    day: date | None,
    now: datetime,
    include_cancelled: bool = False,
) -> DayBoard | None:
    """A location's local ``day`` (today in its zone when None) in five SELECTs; None when
    the clinic has no active location yet."""
    locations = repository.active_locations(session)
    location = pick_location(locations, location_id)
    if location is None:
        return None
    today = local_today(location.timezone, now)
    day = day or today
    start_at, end_at = day_bounds(location.timezone, day)
    chairs = repository.chairs_of(session, location.id)
    providers = repository.providers_of(session, location.id, start_at, end_at)
    statuses = SHOWN_STATUSES + (CANCELLED_STATUSES if include_cancelled else ())
    bookings = repository.bookings_between(session, location.id, start_at, end_at, statuses)
    holds = repository.holds_between(session, location.id, start_at, end_at, now)
    visits = [
        VisitIn(
            id=b.id,
            start_at=b.start_at,
            end_at=b.end_at,
            phases=b.phases,
            turnover_minutes=b.turnover_minutes,
            chair_id=b.chair_id,
            provider_id=b.provider_id,
            status=b.status,
            type_name=b.type_name,
            patient_name=f"{b.first_name} {b.last_name}".strip(),
        )
        for b in bookings
    ] + [
        VisitIn(
            id=h.id,
            start_at=h.start_at,
            end_at=h.end_at,
            phases=h.phases,
            turnover_minutes=h.turnover_minutes,
            chair_id=h.chair_id,
            provider_id=h.provider_id,
            status="hold",
            type_name=h.type_name,
            hold=True,
        )
        for h in holds
    ]
    board = lay_out_day(
        zone=location.timezone,
        day=day,
        chairs=[ChairIn(c.id, c.name) for c in chairs],
        providers=[
            ProviderIn(
                p.id, _provider_name(p.display_name, p.credentials), p.max_concurrent_patients
            )
            for p in providers
        ],
        visits=visits,
        now=now,
        opening=location.opening_on(day.weekday()),
    )
    return DayBoard(locations, location, day, today, board)


def _provider_name(display_name: str, credentials: str) -> str:
    if credentials and credentials not in display_name:
        return f"{display_name}, {credentials}"
    return display_name


@dataclass(frozen=True)
class WeekBoard:
    locations: list[LocationRow]
    location: LocationRow
    day: date
    today: date
    week: Week


def week_board(
    session: Session, *, location_id: int | None, day: date | None, now: datetime
) -> WeekBoard | None:
    """Chair occupancy of the location's week around ``day``, in three SELECTs; None when
    the clinic has no active location yet."""
    locations = repository.active_locations(session)
    location = pick_location(locations, location_id)
    if location is None:
        return None
    today = local_today(location.timezone, now)
    day = day or today
    start_at, end_at = week_bounds(location.timezone, day)
    chairs = repository.chairs_of(session, location.id)
    spans = repository.chair_time_between(
        session, location.id, start_at, end_at, sorted(ACTIVE_STATUSES)
    )
    tz = ZoneInfo(location.timezone)
    visits: dict[date, int] = {}
    for span in spans:
        local_day = span.start_at.astimezone(tz).date()
        visits[local_day] = visits.get(local_day, 0) + 1
    opening: dict[int, list[tuple[time, time]]] = {}
    for weekday, open_time, close_time in location.hours:
        opening.setdefault(weekday, []).append((open_time, close_time))
    week = lay_out_week(
        zone=location.timezone,
        day=day,
        chairs=len(chairs),
        opening=opening,
        busy=[BusySpan(s.chair_id, s.start_at, s.end_at) for s in spans],
        visits_by_day=visits,
        today=today,
    )
    return WeekBoard(locations, location, day, today, week)
