"""Feasibility masks for a sorted list of candidate starts (the sweeps behind the engine).

Every constraint is turned into spans of allowed or forbidden *starts* once, by interval
arithmetic on the commitments, and the sorted candidates are then marked against those spans
by bisection. Nothing here loops over commitments per candidate. The rules themselves are
documented in ``scheduler.availability.engine``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Final

from scheduler.availability.engine_time import (
    NEG_INF,
    POS_INF,
    US_PER_DAY,
    US_PER_MINUTE,
    LocalClock,
    Span,
    expand_weekly,
    mark_allowed,
    mark_forbidden,
    merge,
    over_threshold,
    starts_inside,
    subtract,
    to_us,
)
from scheduler.availability.engine_types import (
    ChairSpec,
    Interval,
    Phase,
    ProviderSpec,
    ProviderUse,
    Reason,
    SlotQuery,
)

# Margin around the candidates inside which a commitment's start may share a local date.
DAY_MARGIN: Final = 2 * US_PER_DAY


@dataclass(frozen=True, slots=True)
class Shape:
    """Where a sequence of phases puts its loads, as microsecond offsets from its start."""

    duration: int
    chair: Span | None  # first chair phase start .. last chair phase end (turnover not added)
    phases: tuple[tuple[int, int, ProviderUse], ...]  # (start offset, end offset, use)


def shape_of(phases: Sequence[Phase]) -> Shape:
    offset = 0
    chair_lo: int | None = None
    chair_hi = 0
    placed: list[tuple[int, int, ProviderUse]] = []
    for phase in phases:
        end = offset + phase.minutes * US_PER_MINUTE
        if phase.uses_chair:
            if chair_lo is None:
                chair_lo = offset
            chair_hi = end
        placed.append((offset, end, phase.provider_use))
        offset = end
    chair = None if chair_lo is None else (chair_lo, chair_hi)
    return Shape(offset, chair, tuple(placed))


def units(use: ProviderUse, capacity: int) -> int:
    if use == "exclusive":
        return capacity
    if use == "none":
        return 0
    return 1


# (offset, +/- units) load steps and hands-on spans of one shape for one provider capacity.
RelativeLoad = tuple[tuple[tuple[int, int], ...], tuple[Span, ...]]


def relative_load(shape: Shape, capacity: int) -> RelativeLoad:
    steps: list[tuple[int, int]] = []
    hands: list[Span] = []
    for a, b, use in shape.phases:
        u = units(use, capacity)
        if u:
            steps.append((a, u))
            steps.append((b, -u))
        if use == "hands_on":
            hands.append((a, b))
    return tuple(steps), tuple(hands)


@dataclass(slots=True)
class ChairMask:
    spec: ChairSpec
    free: bytearray
    busy_ends: list[int]  # ends of every busy interval on the chair, sorted (for tight packing)


@dataclass(slots=True)
class ProviderMask:
    spec: ProviderSpec
    hours: bytearray
    capacity: bytearray
    stagger: bytearray
    ok: bytearray
    booked: list[int]  # starts of the provider's commitments near the candidates, sorted
    clock: LocalClock
    _per_day: Counter[int] | None = None

    def starts_on(self, day: int) -> int:
        """How many of the provider's commitments start on this local day (index)."""
        if self._per_day is None:
            self._per_day = Counter(self.clock.local_days(self.booked))
        return self._per_day[day]


@dataclass(slots=True)
class Evaluation:
    """Per-candidate answers; index i of every mask refers to ``starts[i]``."""

    starts: list[int]
    days: list[int]
    duration: int
    needs_chair: bool
    chair_offset: int  # where the chair-busy interval starts, relative to the start
    notice_from: int  # candidates [notice_from:] meet the minimum notice
    horizon_until: int  # candidates [:horizon_until] lie before the horizon
    location: bytearray
    chairs: list[ChairMask]
    providers: list[ProviderMask]

    def global_reasons(self, i: int) -> list[Reason]:
        reasons: list[Reason] = []
        if i < self.notice_from:
            reasons.append(Reason("min_notice"))
        if i >= self.horizon_until:
            reasons.append(Reason("beyond_horizon"))
        if not self.location[i]:
            reasons.append(Reason("location_closed"))
        if self.needs_chair and not any(chair.free[i] for chair in self.chairs):
            reasons.append(Reason("no_chair_free"))
        return reasons


