"""Slot search and "why is there no slot?": load (2 statements), then ask the pure engine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pydantic_core
from sqlmodel import Session

from scheduler.appointment_types.service import phases_of as appointment_type_phases
from scheduler.availability import repository
from scheduler.availability.cache import OpenStartsCache
from scheduler.availability.engine import (
    ChairSpec,
    Interval,
    Phase,
    ProviderSpec,
    Reason,
    SlotQuery,
    TypeSpec,
    WeeklyRule,
    explain_candidates,
    find_free_slots,
    free_days,
    local_instant,
    open_starts,
)
from scheduler.availability.rows import CalendarRows, CommitmentRow, to_phases
from scheduler.availability.schemas import (
    CandidateRead,
    ExplainRead,
    ReasonRead,
    SlotList,
)
from scheduler.errors import InvalidInput, NotFound
from scheduler.models import AppointmentType, Location

MAX_WINDOW_DAYS = 93

REASON_TEXT = {
    "off_grid": "not on the appointment type's start grid",
    "min_notice": "too soon: inside the type's minimum notice",
    "beyond_horizon": "too far ahead: beyond the type's booking horizon",
    "location_closed": "the location is closed (outside opening hours, or a closure)",
    "no_chair_free": "no chair is free for the whole visit, turnover included",
    "no_provider": "no provider can take it",
    "outside_provider_hours": "outside this provider's working hours",
    "provider_at_capacity": "this provider is already monitoring as many patients as allowed "
    "(or doing another hands-on step)",
    "start_too_close": "too close to another start of this provider (staggered starts)",
}


def phases_of(row: AppointmentType) -> tuple[Phase, ...]:
    return to_phases(appointment_type_phases(row))


def type_spec(row: AppointmentType) -> TypeSpec:
    return TypeSpec(
        phases=phases_of(row),
        turnover_minutes=row.turnover_minutes,
        step_minutes=row.slot_step_minutes,
        min_notice_minutes=row.min_notice_minutes,
        max_days_ahead=row.max_days_ahead,
    )


@dataclass(frozen=True)
class SearchContext:
    """What one search loaded: the engine's query plus names and the raw commitments."""

    location: Location
    appointment_type: AppointmentType
    query: SlotQuery
    calendar: CalendarRows
    commitments: list[CommitmentRow]
    fingerprint: repository.Fingerprint | None = None

    @property
    def tz(self) -> ZoneInfo:
        return self.query.tz


def load_subject(
    session: Session, location_id: int, appointment_type_id: int
) -> tuple[Location, AppointmentType]:
    """Statement 1: the location and the appointment type, or 404 for either unknown id.

    Both are static data that no booking lock guards, so a write may load them before it
    takes its locks (it needs the type to know which locks to take).
    """
    pair = repository.load_location_and_type(session, location_id, appointment_type_id)
    if pair is None:
        if session.get(Location, location_id) is None:
            raise NotFound(f"Location {location_id} does not exist.")
        raise NotFound(f"Appointment type {appointment_type_id} does not exist.")
    return pair


def load_context(
    session: Session,
    *,
    location_id: int,
    appointment_type_id: int,
    provider_id: int | None,
    start_at: datetime,
    end_at: datetime,
    now: datetime,
    patient_id: int | None = None,
    ignore: Callable[[CommitmentRow], bool] | None = None,
    notice_from: datetime | None = None,
    subject: tuple[Location, AppointmentType] | None = None,
    fingerprint: bool = False,
) -> SearchContext:
    """Load everything for a window and build the engine query (two SQL statements).

    ``ignore`` drops commitments that must not count (the hold being booked, the booking being
    rescheduled). ``notice_from`` measures min notice and horizon from another instant than
    ``now`` (a live hold keeps the terms it was placed under); holds expire by ``now``. A
    location without any opening hours is not constrained by them. ``subject``: the location
    and type already loaded by ``load_subject`` (then one statement here). ``fingerprint``:
    also read the window's ``repository.window_fingerprint`` (not with ``patient_id``).
    """
    location, appointment_type = subject or load_subject(session, location_id, appointment_type_id)
    calendar, commitments, found = repository.load_window(
        session,
        location_id=location_id,
        appointment_type_id=appointment_type_id,
        provider_id=provider_id,
        start_at=start_at,
        end_at=end_at,
        now=now,
        patient_id=patient_id,
        fingerprint=fingerprint,
    )
    if ignore is not None:
        commitments = [c for c in commitments if not ignore(c)]
    query = SlotQuery(
        tz=ZoneInfo(location.timezone),
        opening_hours=tuple(calendar.hours) if calendar.hours else None,
        closures=tuple(Interval(a, b) for a, b in calendar.closures),
        chairs=tuple(ChairSpec(id=cid, position=pos) for cid, pos, _ in calendar.chairs),
        providers=tuple(
            ProviderSpec(
                id=p.id,
                max_concurrent_patients=p.max_concurrent_patients,
                min_minutes_between_starts=p.min_minutes_between_starts,
                rules=tuple(
                    WeeklyRule(
                        weekday=wd,
                        start_time=st,
                        end_time=et,
                        valid_from_date=vf,
                        valid_until_date=vu,
                    )
                    for wd, st, et, vf, vu in p.rules
                ),
                extra=tuple(Interval(a, b) for a, b in p.extra),
                unavailable=tuple(Interval(a, b) for a, b in p.unavailable),
            )
            for p in calendar.providers.values()
        ),
        appointment_type=type_spec(appointment_type),
        commitments=tuple(commitments),  # the rows are the engine's records
        window_start_at=start_at,
        window_end_at=end_at,
        now=notice_from or now,
    )
    return SearchContext(location, appointment_type, query, calendar, commitments, found)


