"""Treatment series: plan a course all-or-nothing, book it, and manage it. No FastAPI here.

Planning loads the calendar once for the whole window (one ``load_context``; only when no
placement exists, a second one with the days the "later first day" alternatives need), asks
the engine for the free starts, drops those the request excludes (the patient's own visits,
a provider or time-of-day limit) and hands them to the pure placer (``series.placer``).

Booking (``create_series``) takes the locks a single booking takes, for every eligible
provider at once (location, providers, patient), then plans under them and writes each visit
through the same ``place`` check single bookings use. Any refusal raises and the unit of work
rolls the whole transaction back: a series books every visit or none. A transient abort
(deadlock, serialization failure) reruns the whole work (``db.transaction.complete``).

Messages: every visit is an ordinary booking, so each writes its own confirmation through the
outbox (one message per visit, each with its own time and calendar invitation); the series
writes none of its own.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from scheduler.audit.service import audited_write, record_event, snapshot
from scheduler.auth.actors import Actor
from scheduler.availability.engine import Slot as EngineSlot
from scheduler.availability.engine import (
    explain_candidates,
    find_free_slots,
    local_instant,
    occupancy,
)
from scheduler.availability.service import REASON_TEXT, SearchContext, load_context
from scheduler.bookings import repository as booking_repository
from scheduler.bookings.book import book_placement, reschedule_booking
from scheduler.bookings.lifecycle import cancel_booking, patient_flags_of
from scheduler.bookings.placement import check_prerequisites, place
from scheduler.bookings.repository import PatientFlags
from scheduler.bookings.schemas import BookingRead, CancelRequest, RescheduleRequest
from scheduler.errors import Conflict, InvalidInput, NotFound
from scheduler.models import ACTIVE_STATUSES, AppointmentType, Location, Series, SeriesTemplate
from scheduler.models.enums import BookingStatus
from scheduler.series import repository
from scheduler.series.placer import (
    Candidate,
    NoPlacement,
    SeriesPlan,
    SeriesRules,
    place_series,
    window_of,
)
from scheduler.series.schemas import (
    Alternative,
    AlternativeKind,
    BoosterProposal,
    PlannedVisitRead,
    ReasonCount,
    SeriesCancel,
    SeriesPreview,
    SeriesProgress,
    SeriesRead,
    SeriesRequest,
    SeriesVisitReschedule,
    Unplaceable,
)

# How many later first days the "later first day" alternative tries.
ALTERNATIVE_DAYS = 7
# How far ahead a series may start (a sane bound; the type's own horizon applies too).
MAX_DAYS_AHEAD = 400
BOOSTER_SEARCH_DAYS = 3
BOOSTER_PROPOSALS = 5
CANCELLABLE = frozenset({BookingStatus.PENDING, BookingStatus.BOOKED})
UNFINISHED = frozenset(
    {BookingStatus.PENDING, BookingStatus.BOOKED, BookingStatus.ARRIVED, BookingStatus.CHECKED_IN}
)

SERIES_REASON_TEXT = {
    "window_ends": "the series' window ends before this visit could start",
    "week_limit": "the calendar week already has as many visits as the template allows",
    "no_free_start": "no free start in the span this visit must start in",
    "patient_busy": "the patient already has an appointment then",
    "outside_time_of_day": "outside the requested time of day",
    "other_provider": "only another provider could take it",
}


@dataclass(frozen=True)
class _Subject:
    template: SeriesTemplate
    location: Location
    appointment_type: AppointmentType
    patient: PatientFlags

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.location.timezone)


@dataclass(frozen=True)
class _Planned:
    ctx: SearchContext
    result: SeriesPlan | NoPlacement
    preview: SeriesPreview


def _load_subject(session: Session, data: SeriesRequest, now: datetime) -> _Subject:
    """Template, location, type and patient; unknown references are 422 (body fields)."""
    template = repository.get_template(session, data.template_id)
    if template is None:
        raise InvalidInput(
            f"Series template {data.template_id} does not exist.", field="template_id"
        )
    if not template.active:
        raise Conflict("This series template is no longer offered.", code="template_inactive")
    location = session.get(Location, data.location_id)
    if location is None:
        raise InvalidInput(f"Location {data.location_id} does not exist.", field="location_id")
    appointment_type = session.get(AppointmentType, template.appointment_type_id)
    assert appointment_type is not None  # a foreign key
    patient = patient_flags_of(session, data.patient_id)
    today = now.astimezone(ZoneInfo(location.timezone)).date()
    if data.first_day < today:
        raise InvalidInput("first_day is in the past.", field="first_day")
    if data.first_day > today + timedelta(days=MAX_DAYS_AHEAD):
        raise InvalidInput(
            f"first_day is more than {MAX_DAYS_AHEAD} days ahead.", field="first_day"
        )
    return _Subject(template, location, appointment_type, patient)


def _rules(
    subject: _Subject, data: SeriesRequest, ctx: SearchContext, first_day: date
) -> SeriesRules:
    """The template's rules for this request. The least gap is never less than one visit
    with its turnover and the widest stagger, so the visits never compete with each other."""
    template = subject.template
    spec = ctx.query.appointment_type
    stagger = max((p.min_minutes_between_starts for p in ctx.query.providers), default=0)
    busy = max(spec.duration_minutes + spec.turnover_minutes, stagger)
    min_gap = max(timedelta(hours=template.min_gap_hours), timedelta(minutes=busy))
    return SeriesRules(
        visit_count=template.visit_count,
        first_day=first_day,
        window_days=template.window_days,
        min_gap=min_gap,
        max_gap=max(timedelta(hours=template.max_gap_hours), min_gap),
        max_per_week=template.max_per_week,
        same_time=_pick(data.prefer_same_time, template.prefer_same_time),
        same_chair=_pick(data.prefer_same_chair, template.prefer_same_chair),
        same_provider=_pick(data.prefer_same_provider, template.prefer_same_provider),
    )


def _pick(asked: bool | None, default: bool) -> bool:
    return default if asked is None else asked


def _patient_busy(ctx: SearchContext, patient_id: int) -> Callable[[datetime, datetime], bool]:
    own = [
        (c.start_at, occupancy(c.start_at, c.phases, 0).end_at)
        for c in ctx.commitments
        if c.patient_id == patient_id
    ]

    def busy(start_at: datetime, end_at: datetime) -> bool:
        return any(a < end_at and start_at < b for a, b in own)

    return busy


@dataclass(frozen=True)
class _Limits:
    provider_id: int | None
    earliest_time: time | None
    latest_time: time | None


def _exclusion(
    slot: EngineSlot, limits: _Limits, tz: ZoneInfo, busy: Callable[[datetime, datetime], bool]
) -> str | None:
    """Why an offered start is not a candidate for this request (None: it is one)."""
    if busy(slot.start_at, slot.end_at):
        return "patient_busy"
    wall = slot.start_at.astimezone(tz).time()
    if (limits.earliest_time is not None and wall < limits.earliest_time) or (
        limits.latest_time is not None and wall > limits.latest_time
    ):
        return "outside_time_of_day"
    if limits.provider_id is not None and limits.provider_id not in slot.provider_ids:
        return "other_provider"
    return None


def _candidates(
    slots: Sequence[EngineSlot],
    limits: _Limits,
    tz: ZoneInfo,
    busy: Callable[[datetime, datetime], bool],
) -> list[Candidate]:
    out = []
    for slot in slots:
        if _exclusion(slot, limits, tz, busy) is None:
            providers = slot.provider_ids
            if limits.provider_id is not None:
                providers = (limits.provider_id,)
            out.append(Candidate(slot.start_at, slot.chair_ids, providers))
    return out


def _visits(plan: SeriesPlan, duration: timedelta, tz: ZoneInfo) -> list[PlannedVisitRead]:
    return [
        PlannedVisitRead(
            number=i,
            start_at=v.start_at.astimezone(tz),
            end_at=(v.start_at + duration).astimezone(tz),
            chair_id=v.chair_id,
            provider_id=v.provider_id,
        )
        for i, v in enumerate(plan.visits, start=1)
    ]


def _plan(session: Session, subject: _Subject, data: SeriesRequest, now: datetime) -> _Planned:
    """Plan on the series' own window (one ``load_context``); only when that fails, load the
    window again with the days the "later first day" alternatives need (a second one)."""
    tz = subject.tz
    limits = _Limits(data.provider_id, data.earliest_time, data.latest_time)
    for extra_days in (0, ALTERNATIVE_DAYS):
        ctx = _load_window(session, subject, data.first_day, extra_days, now)
        if not subject.appointment_type.active:
            raise Conflict(
                f"{subject.appointment_type.name} is no longer offered.", code="type_inactive"
            )
        if data.provider_id is not None and all(
            p.id != data.provider_id for p in ctx.query.providers
        ):
            raise InvalidInput(
                f"Provider {data.provider_id} does not exist, is inactive, or does not do this "
                "appointment type at this location.",
                field="provider_id",
            )
        slots = find_free_slots(ctx.query)
        busy = _patient_busy(ctx, subject.patient.id)
        candidates = _candidates(slots, limits, tz, busy)
        rules = _rules(subject, data, ctx, data.first_day)
        result = place_series(candidates, rules, tz)
        duration = timedelta(minutes=ctx.query.appointment_type.duration_minutes)
        if isinstance(result, SeriesPlan):
            preview = SeriesPreview(
                feasible=True,
                timezone=subject.location.timezone,
                visits=_visits(result, duration, tz),
                score=result.score,
                max_score=result.max_score,
            )
            return _Planned(ctx, result, preview)
    assert isinstance(result, NoPlacement)

    alternatives: list[Alternative] = []
    for offset in range(1, ALTERNATIVE_DAYS + 1):
        later = data.first_day + timedelta(days=offset)
        found = place_series(candidates, replace(rules, first_day=later), tz)
        if isinstance(found, SeriesPlan):
            alternatives.append(
                Alternative(
                    kind="later_first_day", first_day=later, visits=_visits(found, duration, tz)
                )
            )
            break
    relaxations: list[tuple[AlternativeKind, _Limits]] = []
    if data.earliest_time is not None or data.latest_time is not None:
        relaxations.append(
            ("any_time_of_day", replace(limits, earliest_time=None, latest_time=None))
        )
    if data.provider_id is not None:
        relaxations.append(("any_provider", replace(limits, provider_id=None)))
    for kind, relaxed in relaxations:
        found = place_series(_candidates(slots, relaxed, tz, busy), rules, tz)
        if isinstance(found, SeriesPlan):
            alternatives.append(
                Alternative(
                    kind=kind,
                    first_day=data.first_day,
                    visits=_visits(found, duration, tz),
                )
            )
    preview = SeriesPreview(
        feasible=False,
        timezone=subject.location.timezone,
        visits=[],
        score=0,
        max_score=rules.max_score,
        problem=_unplaceable(ctx, result, slots, limits, busy),
        alternatives=alternatives,
    )
    return _Planned(ctx, result, preview)


def _load_window(
    session: Session, subject: _Subject, first_day: date, extra_days: int, now: datetime
) -> SearchContext:
    start_at, end_at = window_of(first_day, subject.template.window_days + extra_days, subject.tz)
    assert subject.location.id is not None
    assert subject.appointment_type.id is not None
    return load_context(
        session,
        location_id=subject.location.id,
        appointment_type_id=subject.appointment_type.id,
        provider_id=None,
        start_at=start_at,
        end_at=end_at,
        now=now,
        patient_id=subject.patient.id,
        subject=(subject.location, subject.appointment_type),
    )


def _unplaceable(
    ctx: SearchContext,
    result: NoPlacement,
    slots: Sequence[EngineSlot],
    limits: _Limits,
    busy: Callable[[datetime, datetime], bool],
) -> Unplaceable:
    """The visit that cannot be placed, with the engine's reasons for each start of the span
    it had to start in (and, for starts the engine offers, why this request cannot use them)."""
    tz = ctx.tz
    query = replace(ctx.query, window_start_at=result.earliest_at, window_end_at=result.latest_at)
    counts: Counter[str] = Counter()
    offered = {s.start_at: s for s in slots}
    for verdict in explain_candidates(query):
        if verdict.offered:
            slot = offered.get(verdict.start_at)
            why = None if slot is None else _exclusion(slot, limits, tz, busy)
            if why is not None:
                counts[why] += 1
            continue
        for code in dict.fromkeys(r.code for r in verdict.reasons):
            counts[code] += 1
    text = {**REASON_TEXT, **SERIES_REASON_TEXT}
    return Unplaceable(
        visit_number=result.visit_number,
        earliest_at=result.earliest_at.astimezone(tz),
        latest_at=result.latest_at.astimezone(tz),
        placed=[p.astimezone(tz) for p in result.placed],
        series_reasons=list(result.reasons),
        reasons=[
            ReasonCount(code=code, message=text.get(code, code), count=n)
            for code, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
    )


def preview_series(session: Session, data: SeriesRequest, *, now: datetime) -> SeriesPreview:
    """The placement a booking would make now (or why there is none); changes nothing."""
    subject = _load_subject(session, data, now)
    check_prerequisites(
        subject.patient, subject.appointment_type, override=data.override is not None
    )
    return _plan(session, subject, data, now).preview


def create_series(
    session: Session, data: SeriesRequest, *, actor: Actor, now: datetime
) -> SeriesRead:
    """Book every visit of the placement, or none (409 ``series_unplaceable`` with the
    preview's problem and alternatives)."""
    override = data.override is not None
    if override and not actor.is_staff:
        raise InvalidInput("Only staff may override.", field="override")
    subject = _load_subject(session, data, now)
    check_prerequisites(subject.patient, subject.appointment_type, override=override)
    assert subject.location.id is not None
    assert subject.appointment_type.id is not None
    provider_ids = (
        [data.provider_id]
        if data.provider_id is not None
        else booking_repository.eligible_provider_ids(
            session,
            location_id=subject.location.id,
            appointment_type_id=subject.appointment_type.id,
        )
    )
    # The locks a single booking takes, all at once and in the same order (location,
    # providers, patient): a single booking waits for the series or the series for it.
    booking_repository.lock_resources(
        session,
        location_ids=[subject.location.id] if subject.appointment_type.needs_chair else [],
        provider_ids=provider_ids,
        patient_ids=[subject.patient.id],
    )
    planned = _plan(session, subject, data, now)
    if not isinstance(planned.result, SeriesPlan):
        problem = planned.preview.problem
        assert problem is not None
        raise Conflict(
            f"The series cannot be placed: visit {problem.visit_number} has no possible start.",
            code="series_unplaceable",
            extra={
                "problem": problem.model_dump(mode="json"),
                "alternatives": [a.model_dump(mode="json") for a in planned.preview.alternatives],
            },
        )
    series = Series(
        patient_id=subject.patient.id,
        label=subject.template.name,
        template_id=subject.template.id,
        location_id=subject.location.id,
        status="active",
        created_at=now,
    )
    audited_write(
        session,
        series,
        actor=actor,
        now=now,
        action="series.create",
        entity_type="series",
        reason=data.override.reason if data.override else "",
    )
    write_visits(
        session,
        series,
        planned.result,
        subject=(subject.location, subject.appointment_type),
        patient=subject.patient,
        actor=actor,
        now=now,
        notes=data.notes,
        override=data.override.reason if data.override else None,
    )
    return _read(session, series, now)


def write_visits(
    session: Session,
    series: Series,
    plan: SeriesPlan,
    *,
    subject: tuple[Location, AppointmentType],
    patient: PatientFlags,
    actor: Actor,
    now: datetime,
    notes: str = "",
    override: str | None = None,
) -> list[BookingRead]:
    """Write the visits of ``plan``, each checked by ``place`` as a single booking is. The
    first refusal raises, and the caller's transaction then keeps none of them."""
    location, appointment_type = subject
    assert location.id is not None
    assert appointment_type.id is not None
    assert series.id is not None
    written = []
    for visit in plan.visits:
        placement = place(
            session,
            location_id=location.id,
            appointment_type_id=appointment_type.id,
            start_at=visit.start_at,
            chair_id=visit.chair_id,
            provider_id=visit.provider_id,
            patient_id=patient.id,
            now=now,
            override=override is not None,
            patient=patient,
            subject=subject,
        )
        written.append(
            book_placement(
                session,
                placement,
                patient_id=patient.id,
                actor=actor,
                now=now,
                source="front_desk",
                notes=notes,
                override=override,
                series_id=series.id,
            )
        )
    return written


def _read(session: Session, series: Series, now: datetime) -> SeriesRead:
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
    return _read(session, _get(session, series_id), now)


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
    return _read(session, series, now)


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
    return _read(session, series, now)


def propose_boosters(session: Session, series_id: int, *, now: datetime) -> BoosterProposal:
    """After the course: the offered starts nearest the last visit's local time, the
    template's interval later (the same chair and provider first on equal distance).

    409 ``series_incomplete`` while a visit is still to come or none was attended,
    409 ``no_boosters`` when the template plans none. Changes nothing."""
    series = _get(session, series_id)
    template = (
        None if series.template_id is None else repository.get_template(session, series.template_id)
    )
    if template is None or template.booster_interval_days is None:
        raise Conflict("This series' template plans no boosters.", code="no_boosters")
    visits = [b for b in repository.visits_of(session, [series_id]) if b.status in ACTIVE_STATUSES]
    done = [b for b in visits if b.status == BookingStatus.FULFILLED]
    if series.status == "cancelled" or not done or any(b.status in UNFINISHED for b in visits):
        raise Conflict(
            "Boosters are proposed once every visit of the series is done.",
            code="series_incomplete",
        )
    last = done[-1]
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
    busy = _patient_busy(ctx, series.patient_id)
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
