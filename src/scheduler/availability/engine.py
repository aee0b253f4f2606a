"""The availability engine: which starts of an appointment type can be booked, and why not.

Pure: frozen records in (``SlotQuery``), plain records out; no database, no clock (``now`` is
part of the query). The booking service calls :func:`check_candidate` at write time with the
same code path, so a write check always agrees with :func:`find_free_slots`.

Rules (the product's documented policy)
=======================================

Time and DST
    Instants are aware datetimes, intervals half-open [start, end). Weekly rules and opening
    hours are local wall-clock times in the location zone, expanded per local date with
    zoneinfo, so 08:00-17:00 stays 08:00-17:00 local on both sides of a DST change. A wall time
    that does not exist (spring-forward gap) moves forward by the length of the gap (zoneinfo's
    ``fold=0``, as RFC 5545 does: 02:30 in a one-hour gap means 03:30); a wall time that occurs
    twice (fall-back fold) means its first occurrence. A range whose end is 00:00 runs to the
    midnight that ends its date; a range that comes out empty (both ends in one gap) is dropped.

Candidate starts (the grid)
    Every instant t in [window_start_at, window_end_at) whose local clock reading has seconds 0
    and a minute-of-day divisible by ``step_minutes`` (the grid restarts at each local
    midnight). A wall time inside a gap is never a candidate; a wall time inside a fold gives
    two candidates, both real instants. Slots come out in instant order.

Notice and horizon
    start >= now + min_notice_minutes, and start < now + max_days_ahead * 24 h (days of exactly
    24 hours counted from ``now``, not calendar dates).

Location
    Opening hours expanded per local date (``None``: hours do not constrain; an empty tuple:
    always closed), minus closures. The appointment [start, start + duration) must lie inside
    it, where duration is the sum of the phase minutes. Turnover need not be inside hours.

Provider availability
    Union of the weekly rules (per local date whose weekday matches and that lies within
    valid_from_date .. valid_until_date, inclusive) and ``extra``, minus ``unavailable``.
    Touching pieces join. [start, start + duration) must lie inside one provider's availability.

Chair
    A type or commitment whose phases use the chair keeps it busy from the start of its first
    chair phase to the end of its last chair phase plus its turnover. A chair is free if the new
    busy interval overlaps no busy interval of a commitment on that chair. A commitment whose
    phases never use the chair occupies no chair even if it names one. A type that never uses
    the chair needs none (``chair_id`` None). Commitments on chairs not in the query are ignored.

Provider capacity
    Each phase of a provider's commitment loads the provider over its interval: ``exclusive``
    all ``max_concurrent_patients`` units, ``hands_on`` 1 unit and a hands-on interval,
    ``monitor`` 1 unit, ``none`` nothing. A provider can take the new appointment iff each of its
    phases that takes u > 0 units fits (existing units + u <= max at every instant of the
    phase), no new hands_on phase overlaps an existing hands_on phase, and, when
    ``min_minutes_between_starts`` g > 0, |start - start of each of the provider's commitments|
    >= g (every commitment naming the provider counts, even one without provider load). A phase
    that takes no units never conflicts, not even with load above the maximum left by a staff
    override. Commitments anywhere (other locations too) count; the caller passes them all.

Choice (deterministic)
    Chair and provider constraints are independent, so any listed chair combines with any
    listed provider. Chairs are ranked by tight packing: the chair whose latest busy interval
    ending at or before the new chair-busy start ends closest to it comes first; chairs without
    such an interval come after; ties by lowest position, then id. Providers are ranked by the
    fewest commitments starting on the candidate's local date, then lowest id. ``Slot.chair_ids``
    and ``Slot.provider_ids`` are in rank order; ``chair_id``/``provider_id`` are the first.

Reasons (explain_candidates, check_candidate)
    ``min_notice``, ``beyond_horizon``, ``location_closed`` (outside opening hours or in a
    closure), ``no_chair_free`` (the type needs a chair and none, or not the requested one, is
    free), ``no_provider`` (no provider can take it: each provider's own reasons follow, in id
    order), ``outside_provider_hours``, ``provider_at_capacity`` (units or hands_on overlap),
    ``start_too_close`` (stagger). ``check_candidate`` also reports ``off_grid`` for a start that
    is not a grid candidate. A candidate is offered iff it has no reason.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from datetime import date, datetime, time
from itertools import compress
from typing import NamedTuple
from zoneinfo import ZoneInfo

from scheduler.availability.engine_core import (
    DAY_MARGIN,
    ChairMask,
    Evaluation,
    ProviderMask,
    evaluate,
    provider_reasons,
    shape_of,
)
from scheduler.availability.engine_time import (
    US_PER_DAY,
    US_PER_MINUTE,
    LocalClock,
    day_to_date,
    from_us,
    to_us,
    wall_to_us,
)
from scheduler.availability.engine_types import (
    CandidateVerdict,
    ChairSpec,
    Commitment,
    CommitmentLike,
    Interval,
    OpeningHours,
    Phase,
    ProviderSpec,
    ProviderUse,
    Reason,
    ReasonCode,
    Slot,
    SlotQuery,
    TypeSpec,
    WeeklyRule,
)

__all__ = [
    "CandidateVerdict",
    "ChairSpec",
    "Commitment",
    "CommitmentLike",
    "Interval",
    "Occupancy",
    "OpenStarts",
    "OpeningHours",
    "Phase",
    "ProviderSpec",
    "ProviderUse",
    "Reason",
    "ReasonCode",
    "Slot",
    "SlotQuery",
    "TypeSpec",
    "WeeklyRule",
    "check_candidate",
    "explain_candidates",
    "find_free_slots",
    "free_days",
    "grid_starts",
    "local_instant",
    "occupancy",
    "open_starts",
    "ranked_checks",
]


class Occupancy(NamedTuple):
    """What one appointment occupies.

    ``chair_busy`` is None when no phase uses the chair; ``provider_loads`` has one entry per
    phase, in order (``none`` phases included, they load nothing); instants are in UTC.
    """

    chair_busy: Interval | None
    provider_loads: tuple[tuple[Interval, ProviderUse], ...]
    end_at: datetime


def occupancy(start_at: datetime, phases: tuple[Phase, ...], turnover_minutes: int) -> Occupancy:
    """Chair-busy interval (with turnover), per-phase provider loads and end of an appointment."""
    if start_at.utcoffset() is None:
        raise ValueError("start_at must be timezone-aware")
    if turnover_minutes < 0:
        raise ValueError("turnover_minutes must be >= 0")
    at = to_us(start_at)
    shape = shape_of(phases)
    chair_busy = None
    if shape.chair is not None:
        chair_end = at + shape.chair[1] + turnover_minutes * US_PER_MINUTE
        chair_busy = Interval(from_us(at + shape.chair[0]), from_us(chair_end))
    loads = tuple((Interval(from_us(at + a), from_us(at + b)), use) for a, b, use in shape.phases)
    return Occupancy(chair_busy, loads, from_us(at + shape.duration))


def local_instant(local_date: date, wall_time: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of a local wall-clock reading under the DST policy above."""
    return from_us(wall_to_us(tz, local_date, wall_time))