def provider_reasons(mask: ProviderMask, i: int) -> list[Reason]:
    pid = mask.spec.id
    reasons: list[Reason] = []
    if not mask.hours[i]:
        reasons.append(Reason("outside_provider_hours", pid))
    if not mask.capacity[i]:
        reasons.append(Reason("provider_at_capacity", pid))
    if not mask.stagger[i]:
        reasons.append(Reason("start_too_close", pid))
    return reasons


def _spans(intervals: Sequence[Interval]) -> list[Span]:
    return [(to_us(iv.start_at), to_us(iv.end_at)) for iv in intervals]


def _and(size: int, *masks: bytearray) -> bytearray:
    # Masks hold 0/1 bytes, so a bitwise AND of the whole buffers is a per-candidate AND.
    acc = int.from_bytes(masks[0], "little")
    for mask in masks[1:]:
        acc &= int.from_bytes(mask, "little")
    return bytearray(acc.to_bytes(size, "little"))


def evaluate(
    query: SlotQuery,
    starts: list[int],
    days: list[int],
    clock: LocalClock,
    *,
    chair_ids: Collection[int] | None = None,
    provider_ids: Collection[int] | None = None,
) -> Evaluation:
    """Evaluate sorted candidate ``starts`` (with their local day indexes) against ``query``.

    ``chair_ids``/``provider_ids`` restrict which resources are evaluated (None = all).
    ``clock`` must cover the candidates +/- two days.
    """
    kind = query.appointment_type
    new = shape_of(kind.phases)
    duration = new.duration
    turnover = kind.turnover_minutes * US_PER_MINUTE
    now = to_us(query.now)
    n = len(starts)
    ev = Evaluation(
        starts=starts,
        days=days,
        duration=duration,
        needs_chair=new.chair is not None,
        chair_offset=new.chair[0] if new.chair is not None else 0,
        notice_from=bisect_left(starts, now + kind.min_notice_minutes * US_PER_MINUTE),
        horizon_until=bisect_left(starts, now + kind.max_days_ahead * US_PER_DAY),
        location=bytearray(n),
        chairs=[],
        providers=[],
    )
    if n == 0:
        return ev
    lo, hi = starts[0], starts[-1]
    # One spare local date each side: a range ending at midnight belongs to the date before,
    # and around a fold at midnight a later date's range can begin "earlier" on the clock.
    one_day = timedelta(days=1)
    dates = (clock.local_date(lo) - one_day, clock.local_date(hi + duration) + one_day)
    wall_cache: dict[tuple[int, time], int] = {}

    # Location: opening hours (or everything) minus closures, with room for the whole duration.
    if query.opening_hours is None:
        open_spans: list[Span] = [(NEG_INF, POS_INF)]
    else:
        entries = [(wd, a, b, None, None) for wd, a, b in query.opening_hours]
        open_spans = merge(expand_weekly(query.tz, entries, *dates, wall_cache))
    open_spans = subtract(open_spans, merge(_spans(query.closures)))
    ev.location = mark_allowed(starts, starts_inside(open_spans, duration))

    chairs = (
        []
        if new.chair is None
        else [c for c in query.chairs if chair_ids is None or c.id in chair_ids]
    )
    providers = [p for p in query.providers if provider_ids is None or p.id in provider_ids]
    chair_index = {c.id: i for i, c in enumerate(chairs)}
    provider_index = {p.id: i for i, p in enumerate(providers)}
    busy: list[list[Span]] = [[] for _ in chairs]
    busy_ends: list[list[int]] = [[] for _ in chairs]
    capacities = [p.max_concurrent_patients for p in providers]
    events: list[list[tuple[int, int]]] = [[] for _ in providers]
    hands_on: list[list[Span]] = [[] for _ in providers]
    booked: list[list[int]] = [[] for _ in providers]

    new_chair = new.chair or (0, 0)
    chair_lo = lo + new_chair[0]
    chair_hi = hi + new_chair[1] + turnover
    load_hi = hi + duration
    # Keyed by id(): commitments of one type share one phases tuple, which outlives this call.
    shapes: dict[int, Shape] = {}
    relative: list[dict[int, RelativeLoad]] = [{} for _ in providers]
    chair_get, provider_get = chair_index.get, provider_index.get
    for c in query.commitments:
        ci = chair_get(c.chair_id)  # type: ignore[arg-type]  # None finds nothing
        pi = provider_get(c.provider_id)  # type: ignore[arg-type]
        if ci is None and pi is None:
            continue
        key = id(c.phases)
        shape = shapes.get(key)
        if shape is None:
            shape = shapes[key] = shape_of(c.phases)
        at = to_us(c.start_at)
        if ci is not None and shape.chair is not None:
            b0 = at + shape.chair[0]
            b1 = at + shape.chair[1] + c.turnover_minutes * US_PER_MINUTE
            busy_ends[ci].append(b1)
            if b1 > chair_lo and b0 < chair_hi:
                busy[ci].append((b0, b1))
        if pi is not None:
            booked[pi].append(at)
            if at < load_hi and at + shape.duration > lo:
                rel = relative[pi].get(key)
                if rel is None:
                    rel = relative[pi][key] = relative_load(shape, capacities[pi])
                events[pi].extend([(at + o, d) for o, d in rel[0]])
                if rel[1]:
                    hands_on[pi].extend([(at + a, at + b) for a, b in rel[1]])

    c0, c1 = new_chair[0], new_chair[1] + turnover
    for ci, chair in enumerate(chairs):
        # The new chair-busy span [s + c0, s + c1) overlaps [x, y) iff x - c1 < s < y - c0.
        forbidden = merge([(x - c1 + 1, y - c0) for x, y in busy[ci]])
        busy_ends[ci].sort()
        ev.chairs.append(ChairMask(chair, mark_forbidden(starts, forbidden), busy_ends[ci]))

    for pi, provider in enumerate(providers):
        availability = _provider_availability(query, provider, dates, wall_cache)
        hours = mark_allowed(starts, starts_inside(availability, duration))
        forbidden = _capacity_forbidden(provider, new, events[pi], hands_on[pi])
        capacity = mark_forbidden(starts, forbidden)
        gap = provider.min_minutes_between_starts * US_PER_MINUTE
        if gap > 0:
            near = merge([(b - gap + 1, b + gap) for b in booked[pi] if lo - gap < b < hi + gap])
            stagger = mark_forbidden(starts, near)
        else:
            stagger = bytearray(b"\x01") * n
        near_days = sorted(b for b in booked[pi] if lo - DAY_MARGIN < b < hi + DAY_MARGIN)
        ok = _and(n, hours, capacity, stagger)
        ev.providers.append(ProviderMask(provider, hours, capacity, stagger, ok, near_days, clock))
    return ev