def check_window(start_at: datetime, end_at: datetime) -> None:
    if end_at <= start_at:
        raise InvalidInput("end must be after start.", field="end")
    if end_at - start_at > timedelta(days=MAX_WINDOW_DAYS):
        raise InvalidInput(
            f"The search window may span at most {MAX_WINDOW_DAYS} days.", field="end"
        )


def search_slots(
    session: Session,
    *,
    location_id: int,
    appointment_type_id: int,
    provider_id: int | None,
    start_at: datetime,
    end_at: datetime,
    now: datetime,
    subject: tuple[Location, AppointmentType] | None = None,
) -> SlotList:
    """The free slots of the window; ``subject``: the location and type rows, when the caller
    has them (see ``load_context``)."""
    return SlotList.model_validate(
        _slot_list(
            session,
            location_id=location_id,
            appointment_type_id=appointment_type_id,
            provider_id=provider_id,
            start_at=start_at,
            end_at=end_at,
            now=now,
            subject=subject,
        )
    )


def search_slots_json(
    session: Session,
    *,
    location_id: int,
    appointment_type_id: int,
    provider_id: int | None,
    start_at: datetime,
    end_at: datetime,
    now: datetime,
) -> bytes:
    """``search_slots`` as the JSON a ``SlotList`` serialises to, byte for byte, without
    validating the plain data first (it is built to the schema right here; a month has ~100
    slots with their options, and validating them cost twice the serialising)."""
    return pydantic_core.to_json(
        _slot_list(
            session,
            location_id=location_id,
            appointment_type_id=appointment_type_id,
            provider_id=provider_id,
            start_at=start_at,
            end_at=end_at,
            now=now,
        )
    )


def _slot_list(
    session: Session,
    *,
    location_id: int,
    appointment_type_id: int,
    provider_id: int | None,
    start_at: datetime,
    end_at: datetime,
    now: datetime,
    subject: tuple[Location, AppointmentType] | None = None,
) -> dict[str, Any]:
    """A ``SlotList`` as plain data."""
    check_window(start_at, end_at)
    ctx = load_context(
        session,
        location_id=location_id,
        appointment_type_id=appointment_type_id,
        provider_id=provider_id,
        start_at=start_at,
        end_at=end_at,
        now=now,
        subject=subject,
    )
    chairs = {cid: {"id": cid, "name": name} for cid, _, name in ctx.calendar.chairs}
    providers = {
        p.id: {"id": p.id, "name": p.display_name} for p in ctx.calendar.providers.values()
    }
    tz = ctx.tz
    return {
        "appointment_type_id": appointment_type_id,
        "location_id": location_id,
        "timezone": ctx.location.timezone,
        "start_at": start_at.astimezone(tz),
        "end_at": end_at.astimezone(tz),
        "items": [
            {
                "start_at": slot.start_at.astimezone(tz),
                "end_at": slot.end_at.astimezone(tz),
                "chair": None if slot.chair_id is None else chairs[slot.chair_id],
                "provider": providers[slot.provider_id],
                "chair_options": [chairs[c] for c in slot.chair_ids],
                "provider_options": [providers[p] for p in slot.provider_ids],
            }
            for slot in find_free_slots(ctx.query)
        ],
    }