def grid_starts(
    tz: ZoneInfo, step_minutes: int, window_start_at: datetime, window_end_at: datetime
) -> list[datetime]:
    """Candidate starts in [window_start_at, window_end_at), in UTC, by the grid rule above."""
    if step_minutes < 1:
        raise ValueError("step_minutes must be >= 1")
    lo, hi = to_us(window_start_at), to_us(window_end_at)
    starts, _ = LocalClock(tz, lo, max(lo, hi)).grid(step_minutes, lo, hi)
    return [from_us(s) for s in starts]


def _evaluate_window(query: SlotQuery) -> Evaluation:
    lo, hi = to_us(query.window_start_at), to_us(query.window_end_at)
    clock = LocalClock(query.tz, lo - DAY_MARGIN, hi + DAY_MARGIN)
    starts, days = clock.grid(query.appointment_type.step_minutes, lo, hi)
    return evaluate(query, starts, days, clock)


def _rank_chairs(chairs: list[ChairMask], busy_start: int) -> tuple[int, ...]:
    def key(mask: ChairMask) -> tuple[int, int, int, int]:
        k = bisect_right(mask.busy_ends, busy_start)
        gap = busy_start - mask.busy_ends[k - 1] if k else 0
        return (0 if k else 1, gap, mask.spec.position, mask.spec.id)

    return tuple(mask.spec.id for mask in sorted(chairs, key=key))


