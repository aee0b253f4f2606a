"""Planning a treatment series: where every visit of a course would go, or why none can.

Planning loads the calendar once for the whole window (one ``load_context``; only when no
placement exists, a second one with the days the "later first day" alternatives need), asks
the engine for the free starts, drops those the request excludes (the patient's own visits,
a provider or time-of-day limit) and hands them to the pure placer (``series.placer``).
Changes nothing; booking (``series.booking``) plans again under its locks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from scheduler.availability.engine import Slot as EngineSlot
from scheduler.availability.engine import explain_candidates, find_free_slots, occupancy
from scheduler.availability.service import REASON_TEXT, SearchContext, load_context
from scheduler.bookings.lifecycle import patient_flags_of
from scheduler.bookings.placement import check_prerequisites
from scheduler.bookings.repository import PatientFlags
from scheduler.errors import Conflict, InvalidInput
from scheduler.models import AppointmentType, Location, SeriesTemplate
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
    PlannedVisitRead,
    ReasonCount,
    SeriesPreview,
    SeriesRequest,
    Unplaceable,
)

# How many later first days the "later first day" alternative tries.
ALTERNATIVE_DAYS = 7
# How far ahead a series may start (a sane bound; the type's own horizon applies too).
MAX_DAYS_AHEAD = 400
SERIES_REASON_TEXT = {
    "window_ends": "the series' window ends before this visit could start",
    "week_limit": "the calendar week already has as many visits as the template allows",
    "no_free_start": "no free start in the span this visit must start in",
    "patient_busy": "the patient already has an appointment then",
    "outside_time_of_day": "outside the requested time of day",
    "other_provider": "only another provider could take it",
}


@dataclass(frozen=True)
class Subject:
    template: SeriesTemplate
    location: Location
    appointment_type: AppointmentType
    patient: PatientFlags

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.location.timezone)


@dataclass(frozen=True)
class Planned:
    ctx: SearchContext
    result: SeriesPlan | NoPlacement
    preview: SeriesPreview


def load_subject(session: Session, data: SeriesRequest, now: datetime) -> Subject:
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
    return Subject(template, location, appointment_type, patient)


def _rules(
    subject: Subject, data: SeriesRequest, ctx: SearchContext, first_day: date
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


def patient_busy(ctx: SearchContext, patient_id: int) -> Callable[[datetime, datetime], bool]:
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


def plan_series(session: Session, subject: Subject, data: SeriesRequest, now: datetime) -> Planned:
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
        busy = patient_busy(ctx, subject.patient.id)
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
            return Planned(ctx, result, preview)
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
    return Planned(ctx, result, preview)


def _load_window(
    session: Session, subject: Subject, first_day: date, extra_days: int, now: datetime
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
    subject = load_subject(session, data, now)
    check_prerequisites(
        subject.patient, subject.appointment_type, override=data.override is not None
    )
    return plan_series(session, subject, data, now).preview
