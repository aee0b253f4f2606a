"""Boosters after a course: propose starts at the template's interval, and book one IN the
series (``booking.series_id`` set, so the series' visits and progress show it).

A booster is an ordinary booking written by ``create_booking``: the same eligibility gates
(prerequisites, with the staff override and its reason), the same ``place`` check under the
same locks, the same confirmation message. The series row is locked first (as a move of a
visit locks it), so two bookings of a booster for one series are taken one after the other.
The next booster is proposed (and bookable) once the previous one is done.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from scheduler.audit.service import record_event
from scheduler.auth.actors import Actor
from scheduler.availability.engine import find_free_slots, local_instant
from scheduler.availability.service import load_context
from scheduler.bookings.book import create_booking
from scheduler.bookings.schemas import BookingCreate, BookingRead
from scheduler.errors import Conflict, InvalidInput, NotFound
from scheduler.models import ACTIVE_STATUSES, Booking, Location, Series, SeriesTemplate
from scheduler.models.enums import BookingStatus
from scheduler.series import repository
from scheduler.series.managing import UNFINISHED, read_series
from scheduler.series.placer import window_of
from scheduler.series.planning import patient_busy
from scheduler.series.schemas import (
    BoosterBooked,
    BoosterBooking,
    BoosterProposal,
    PlannedVisitRead,
)

BOOSTER_SEARCH_DAYS = 3
BOOSTER_PROPOSALS = 5


def _series(session: Session, series_id: int, *, for_update: bool = False) -> Series:
    series = repository.get_series(session, series_id, for_update=for_update)
    if series is None:
        raise NotFound(f"Series {series_id} does not exist.")
    return series


def _course_done(
    session: Session, series: Series, visits: Sequence[Booking]
) -> tuple[SeriesTemplate, Booking]:
    """The template and the last attended visit, once every visit of the series is done.

    409 ``no_boosters`` when the template plans none, 409 ``series_incomplete`` while a
    visit (the course's, or the previous booster) is still to come or none was attended."""
    template = (
        None if series.template_id is None else repository.get_template(session, series.template_id)
    )
    if template is None or template.booster_interval_days is None:
        raise Conflict("This series' template plans no boosters.", code="no_boosters")
    done = [b for b in visits if b.status == BookingStatus.FULFILLED]
    if series.status == "cancelled" or not done or any(b.status in UNFINISHED for b in visits):
        raise Conflict(
            "Boosters are proposed once every visit of the series is done.",
            code="series_incomplete",
        )
    return template, done[-1]


def _active(session: Session, series_id: int) -> list[Booking]:
    return [b for b in repository.visits_of(session, [series_id]) if b.status in ACTIVE_STATUSES]


def propose_boosters(session: Session, series_id: int, *, now: datetime) -> BoosterProposal:
    """After the course: the offered starts nearest the last visit's local time, the
    template's interval later (the same chair and provider first on equal distance).

    409 ``series_incomplete`` while a visit is still to come or none was attended,
    409 ``no_boosters`` when the template plans none. Changes nothing."""
    series = _series(session, series_id)
    template, last = _course_done(session, series, _active(session, series_id))
    assert template.booster_interval_days is not None
    location = session.get(Location, last.location_id)
    assert location is not None
    tz = ZoneInfo(location.timezone)
    local = last.start_at.astimezone(tz)
    target_day = local.date() + timedelta(days=template.booster_interval_days)
    target = local_instant(target_day, local.time().replace(tzinfo=None), tz)
    start_at, _ = window_of(target_day - timedelta(days=BOOSTER_SEARCH_DAYS), 1, tz)
    _, end_at = window_of(target_day, BOOSTER_SEARCH_DAYS + 1, tz)
    ctx = load_context(
        session,
        location_id=last.location_id,
        appointment_type_id=last.appointment_type_id,
        provider_id=None,
        start_at=start_at,
        end_at=end_at,
        now=now,
        patient_id=series.patient_id,
    )
    busy = patient_busy(ctx, series.patient_id)
    slots = [s for s in find_free_slots(ctx.query) if not busy(s.start_at, s.end_at)]
    slots.sort(
        key=lambda s: (
            abs(s.start_at - target),
            s.start_at,
            last.chair_id not in s.chair_ids,
            last.provider_id not in s.provider_ids,
        )
    )
    proposals = []
    for i, slot in enumerate(slots[:BOOSTER_PROPOSALS], start=1):
        chair = last.chair_id if last.chair_id in slot.chair_ids else slot.chair_id
        provider = last.provider_id if last.provider_id in slot.provider_ids else slot.provider_id
        proposals.append(
            PlannedVisitRead(
                number=i,
                start_at=slot.start_at.astimezone(tz),
                end_at=slot.end_at.astimezone(tz),
                chair_id=chair,
                provider_id=provider,
            )
        )
    return BoosterProposal(
        series_id=series_id,
        interval_days=template.booster_interval_days,
        target_at=target.astimezone(tz),
        proposals=proposals,
    )


def book_booster(
    session: Session, series_id: int, data: BoosterBooking, *, actor: Actor, now: datetime
) -> BoosterBooked:
    """Book a booster at ``data.start_at`` in the series, once every visit is done.

    Refusals as ``propose_boosters`` (409 ``series_incomplete``, ``no_boosters``) and as a
    single booking (409 ``slot_unavailable`` when the time was taken meanwhile,
    ``outside_availability``, ``prerequisite_missing``, ``patient_conflict``); a start not
    after the last visit is 422. Sending the same start again once it is booked answers
    that booking (``created`` false) and books nothing more."""
    override = data.override is not None
    if override and not actor.is_staff:
        raise InvalidInput("Only staff may override.", field="override")
    series = _series(session, series_id, for_update=True)
    visits = _active(session, series_id)
    again = [b for b in visits if b.status in UNFINISHED and b.start_at == data.start_at]
    rest = [b for b in visits if b not in again]
    done_before = bool(rest) and all(b.status == BookingStatus.FULFILLED for b in rest)
    if series.status != "cancelled" and len(again) == 1 and done_before:
        return BoosterBooked(
            booking=BookingRead.model_validate(again[0]),
            series=read_series(session, series, now),
            created=False,
        )
    _, last = _course_done(session, series, visits)
    if data.start_at < last.end_at:
        raise InvalidInput("A booster starts after the series' last visit.", field="start_at")
    assert series.id is not None
    booking = create_booking(
        session,
        BookingCreate(
            patient_id=series.patient_id,
            appointment_type_id=last.appointment_type_id,
            location_id=last.location_id,
            start_at=data.start_at,
            chair_id=data.chair_id,
            provider_id=data.provider_id,
            notes=data.notes,
            series_id=series.id,
            override=data.override,
        ),
        actor=actor,
        now=now,
    )
    record_event(
        session,
        actor=actor,
        now=now,
        action="series.booster",
        entity_type="series",
        entity_id=series.id,
        after={"booking_id": booking.id, "start_at": booking.start_at.isoformat()},
        reason=data.override.reason if data.override else "",
    )
    return BoosterBooked(booking=booking, series=read_series(session, series, now), created=True)
