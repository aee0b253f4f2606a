"""Booked visits an availability change would strand, named before the change is saved.

The availability editor warns "3 booked visits fall in this closure: ..." before a closure,
time off or a weekly range is saved. A visit is *stranded* by a change when its whole span
lies inside its provider's hours at its location (weekly ranges plus extra hours, minus time
off) and outside the location's closures now, but not once the change is applied. The
change runs inside a savepoint that is always rolled back, as the week preview does, so the
very services that would save it decide its effect (nothing of it is kept). A visit already
outside the hours (booked with a staff override) is not blamed on the change.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from scheduler.availability.engine_time import Span, expand_weekly, merge, subtract, to_us
from scheduler.locations import service as locations_service
from scheduler.providers import repository
from scheduler.providers.repository import VisitRow

# Visits still to come: the ones a change of hours moves out from under.
UPCOMING_STATUSES = ("pending", "booked")
MAX_VISITS = 2000
MAX_ROWS = 5000


@dataclass(frozen=True)
class StrandedVisit:
    booking_id: int
    start_at: datetime
    end_at: datetime
    timezone: str
    patient_name: str
    type_name: str
    provider_name: str


def _covered(spans: Sequence[Span], start: int, end: int) -> bool:
    return any(lo <= start and end <= hi for lo, hi in spans)


def _open_spans(
    session: Session, provider_id: int, location_id: int, visits: Sequence[VisitRow]
) -> list[Span]:
    """Where the provider works at the location, minus its closures, around ``visits``."""
    tz = ZoneInfo(visits[0].timezone)
    lo = min(v.start_at for v in visits)
    hi = max(v.end_at for v in visits)
    first = lo.astimezone(tz).date() - timedelta(days=1)
    last = hi.astimezone(tz).date() + timedelta(days=1)
    rules, _ = repository.list_rules(
        session, provider_id, location_id=location_id, weekday=None, limit=MAX_ROWS, offset=0
    )
    entries = [
        (r.weekday, r.start_time, r.end_time, r.valid_from_date, r.valid_until_date) for r in rules
    ]
    spans = expand_weekly(tz, entries, first, last, {})
    exceptions, _ = repository.list_exceptions(
        session, provider_id, start_at=lo, end_at=hi, kind=None, limit=MAX_ROWS, offset=0
    )
    off: list[Span] = []
    for e in exceptions:
        span = (to_us(e.start_at), to_us(e.end_at))
        if e.kind == "extra" and e.location_id == location_id:
            spans.append(span)
        elif e.kind == "unavailable" and e.location_id in (None, location_id):
            off.append(span)
    closures, _ = locations_service.list_closures(
        session, location_id, start_at=lo, end_at=hi, limit=MAX_ROWS, offset=0
    )
    off.extend((to_us(c.start_at), to_us(c.end_at)) for c in closures)
    return subtract(merge(spans), merge(off))


def _outside(session: Session, visits: Sequence[VisitRow]) -> set[int]:
    """Ids of the visits not wholly inside their provider's open hours."""
    groups: dict[tuple[int, int], list[VisitRow]] = {}
    for visit in visits:
        groups.setdefault((visit.provider_id, visit.location_id), []).append(visit)
    outside: set[int] = set()
    for (provider_id, location_id), group in groups.items():
        spans = _open_spans(session, provider_id, location_id, group)
        for visit in group:
            if not _covered(spans, to_us(visit.start_at), to_us(visit.end_at)):
                outside.add(visit.id)
    return outside


def stranded_visits(
    session: Session,
    *,
    now: datetime,
    provider_id: int | None,
    location_id: int | None,
    change: Callable[[], object],
) -> list[StrandedVisit]:
    """Upcoming visits (of ``provider_id`` and/or at ``location_id``) that ``change`` would
    leave outside the hours or inside a closure, earliest first. ``change`` runs in a
    savepoint rolled back afterwards whatever happens; an error it raises propagates."""
    visits = repository.booked_visits(
        session,
        provider_id=provider_id,
        location_id=location_id,
        after=now,
        statuses=UPCOMING_STATUSES,
        limit=MAX_VISITS,
    )
    if not visits:
        return []
    before = _outside(session, visits)
    savepoint = session.begin_nested()
    try:
        change()
        session.flush()
        after = _outside(session, visits)
    finally:
        savepoint.rollback()
    return [
        StrandedVisit(
            booking_id=v.id,
            start_at=v.start_at,
            end_at=v.end_at,
            timezone=v.timezone,
            patient_name=f"{v.first_name} {v.last_name}".strip(),
            type_name=v.type_name,
            provider_name=v.provider_name,
        )
        for v in visits
        if v.id in after and v.id not in before
    ]
