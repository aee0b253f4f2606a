"""A provider's own start page: their day and week, their weekly hours, their feed links.

Only the signed-in provider's own bookings are read (by their provider id, from the
session): there is no parameter naming another provider.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from scheduler.availability.engine import local_instant
from scheduler.feeds import service as feeds_service
from scheduler.kit.timeutil import to_local, wall_time_text
from scheduler.kit.zones import zone_label
from scheduler.models import Provider
from scheduler.providers import availability_service
from scheduler.providers import service as providers_service
from scheduler.providers.availability_service import WEEKDAY_NAMES
from scheduler.web import repository
from scheduler.web.today import STATUS_LABELS

DEFAULT_ZONE = "UTC"


@dataclass(frozen=True)
class Visit:
    booking_id: int
    start_local: datetime
    end_local: datetime
    patient_name: str
    type_name: str
    place: str
    status: str
    status_label: str


@dataclass(frozen=True)
class ScheduleDay:
    day: date
    is_today: bool
    visits: list[Visit]


@dataclass(frozen=True)
class MySchedule:
    provider: Provider
    today: date
    week_start: date
    zone_label: str
    days: list[ScheduleDay]
    hours: list[tuple[str, str]]  # (weekday name, "08:00–12:00, 12:45–17:00 at Boulder")
    active_links: int

    @property
    def today_visits(self) -> list[Visit]:
        return next((d.visits for d in self.days if d.is_today), [])

    @property
    def previous_week(self) -> date:
        return self.week_start - timedelta(days=7)

    @property
    def next_week(self) -> date:
        return self.week_start + timedelta(days=7)


def my_schedule(
    session: Session, provider_id: int, day: date | None, *, now: datetime
) -> MySchedule:
    """The week (Monday to Sunday) holding ``day`` (default today), in the zone of the
    provider's first location."""
    provider = providers_service.get_provider(session, provider_id)
    read = providers_service.read_provider(session, provider_id)
    locations = {loc.id: loc for loc in repository.location_choices(session)}
    mine = [locations[i] for i in read.location_ids if i in locations]
    zone = mine[0].timezone if mine else DEFAULT_ZONE
    tz = ZoneInfo(zone)
    today = to_local(now, zone).date()
    shown = day or today
    week_start = shown - timedelta(days=shown.weekday())
    start_at = local_instant(week_start, time(0), tz)
    end_at = local_instant(week_start + timedelta(days=7), time(0), tz)
    by_day: dict[date, list[Visit]] = {}
    for booking, patient, kind, location, _, chair in repository.provider_visits(
        session, provider_id, start_at, end_at
    ):
        assert booking.id is not None
        start_local = to_local(booking.start_at, location.timezone)
        by_day.setdefault(to_local(booking.start_at, zone).date(), []).append(
            Visit(
                booking_id=booking.id,
                start_local=start_local,
                end_local=to_local(booking.end_at, location.timezone),
                patient_name=f"{patient.first_name} {patient.last_name}",
                type_name=kind.name,
                place=f"{chair.name}, {location.name}" if chair else location.name,
                status=booking.status,
                status_label=STATUS_LABELS.get(booking.status, booking.status),
            )
        )
    days = [
        ScheduleDay(d, d == today, by_day.get(d, []))
        for d in (week_start + timedelta(days=i) for i in range(7))
    ]
    rules, _ = availability_service.list_rules(
        session, provider_id, location_id=None, weekday=None, limit=500, offset=0
    )
    hours = []
    for weekday, name in enumerate(WEEKDAY_NAMES):
        spans = [
            f"{wall_time_text(r.start_time)}–{wall_time_text(r.end_time)}"
            + (
                f" at {locations[r.location_id].name}"
                if len(mine) > 1 and r.location_id in locations
                else ""
            )
            for r in sorted(rules, key=lambda r: r.start_time)
            if r.weekday == weekday
            and (r.valid_from_date is None or r.valid_from_date <= today)
            and (r.valid_until_date is None or today <= r.valid_until_date)
        ]
        hours.append((name, ", ".join(spans) or "not working"))
    links = feeds_service.list_tokens(
        session, provider_id=provider_id, location_id=None, include_revoked=False
    )
    return MySchedule(
        provider=provider,
        today=today,
        week_start=week_start,
        zone_label=zone_label(zone, now),
        days=days,
        hours=hours,
        active_links=len(links),
    )