def search_free_days(
    session: Session,
    *,
    location_id: int,
    appointment_type_id: int,
    start_at: datetime,
    end_at: datetime,
    now: datetime,
    provider_id: int | None = None,
    cache: OpenStartsCache | None = None,
    subject: tuple[Location, AppointmentType] | None = None,
) -> list[date]:
    """The local dates (location zone, ascending) on which ``search_slots`` over the same
    window and provider (any when None) would list at least one slot; loaded the same way,
    but no slot is built (a month grid needs only which dates have a free time).
    ``subject``: the location and type rows, when the caller has them (see ``load_context``).

    With ``cache``: the window's open starts (``engine.OpenStarts``) are evaluated from the
    local midnight before ``start_at`` (so a month's requests of one day share them) and
    kept; a later request reuses them when the location's zone, the type's terms and the
    window's fingerprint (one statement: calendar, live holds, the bookings' versions) are
    what they were computed from. Notice and horizon are applied to every request's own
    ``now``, so the notice cut-off passing a day's last free time is seen at once.
    """
    check_window(start_at, end_at)
    if cache is None:
        ctx = load_context(
            session,
            location_id=location_id,
            appointment_type_id=appointment_type_id,
            provider_id=provider_id,
            start_at=start_at,
            end_at=end_at,
            now=now,
            subject=subject,
        )
        return free_days(ctx.query)
    location, appointment_type = subject or load_subject(session, location_id, appointment_type_id)
    tz = ZoneInfo(location.timezone)
    evaluated_from = min(start_at, local_instant(start_at.astimezone(tz).date(), time(0), tz))
    key = (location_id, appointment_type_id, provider_id, evaluated_from, end_at)
    terms = (location.timezone, type_spec(appointment_type))
    starts = None
    if key in cache:
        fingerprint = repository.window_fingerprint(
            session,
            location_id=location_id,
            appointment_type_id=appointment_type_id,
            provider_id=provider_id,
            start_at=evaluated_from,
            end_at=end_at,
            now=now,
        )
        starts = cache.get(key, (terms, fingerprint))
    if starts is None:
        ctx = load_context(
            session,
            location_id=location_id,
            appointment_type_id=appointment_type_id,
            provider_id=provider_id,
            start_at=evaluated_from,
            end_at=end_at,
            now=now,
            subject=(location, appointment_type),
            fingerprint=True,
        )
        assert ctx.fingerprint is not None
        starts = open_starts(ctx.query)
        cache.put(key, (terms, ctx.fingerprint), starts, rows=len(ctx.fingerprint))
    spec = terms[1]
    return starts.free_days(
        start_at=start_at,
        end_at=end_at,
        now=now,
        min_notice_minutes=spec.min_notice_minutes,
        max_days_ahead=spec.max_days_ahead,
    )


def reason_read(reason: Reason, provider_names: dict[int, str]) -> ReasonRead:
    text = REASON_TEXT.get(reason.code, reason.code)
    if reason.provider_id is not None:
        text = f"{provider_names.get(reason.provider_id, reason.provider_id)}: {text}"
    return ReasonRead(code=reason.code, provider_id=reason.provider_id, message=text)


def explain_day(
    session: Session,
    *,
    location_id: int,
    appointment_type_id: int,
    provider_id: int | None,
    day: date,
    now: datetime,
) -> ExplainRead:
    """Every grid start of one local day, offered or not, with the reasons it is not."""
    location = session.get(Location, location_id)
    if location is None:
        raise NotFound(f"Location {location_id} does not exist.")
    tz = ZoneInfo(location.timezone)
    start_at = local_instant(day, time(0), tz)
    end_at = local_instant(day + timedelta(days=1), time(0), tz)
    ctx = load_context(
        session,
        location_id=location_id,
        appointment_type_id=appointment_type_id,
        provider_id=provider_id,
        start_at=start_at,
        end_at=end_at,
        now=now,
    )
    names = {p.id: p.display_name for p in ctx.calendar.providers.values()}
    return ExplainRead(
        appointment_type_id=appointment_type_id,
        location_id=location_id,
        timezone=ctx.location.timezone,
        date=day,
        candidates=[
            CandidateRead(
                start_at=v.start_at.astimezone(tz),
                offered=v.offered,
                reasons=[reason_read(r, names) for r in v.reasons],
            )
            for v in explain_candidates(ctx.query)
        ],
    )