def _provider_availability(
    query: SlotQuery,
    provider: ProviderSpec,
    dates: tuple[date, date],
    wall_cache: dict[tuple[int, time], int],
) -> list[Span]:
    """Weekly rules expanded per local date, plus ``extra``, minus ``unavailable``."""
    entries = [
        (r.weekday, r.start_time, r.end_time, r.valid_from_date, r.valid_until_date)
        for r in provider.rules
    ]
    spans = expand_weekly(query.tz, entries, *dates, wall_cache)
    spans.extend(_spans(provider.extra))
    return subtract(merge(spans), merge(_spans(provider.unavailable)))


def _capacity_forbidden(
    provider: ProviderSpec, new: Shape, events: list[tuple[int, int]], hands_on: list[Span]
) -> list[Span]:
    """Starts at which some phase of the new appointment would overload the provider.

    ``events`` are the (instant, +/- units) steps of the provider's existing load. A phase
    taking u > 0 units may not overlap any instant where existing load > max - u; a hands_on
    phase may not overlap an existing hands_on phase. A phase taking no units never conflicts
    (even with load already above the maximum after a staff override).
    """
    if not events:
        return []
    capacity = provider.max_concurrent_patients
    events.sort()
    hands = merge(hands_on)
    too_full: dict[int, list[Span]] = {}
    forbidden: list[Span] = []
    for o, e, use in new.phases:
        u = units(use, capacity)
        if not u:
            continue
        full = too_full.get(u)
        if full is None:
            full = too_full[u] = over_threshold(events, capacity - u)
        # The phase [s + o, s + e) overlaps [x, y) iff x - e < s < y - o.
        forbidden.extend([(x - e + 1, y - o) for x, y in full])
        if use == "hands_on":
            forbidden.extend([(x - e + 1, y - o) for x, y in hands])
    return merge(forbidden)
