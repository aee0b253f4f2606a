"""Managing a booked series: list and read it with its progress, cancel the rest, move one
visit within the template's rules. Boosters after the course: ``series.boosters``."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from scheduler.audit.service import record_event, snapshot
from scheduler.auth.actors import Actor
from scheduler.bookings.book import reschedule_booking
from scheduler.bookings.lifecycle import cancel_booking
from scheduler.bookings.schemas import BookingRead, CancelRequest, RescheduleRequest
from scheduler.errors import Conflict, NotFound
from scheduler.models import ACTIVE_STATUSES, AppointmentType, Location, Series, SeriesTemplate
from scheduler.models.enums import BookingStatus
from scheduler.series import repository
from scheduler.series.placer import window_of
from scheduler.series.schemas import (
    SeriesCancel,
    SeriesProgress,
    SeriesRead,
    SeriesVisitReschedule,
)

CANCELLABLE = frozenset({BookingStatus.PENDING, BookingStatus.BOOKED})
UNFINISHED = frozenset(
    {BookingStatus.PENDING, BookingStatus.BOOKED, BookingStatus.ARRIVED, BookingStatus.CHECKED_IN}
)


def read_series(session: Session, series: Series, now: datetime) -> SeriesRead:
    assert series.id is not None
    return _reads(session, [series], now)[0]


def _reads(session: Session, rows: Sequence[Series], now: datetime) -> list[SeriesRead]:
    visits = repository.visits_of(session, [s.id for s in rows if s.id is not None])
    out = []
    for s in rows:
        own = [BookingRead.model_validate(b) for b in visits if b.series_id == s.id]
        out.append(
            SeriesRead(
                id=s.id or 0,
                patient_id=s.patient_id,
                template_id=s.template_id,
                location_id=s.location_id,
                label=s.label,
                status=s.status,
                created_at=s.created_at,
                cancelled_at=s.cancelled_at,
                progress=SeriesProgress(
                    total=sum(1 for b in own if b.status in ACTIVE_STATUSES),
                    fulfilled=sum(1 for b in own if b.status == BookingStatus.FULFILLED),
                    upcoming=sum(1 for b in own if b.status in UNFINISHED and b.end_at > now),
                    cancelled=sum(1 for b in own if b.status == BookingStatus.CANCELLED),
                ),
                visits=own,
            )
        )
    return out


def list_series(
    session: Session, *, patient_id: int, now: datetime, limit: int, offset: int
) -> tuple[list[SeriesRead], int]:
    rows, total = repository.list_series(session, patient_id=patient_id, limit=limit, offset=offset)
    return _reads(session, rows, now), total


def _get(session: Session, series_id: int, *, for_update: bool = False) -> Series:
    series = repository.get_series(session, series_id, for_update=for_update)
    if series is None:
        raise NotFound(f"Series {series_id} does not exist.")
    return series


def get_series(session: Session, series_id: int, *, now: datetime) -> SeriesRead:
    return read_series(session, _get(session, series_id), now)


def cancel_series(
    session: Session, series_id: int, data: SeriesCancel, *, actor: Actor, now: datetime
) -> SeriesRead:
    """Cancel the rest: every pending or booked visit that has not started, in one
    transaction; visits in the past or already attended stay as they are."""
    series = _get(session, series_id, for_update=True)
    if series.status == "cancelled":
        raise Conflict("This series is already cancelled.", code="invalid_transition")
    before = snapshot(series)
    for booking in repository.visits_of(session, [series_id]):
        if booking.status in CANCELLABLE and booking.start_at > now and booking.id is not None:
            cancel_booking(
                session,
                booking.id,
                CancelRequest(reason=data.reason, cancelled_by=data.cancelled_by),
                actor=actor,
                now=now,
                if_match=None,
            )
    series.status = "cancelled"
    series.cancelled_at = now
    session.add(series)
    session.flush()
    record_event(
        session,
        actor=actor,
        now=now,
        action="series.cancel",
        entity_type="series",
        entity_id=series.id,
        before=before,
        after=snapshot(series),
        reason=data.reason,
    )
    return read_series(session, series, now)


def spacing_problem(
    starts: Sequence[datetime], template: SeriesTemplate, min_gap: timedelta, tz: ZoneInfo
) -> str | None:
    """What the visits at ``starts`` break of the template's hard rules (None: nothing).

    The window is counted from the first visit's local date."""
    ordered = sorted(starts)
    max_gap = max(timedelta(hours=template.max_gap_hours), min_gap)
    for n, (a, b) in enumerate(itertools.pairwise(ordered), start=1):
        if b - a < min_gap:
            gap, least = _hours(b - a), _hours(min_gap)
            return f"visits {n} and {n + 1} would be {gap} apart, less than {least}"
        if b - a > max_gap:
            gap, most = _hours(b - a), _hours(max_gap)
            return f"visits {n} and {n + 1} would be {gap} apart, more than {most}"
    if ordered:
        _, end = window_of(ordered[0].astimezone(tz).date(), template.window_days, tz)
        if ordered[-1] >= end:
            return f"the last visit would fall outside the {template.window_days}-day window"
    weeks = Counter(tuple(s.astimezone(tz).isocalendar())[:2] for s in ordered)
    if weeks and max(weeks.values()) > template.max_per_week:
        return f"a calendar week would have more than {template.max_per_week} visits"
    return None


def _hours(span: timedelta) -> str:
    return f"{span.total_seconds() / 3600:g} h"


def reschedule_visit(
    session: Session,
    series_id: int,
    booking_id: int,
    data: SeriesVisitReschedule,
    *,
    actor: Actor,
    now: datetime,
    if_match: str | None,
) -> SeriesRead:
    """Move one visit within the series' rules: refused with 409 ``series_spacing`` (and
    the rule it would break) before anything changes; otherwise an ordinary reschedule."""
    series = _get(session, series_id, for_update=True)
    if series.status == "cancelled":
        raise Conflict("This series is cancelled.", code="invalid_transition")
    visits = [b for b in repository.visits_of(session, [series_id]) if b.status in ACTIVE_STATUSES]
    if all(b.id != booking_id for b in visits):
        raise NotFound(f"Booking {booking_id} is not an active visit of series {series_id}.")
    template = (
        None if series.template_id is None else repository.get_template(session, series.template_id)
    )
    moved = next(b for b in visits if b.id == booking_id)
    if template is not None:
        location = session.get(Location, moved.location_id)
        appointment_type = session.get(AppointmentType, moved.appointment_type_id)
        assert location is not None
        assert appointment_type is not None
        busy = appointment_type.duration_minutes + appointment_type.turnover_minutes
        min_gap = max(timedelta(hours=template.min_gap_hours), timedelta(minutes=busy))
        starts = [data.start_at if b.id == booking_id else b.start_at for b in visits]
        problem = spacing_problem(starts, template, min_gap, ZoneInfo(location.timezone))
        if problem is not None:
            raise Conflict(f"That move breaks the series' rules: {problem}.", code="series_spacing")
    reschedule_booking(
        session,
        booking_id,
        RescheduleRequest(
            start_at=data.start_at,
            chair_id=data.chair_id,
            provider_id=data.provider_id,
            reason=data.reason,
        ),
        actor=actor,
        now=now,
        if_match=if_match,
    )
    return read_series(session, series, now)