def _provider_rank(mask: ProviderMask, day: int) -> tuple[int, int]:
    """The one provider choice rule (see "Choice"): fewest commitments starting on the
    candidate's local day, then lowest id. Slot search and booking both rank by it."""
    return (mask.starts_on(day), mask.spec.id)


def ranked_checks(query: SlotQuery, start_at: datetime) -> list[tuple[int, tuple[Reason, ...]]]:
    """Every provider of ``query`` in the order :func:`find_free_slots` would list them for
    ``start_at`` (the one choice rule, ``_provider_rank``), each with the reasons
    :func:`check_candidate` gives for it with any chair (``chair_id`` None), from one
    evaluation: a booking that names no provider takes the first one without reasons, so it
    books the provider the search offered."""
    if start_at.utcoffset() is None:
        raise ValueError("start_at must be timezone-aware")
    start = to_us(start_at)
    clock = LocalClock(query.tz, start - DAY_MARGIN, start + DAY_MARGIN)
    day = clock.local_day(start)
    ev = evaluate(query, [start], [day], clock)
    shared: list[Reason] = []
    if not clock.is_on_grid(start, query.appointment_type.step_minutes):
        shared.append(Reason("off_grid"))
    shared.extend(ev.global_reasons(0))
    return [
        (mask.spec.id, (*shared, *provider_reasons(mask, 0)))
        for mask in sorted(ev.providers, key=lambda m: _provider_rank(m, day))
    ]


def _offerable(ev: Evaluation) -> bytearray:
    """1 where location, some provider and (if needed) some chair allow the start."""
    size = len(ev.starts)
    acc = int.from_bytes(ev.location, "little")
    any_provider = 0
    for provider in ev.providers:
        any_provider |= int.from_bytes(provider.ok, "little")
    acc &= any_provider
    if ev.needs_chair:
        any_chair = 0
        for chair in ev.chairs:
            any_chair |= int.from_bytes(chair.free, "little")
        acc &= any_chair
    return bytearray(acc.to_bytes(size, "little"))


def find_free_slots(query: SlotQuery) -> list[Slot]:
    """Every bookable grid start in the window, in start order, with the fitting resources."""
    ev = _evaluate_window(query)
    slots: list[Slot] = []
    starts = ev.starts
    offerable = _offerable(ev)
    end = min(ev.horizon_until, len(starts))
    i = offerable.find(1, ev.notice_from, end)
    while i >= 0:
        start = starts[i]
        chair_ids: tuple[int, ...] = ()
        if ev.needs_chair:
            chairs = [mask for mask in ev.chairs if mask.free[i]]
            chair_ids = _rank_chairs(chairs, start + ev.chair_offset)
        providers = [mask for mask in ev.providers if mask.ok[i]]
        if len(providers) > 1:
            day = ev.days[i]
            providers.sort(key=lambda mask: _provider_rank(mask, day))
        provider_ids = tuple(mask.spec.id for mask in providers)
        slots.append(
            Slot(
                start_at=from_us(start),
                end_at=from_us(start + ev.duration),
                chair_id=chair_ids[0] if chair_ids else None,
                provider_id=provider_ids[0],
                chair_ids=chair_ids,
                provider_ids=provider_ids,
            )
        )
        i = offerable.find(1, i + 1, end)
    return slots


class OpenStarts(NamedTuple):
    """The grid starts of a window that the calendar and the commitments allow (the location,
    some provider and, where needed, some chair), before minimum notice and horizon.

    Notice and horizon are the only rules that depend on ``now`` (a hold that runs out
    changes the commitments, not the rules), so one evaluation answers :meth:`free_days` for
    any later ``now`` as long as nothing else changed. ``starts`` are UTC microseconds,
    ascending; ``days`` their local day indexes.
    """

    window_start_at: datetime
    window_end_at: datetime
    starts: array[int]
    days: array[int]

    @property
    def size_bytes(self) -> int:
        return (len(self.starts) + len(self.days)) * 8

    def free_days(
        self,
        *,
        start_at: datetime,
        end_at: datetime,
        now: datetime,
        min_notice_minutes: int,
        max_days_ahead: int,
    ) -> list[date]:
        """The local dates (ascending) with a start in ``[start_at, end_at)`` that meets the
        notice and the horizon counted from ``now``: what :func:`find_free_slots` over that
        window would offer. The window must lie inside the evaluated one."""
        if start_at < self.window_start_at or end_at > self.window_end_at:
            raise ValueError("the window lies outside the evaluated one")
        now_us = to_us(now)
        lo = max(to_us(start_at), now_us + min_notice_minutes * US_PER_MINUTE)
        hi = min(to_us(end_at), now_us + max_days_ahead * US_PER_DAY)
        if hi <= lo:
            return []
        i, j = bisect_left(self.starts, lo), bisect_left(self.starts, hi)
        # A set, not a run of dates: a fall-back fold crossing midnight gives dates that go
        # back in instant order.
        return [day_to_date(day) for day in sorted(set(self.days[i:j]))]


