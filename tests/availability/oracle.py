"""A brute-force oracle for the availability engine, written from the documented rules only.

It works in whole UTC minutes (every instant of a test query must be minute-aligned), keeps
minute-by-minute occupancy of every chair and provider (dict minute -> units, sets of minutes)
and checks each candidate directly. The local wall clock comes from scanning every minute of a
range and reading it in the zone, so the grid and the DST policy are derived independently of
the engine's span arithmetic:

- a wall minute that occurs once maps to that instant, twice (fold) to the earlier one, never
  (gap) to the transition instant plus its distance into the gap (i.e. moved forward by the
  length of the gap);
- a grid candidate is a scanned minute of the window whose wall minute-of-day % step == 0.

Only the engine's input records are imported; reasons come back as plain ``(code, provider)``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from scheduler.availability.engine import Commitment, Interval, Phase, ProviderSpec, SlotQuery

MINUTE = timedelta(minutes=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_ORDINAL = EPOCH.date().toordinal()
DAY_MINUTES = 24 * 60
MIDNIGHT = time(0)

OracleReason = tuple[str, int | None]


def minute_of(instant: datetime) -> int:
    delta = instant - EPOCH
    if delta % MINUTE:
        raise ValueError(f"the oracle needs minute-aligned instants, got {instant}")
    return delta // MINUTE


def instant_of(minute: int) -> datetime:
    return EPOCH + minute * MINUTE


def _interval_minutes(interval: Interval) -> range:
    return range(minute_of(interval.start_at), minute_of(interval.end_at))


def _units(use: str, capacity: int) -> int:
    return {"exclusive": capacity, "hands_on": 1, "monitor": 1, "none": 0}[use]


class WallClock:
    """Wall readings of every UTC minute in [lo, hi), found one minute at a time."""

    def __init__(self, tz: ZoneInfo, lo: int, hi: int) -> None:
        self.wall_of: dict[int, int] = {}
        self.instants_of: dict[int, list[int]] = defaultdict(list)
        self.gaps: list[tuple[int, int, int]] = []  # (first missing wall, next wall, instant)
        previous: int | None = None
        for minute in range(lo, hi):
            local = datetime.fromtimestamp(minute * 60, tz)
            wall = (local.date().toordinal() - EPOCH_ORDINAL) * DAY_MINUTES
            wall += local.hour * 60 + local.minute
            self.wall_of[minute] = wall
            self.instants_of[wall].append(minute)
            if previous is not None and wall > previous + 1:
                self.gaps.append((previous + 1, wall, minute))
            previous = wall

    def instant_of_wall(self, wall: int) -> int:
        found = self.instants_of.get(wall)
        if found:
            return min(found)
        for gap_lo, gap_hi, transition in self.gaps:
            if gap_lo <= wall < gap_hi:
                return transition + (wall - gap_lo)
        raise AssertionError(f"wall minute {wall} outside the scanned range")

    def local_day(self, minute: int) -> int:
        return self.wall_of[minute] // DAY_MINUTES


def _weekly_minutes(
    clock: WallClock,
    entries: Sequence[tuple[int, time, time, date | None, date | None]],
    days: range,
) -> set[int]:
    covered: set[int] = set()
    for day in days:
        local_date = date.fromordinal(day + EPOCH_ORDINAL)
        for weekday, start_time, end_time, valid_from, valid_until in entries:
            if weekday != local_date.weekday():
                continue
            if valid_from is not None and local_date < valid_from:
                continue
            if valid_until is not None and local_date > valid_until:
                continue
            start = clock.instant_of_wall(
                day * DAY_MINUTES + start_time.hour * 60 + start_time.minute
            )
            if end_time == MIDNIGHT:
                end = clock.instant_of_wall((day + 1) * DAY_MINUTES)
            else:
                end = clock.instant_of_wall(
                    day * DAY_MINUTES + end_time.hour * 60 + end_time.minute
                )
            covered.update(range(start, end))
    return covered


@dataclass
class _Occupied:
    """Minute-by-minute state of one provider."""

    spec: ProviderSpec
    available: set[int]
    units: dict[int, int]
    hands_on: set[int]
    starts: list[int]


@dataclass(frozen=True)
class OracleCandidate:
    start: int  # UTC minute
    global_codes: tuple[str, ...]
    provider_codes: dict[int, tuple[str, ...]]
    chairs: tuple[int, ...]  # free chairs, best first
    providers: tuple[int, ...]  # feasible providers, best first

    @property
    def offered(self) -> bool:
        return not self.reasons

    @property
    def reasons(self) -> tuple[OracleReason, ...]:
        reasons: list[OracleReason] = [(code, None) for code in self.global_codes]
        if not self.providers:
            reasons.append(("no_provider", None))
            for pid in sorted(self.provider_codes):
                reasons.extend((code, pid) for code in self.provider_codes[pid])
        return tuple(reasons)


class Oracle:
    def __init__(self, query: SlotQuery) -> None:
        self.query = query
        kind = query.appointment_type
        self.phases: list[Phase] = list(kind.phases)
        self.duration = sum(p.minutes for p in self.phases)
        self.turnover = kind.turnover_minutes
        self.ws = minute_of(query.window_start_at)
        self.we = minute_of(query.window_end_at)
        self.now = minute_of(query.now)
        margin = 3 * DAY_MINUTES
        self.clock = WallClock(query.tz, self.ws - margin, self.we + self.duration + margin)
        days = range(
            self.clock.local_day(self.ws) - 1, self.clock.local_day(self.we + self.duration) + 2
        )

        self.open: set[int] | None = None
        if query.opening_hours is not None:
            entries = [(wd, a, b, None, None) for wd, a, b in query.opening_hours]
            self.open = _weekly_minutes(self.clock, entries, days)
        self.closed: set[int] = set()
        for closure in query.closures:
            self.closed.update(_interval_minutes(closure))

        chair_ids = {c.id for c in query.chairs}
        provider_ids = {p.id for p in query.providers}
        self.chair_busy: dict[int, set[int]] = {cid: set() for cid in chair_ids}
        self.chair_intervals: dict[int, list[tuple[int, int]]] = {cid: [] for cid in chair_ids}
        self.providers: dict[int, _Occupied] = {}
        for p in query.providers:
            rule_entries = [
                (r.weekday, r.start_time, r.end_time, r.valid_from_date, r.valid_until_date)
                for r in p.rules
            ]
            available = _weekly_minutes(self.clock, rule_entries, days)
            for extra in p.extra:
                available.update(_interval_minutes(extra))
            for off in p.unavailable:
                available.difference_update(_interval_minutes(off))
            self.providers[p.id] = _Occupied(p, available, defaultdict(int), set(), [])

        for c in query.commitments:
            start = minute_of(c.start_at)
            if c.chair_id in chair_ids:
                busy = self._chair_span(start, c.phases, c.turnover_minutes)
                if busy is not None:
                    self.chair_intervals[c.chair_id].append(busy)
                    self.chair_busy[c.chair_id].update(range(*busy))
            if c.provider_id in provider_ids:
                self._load(self.providers[c.provider_id], start, c)

    @staticmethod
    def _chair_span(start: int, phases: tuple[Phase, ...], turnover: int) -> tuple[int, int] | None:
        first: int | None = None
        last = 0
        at = start
        for phase in phases:
            if phase.uses_chair:
                if first is None:
                    first = at
                last = at + phase.minutes
            at += phase.minutes
        return None if first is None else (first, last + turnover)

    @staticmethod
    def _load(state: _Occupied, start: int, c: Commitment) -> None:
        state.starts.append(start)
        at = start
        for phase in c.phases:
            for minute in range(at, at + phase.minutes):
                state.units[minute] += _units(
                    phase.provider_use, state.spec.max_concurrent_patients
                )
                if phase.provider_use == "hands_on":
                    state.hands_on.add(minute)
            at += phase.minutes

    # -- the rules, one candidate at a time -------------------------------------------------

    def grid(self) -> list[int]:
        step = self.query.appointment_type.step_minutes
        return [
            m for m in range(self.ws, self.we) if self.clock.wall_of[m] % DAY_MINUTES % step == 0
        ]

    def on_grid(self, start: int) -> bool:
        step = self.query.appointment_type.step_minutes
        return self.clock.wall_of[start] % DAY_MINUTES % step == 0

    def _location_ok(self, start: int) -> bool:
        for minute in range(start, start + self.duration):
            if minute in self.closed or (self.open is not None and minute not in self.open):
                return False
        return True

    def _new_chair_span(self, start: int) -> tuple[int, int] | None:
        return self._chair_span(start, self.query.appointment_type.phases, self.turnover)

    def _chair_free(self, chair_id: int, start: int) -> bool:
        span = self._new_chair_span(start)
        assert span is not None
        return not any(m in self.chair_busy[chair_id] for m in range(*span))

    def _provider_codes(self, state: _Occupied, start: int) -> tuple[str, ...]:
        codes: list[str] = []
        if not all(m in state.available for m in range(start, start + self.duration)):
            codes.append("outside_provider_hours")
        capacity = state.spec.max_concurrent_patients
        at = start
        overloaded = False
        for phase in self.phases:
            needed = _units(phase.provider_use, capacity)
            for minute in range(at, at + phase.minutes):
                if needed and state.units.get(minute, 0) + needed > capacity:
                    overloaded = True
                if phase.provider_use == "hands_on" and minute in state.hands_on:
                    overloaded = True
            at += phase.minutes
        if overloaded:
            codes.append("provider_at_capacity")
        gap = state.spec.min_minutes_between_starts
        if gap > 0 and any(abs(start - other) < gap for other in state.starts):
            codes.append("start_too_close")
        return tuple(codes)

    def _global_codes(self, start: int, chair_ids: list[int]) -> list[str]:
        kind = self.query.appointment_type
        codes: list[str] = []
        if start < self.now + kind.min_notice_minutes:
            codes.append("min_notice")
        if start >= self.now + kind.max_days_ahead * DAY_MINUTES:
            codes.append("beyond_horizon")
        if not self._location_ok(start):
            codes.append("location_closed")
        needs_chair = self._new_chair_span(start) is not None
        if needs_chair and not any(self._chair_free(cid, start) for cid in chair_ids):
            codes.append("no_chair_free")
        return codes

    def candidate(self, start: int) -> OracleCandidate:
        all_chairs = [c.id for c in self.query.chairs]
        codes = self._global_codes(start, all_chairs)
        provider_codes = {pid: self._provider_codes(s, start) for pid, s in self.providers.items()}
        span = self._new_chair_span(start)
        chairs: list[int] = []
        if span is not None:
            chairs = [cid for cid in all_chairs if self._chair_free(cid, start)]
            position = {c.id: c.position for c in self.query.chairs}

            def chair_key(cid: int) -> tuple[int, int, int, int]:
                ends = [b for _, b in self.chair_intervals[cid] if b <= span[0]]
                if ends:
                    return (0, span[0] - max(ends), position[cid], cid)
                return (1, 0, position[cid], cid)

            chairs.sort(key=chair_key)
        day = self.clock.local_day(start)

        def provider_key(pid: int) -> tuple[int, int]:
            same_day = [
                s
                for s in self.providers[pid].starts
                if s in self.clock.wall_of and self.clock.local_day(s) == day
            ]
            return (len(same_day), pid)

        providers = sorted((pid for pid, c in provider_codes.items() if not c), key=provider_key)
        return OracleCandidate(start, tuple(codes), provider_codes, tuple(chairs), tuple(providers))

    def candidates(self) -> list[OracleCandidate]:
        return [self.candidate(start) for start in self.grid()]

    def check(self, start: int, chair_id: int | None, provider_id: int) -> tuple[OracleReason, ...]:
        reasons: list[OracleReason] = []
        if not self.on_grid(start):
            reasons.append(("off_grid", None))
        chairs = [c.id for c in self.query.chairs] if chair_id is None else [chair_id]
        reasons.extend((code, None) for code in self._global_codes(start, chairs))
        state = self.providers[provider_id]
        reasons.extend((code, provider_id) for code in self._provider_codes(state, start))
        return tuple(reasons)