def open_starts(query: SlotQuery) -> OpenStarts:
    """The window's :class:`OpenStarts` (the query's ``now`` is not used)."""
    ev = _evaluate_window(query)
    offerable = _offerable(ev)
    return OpenStarts(
        query.window_start_at,
        query.window_end_at,
        array("q", compress(ev.starts, offerable)),
        array("q", compress(ev.days, offerable)),
    )


def free_days(query: SlotQuery) -> list[date]:
    """The local dates (in the query's zone, ascending) on which :func:`find_free_slots`
    would offer at least one start: the same evaluation, without building slots or ranking
    resources (and the same code as a cached :class:`OpenStarts` answering later).
    """
    kind = query.appointment_type
    return open_starts(query).free_days(
        start_at=query.window_start_at,
        end_at=query.window_end_at,
        now=query.now,
        min_notice_minutes=kind.min_notice_minutes,
        max_days_ahead=kind.max_days_ahead,
    )


def explain_candidates(query: SlotQuery) -> list[CandidateVerdict]:
    """A verdict for every grid candidate in the window (meant for a one-day window).

    Offered candidates carry no reasons. Otherwise every failing global rule is listed; when no
    provider can take the start, ``no_provider`` is followed by each provider's reasons (by id).
    """
    ev = _evaluate_window(query)
    by_id = sorted(ev.providers, key=lambda mask: mask.spec.id)
    verdicts: list[CandidateVerdict] = []
    for i, start in enumerate(ev.starts):
        reasons = ev.global_reasons(i)
        if not any(mask.ok[i] for mask in by_id):
            reasons.append(Reason("no_provider"))
            for mask in by_id:
                reasons.extend(provider_reasons(mask, i))
        verdicts.append(CandidateVerdict(from_us(start), not reasons, tuple(reasons)))
    return verdicts


def check_candidate(
    query: SlotQuery, start_at: datetime, chair_id: int | None, provider_id: int
) -> tuple[Reason, ...]:
    """Reasons why this booking breaks the rules; empty means it may be written.

    Same evaluation as :func:`find_free_slots`, for one start: ``start_at`` need not lie in the
    query window (the window is ignored), but a start off the grid gets ``off_grid``. With
    ``chair_id`` given that chair must be free; with None, any chair (if the type needs one).
    Leave the booking being moved out of ``query.commitments``. Raises ValueError for a
    provider or chair that is not in the query, or a chair for a type that uses none.
    """
    if all(p.id != provider_id for p in query.providers):
        raise ValueError(f"provider {provider_id} is not in the query")
    if chair_id is not None:
        if not query.appointment_type.needs_chair:
            raise ValueError("this appointment type uses no chair")
        if all(c.id != chair_id for c in query.chairs):
            raise ValueError(f"chair {chair_id} is not in the query")
    if start_at.utcoffset() is None:
        raise ValueError("start_at must be timezone-aware")
    start = to_us(start_at)
    clock = LocalClock(query.tz, start - DAY_MARGIN, start + DAY_MARGIN)
    ev = evaluate(
        query,
        [start],
        [clock.local_day(start)],
        clock,
        chair_ids=None if chair_id is None else (chair_id,),
        provider_ids=(provider_id,),
    )
    reasons: list[Reason] = []
    if not clock.is_on_grid(start, query.appointment_type.step_minutes):
        reasons.append(Reason("off_grid"))
    reasons.extend(ev.global_reasons(0))
    reasons.extend(provider_reasons(ev.providers[0], 0))
    return tuple(reasons)
