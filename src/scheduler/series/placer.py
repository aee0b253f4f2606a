"""Placing a treatment series: pure, deterministic, exact (no I/O, no clock).

Input: the free starts of the appointment type over the series' window, as the availability
engine offers them (``find_free_slots`` on one ``load_context`` of the whole window), and the
rules of the series. Output: a placement of every visit, or which visit cannot be placed.

Hard rules (a placement breaks none)
    * ``visit_count`` visits, each at an offered start, with one of the chairs and one of the
      providers the engine offered for it (any offered chair fits any offered provider).
    * The first visit is on ``first_day`` (local date in the clinic zone); every visit is on
      a local date before ``first_day + window_days``.
    * Consecutive visits start at least ``min_gap`` and at most ``max_gap`` apart (exact
      durations, so across a DST change 48 h is 48 h).
    * At most ``max_per_week`` visits per calendar week (ISO week, Monday to Sunday, local).

Soft preferences (the score; a placement with the highest score is chosen)
    Each visit after the first earns one point per preference it keeps with the first visit:
    ``same_time`` (the same local wall-clock time: 09:00 stays 09:00 across a DST change),
    ``same_chair`` (the first visit's chair is among the visit's offered chairs),
    ``same_provider`` (likewise for the provider). The maximum is
    ``(visit_count - 1) * number of preferences``.

Determinism
    Among placements of the highest score, the one chosen is the first in this order: the
    first visit's start (earliest first), then its chair and provider in the engine's ranking,
    then each later visit's start (earliest first). Each visit takes the first visit's chair
    (provider) when that one is offered and the preference is on, else the engine's first.

Search
    An exact dynamic programme over (visit number, start, visits so far in that start's week)
    with memoised results and two prunings: a state from which the remaining visits cannot be
    placed at all is dropped once (feasibility is memoised independently of preferences), and
    the search stops as soon as a placement reaches the maximum score.

When no placement exists, :class:`NoPlacement` names the first visit that cannot be placed
along the longest chain that can (earliest such chain), the span of time it would have had to
start in, and the series-level reasons (``window_ends``, ``week_limit``, ``no_free_start``);
the service adds the engine's reasons for the starts in that span.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from scheduler.availability.engine import local_instant

SeriesReasonCode = Literal["window_ends", "week_limit", "no_free_start"]

__all__ = [
    "Candidate",
    "NoPlacement",
    "PlannedVisit",
    "SeriesPlan",
    "SeriesReasonCode",
    "SeriesRules",
    "place_series",
    "window_of",
]


@dataclass(frozen=True, slots=True)
class Candidate:
    """An offered start with the fitting chairs and providers, best first (engine ``Slot``)."""

    start_at: datetime
    chair_ids: tuple[int, ...]
    provider_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class SeriesRules:
    visit_count: int
    first_day: date
    window_days: int
    min_gap: timedelta
    max_gap: timedelta
    max_per_week: int
    same_time: bool = False
    same_chair: bool = False
    same_provider: bool = False

    def __post_init__(self) -> None:
        if self.visit_count < 1:
            raise ValueError("visit_count must be >= 1")
        if self.window_days < 1:
            raise ValueError("window_days must be >= 1")
        if self.min_gap <= timedelta(0) or self.max_gap < self.min_gap:
            raise ValueError("need 0 < min_gap <= max_gap")
        if self.max_per_week < 1:
            raise ValueError("max_per_week must be >= 1")

    @property
    def preferences(self) -> int:
        return int(self.same_time) + int(self.same_chair) + int(self.same_provider)

    @property
    def max_score(self) -> int:
        return (self.visit_count - 1) * self.preferences


@dataclass(frozen=True, slots=True)
class PlannedVisit:
    start_at: datetime
    chair_id: int | None
    provider_id: int


@dataclass(frozen=True, slots=True)
class SeriesPlan:
    visits: tuple[PlannedVisit, ...]
    score: int
    max_score: int


@dataclass(frozen=True, slots=True)
class NoPlacement:
    """Visit ``visit_number`` (1-based) has no start in [earliest_at, latest_at)."""

    visit_number: int
    earliest_at: datetime
    latest_at: datetime
    reasons: tuple[SeriesReasonCode, ...]
    placed: tuple[datetime, ...]  # the earliest longest chain of visits that can be placed


def window_of(first_day: date, window_days: int, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[local midnight of ``first_day``, local midnight ``window_days`` later), in UTC."""
    return (
        local_instant(first_day, time(0), tz),
        local_instant(first_day + timedelta(days=window_days), time(0), tz),
    )


def _seconds(at: datetime) -> int:
    return int((at - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds())


class _Search:
    def __init__(self, slots: list[Candidate], rules: SeriesRules, tz: ZoneInfo) -> None:
        self.slots = slots
        self.rules = rules
        self.t = [_seconds(s.start_at) for s in slots]
        local = [s.start_at.astimezone(tz) for s in slots]
        self.week = [tuple(d.isocalendar())[:2] for d in local]
        self.wall = [d.time().replace(tzinfo=None) for d in local]
        self.min_gap = int(rules.min_gap.total_seconds())
        self.max_gap = int(rules.max_gap.total_seconds())
        self.n = rules.visit_count
        self._feasible: dict[tuple[int, int, int], bool] = {}
        self._next: dict[tuple[int, int, int], list[tuple[int, int]]] = {}

    def successors(self, j: int, c: int) -> list[tuple[int, int]]:
        """Next starts k after a visit at j (c visits so far in j's week), with k's count."""
        lo = bisect_left(self.t, self.t[j] + self.min_gap)
        hi = bisect_right(self.t, self.t[j] + self.max_gap)
        out: list[tuple[int, int]] = []
        for k in range(lo, hi):
            if self.week[k] == self.week[j]:
                if c + 1 <= self.rules.max_per_week:
                    out.append((k, c + 1))
            else:
                out.append((k, 1))
        return out

    def feasible(self, i: int, j: int, c: int) -> bool:
        """Can visits i+1 .. n-1 be placed after visit i at j?"""
        if i == self.n - 1:
            return True
        key = (i, j, c)
        found = self._feasible.get(key)
        if found is None:
            found = any(self.feasible(i + 1, k, ck) for k, ck in self.successors(j, c))
            self._feasible[key] = found
        return found

    def next_feasible(self, i: int, j: int, c: int) -> list[tuple[int, int]]:
        """The successors of visit i at j from which visits i+2 .. n-1 can still be placed."""
        key = (i, j, c)
        found = self._next.get(key)
        if found is None:
            found = [(k, ck) for k, ck in self.successors(j, c) if self.feasible(i + 1, k, ck)]
            self._next[key] = found
        return found

    def best(
        self,
        weights: list[int],
        memo: dict[tuple[int, int, int], tuple[int, int, int]],
        i: int,
        j: int,
        c: int,
        top: int,
    ) -> int:
        """The highest score of visits i+1 .. n-1 after visit i at j (memo: score, next);
        ``weights[k]``: what a visit at k earns under the first visit's anchor, at most
        ``top``."""
        if i == self.n - 1:
            return 0
        key = (i, j, c)
        hit = memo.get(key)
        if hit is not None:
            return hit[0]
        rest = (self.n - 2 - i) * top  # the most the visits after k can earn
        ceiling = rest + top
        best_score, best_k, best_c = -1, -1, 0
        for k, ck in self.next_feasible(i, j, c):
            if weights[k] + rest <= best_score:
                continue  # cannot beat the best found: an earlier start wins ties
            score = weights[k] + self.best(weights, memo, i + 1, k, ck, top)
            if score > best_score:
                best_score, best_k, best_c = score, k, ck
                if score == ceiling:
                    break
        memo[key] = (best_score, best_k, best_c)
        return best_score

    def weights(self, anchor: tuple[time | None, int | None, int | None]) -> list[int]:
        """What a visit at each start earns under ``anchor`` (wall time, chair, provider)."""
        wall, chair, provider = anchor
        return [
            int(wall is not None and self.wall[k] == wall)
            + int(chair is not None and chair in slot.chair_ids)
            + int(provider is not None and provider in slot.provider_ids)
            for k, slot in enumerate(self.slots)
        ]

    def longest(self, j: int, c: int, memo: dict[tuple[int, int], tuple[int, int, int]]) -> int:
        """Visits in the longest chain that starts at j (capped at n), memo: length, next."""
        key = (j, c)
        hit = memo.get(key)
        if hit is not None:
            return hit[0]
        length, nxt, nc = 1, -1, 0
        for k, ck in self.successors(j, c):
            sub = 1 + self.longest(k, ck, memo)
            if sub > length:
                length, nxt, nc = sub, k, ck
                if length >= self.n:
                    break
        memo[key] = (min(length, self.n), nxt, nc)
        return memo[key][0]


def place_series(
    candidates: Sequence[Candidate], rules: SeriesRules, tz: ZoneInfo
) -> SeriesPlan | NoPlacement:
    """The best placement by the rules above, or why there is none."""
    window_start, window_end = window_of(rules.first_day, rules.window_days, tz)
    first_end = local_instant(rules.first_day + timedelta(days=1), time(0), tz)
    slots = sorted(
        (c for c in candidates if window_start <= c.start_at < window_end),
        key=lambda c: c.start_at,
    )
    search = _Search(slots, rules, tz)
    firsts = [j for j, s in enumerate(slots) if s.start_at < first_end]
    feasible_firsts = [j for j in firsts if search.feasible(0, j, 1)]
    if not feasible_firsts:
        return _explain(search, firsts, window_start, first_end, window_end)

    best: tuple[int, int, tuple[time | None, int | None, int | None]] | None = None
    memos: dict[
        tuple[time | None, int | None, int | None], dict[tuple[int, int, int], tuple[int, int, int]]
    ] = {}
    # With "same time" and another preference on, a first visit whose time of day can be
    # kept for only w visits earns at most w + (the other preferences, every visit): first
    # visits that cannot beat the best found are skipped without trying their anchors.
    others = rules.preferences - int(rules.same_time)
    bound_walls = rules.same_time and others > 0
    for j0 in feasible_firsts:
        if bound_walls and best is not None:
            wall_only = (search.wall[j0], None, None)
            walls = search.best(
                search.weights(wall_only), memos.setdefault(wall_only, {}), 0, j0, 1, 1
            )
            if walls + others * (rules.visit_count - 1) <= best[0]:
                continue
        slot = slots[j0]
        chairs: Sequence[int | None] = (
            slot.chair_ids if rules.same_chair and slot.chair_ids else (None,)
        )
        providers: Sequence[int | None] = slot.provider_ids if rules.same_provider else (None,)
        for chair in chairs:
            for provider in providers:
                anchor = (search.wall[j0] if rules.same_time else None, chair, provider)
                memo = memos.setdefault(anchor, {})
                score = search.best(search.weights(anchor), memo, 0, j0, 1, rules.preferences)
                if best is None or score > best[0]:
                    best = (score, j0, anchor)
                if score == rules.max_score:
                    break
            if best is not None and best[0] == rules.max_score:
                break
        if best is not None and best[0] == rules.max_score:
            break
    assert best is not None
    score, j0, anchor = best
    memo = memos[anchor]
    path = [j0]
    i, j, c = 0, j0, 1
    while i < rules.visit_count - 1:
        _, k, ck = memo[(i, j, c)]
        path.append(k)
        i, j, c = i + 1, k, ck
    first = slots[j0]
    chair0 = (
        anchor[1] if anchor[1] is not None else (first.chair_ids[0] if first.chair_ids else None)
    )
    provider0 = anchor[2] if anchor[2] is not None else first.provider_ids[0]
    visits = []
    for k in path:
        slot = slots[k]
        chair = (
            chair0
            if rules.same_chair and chair0 in slot.chair_ids
            else (slot.chair_ids[0] if slot.chair_ids else None)
        )
        provider = (
            provider0
            if rules.same_provider and provider0 in slot.provider_ids
            else slot.provider_ids[0]
        )
        visits.append(PlannedVisit(slot.start_at, chair, provider))
    return SeriesPlan(tuple(visits), score, rules.max_score)


def _explain(
    search: _Search,
    firsts: list[int],
    window_start: datetime,
    first_end: datetime,
    window_end: datetime,
) -> NoPlacement:
    if not firsts:
        return NoPlacement(1, window_start, first_end, ("no_free_start",), ())
    memo: dict[tuple[int, int], tuple[int, int, int]] = {}
    start = max(firsts, key=lambda j: (search.longest(j, 1, memo), -j))
    chain = [start]
    j, c = start, 1
    while True:
        _, nxt, nc = memo[(j, c)]
        if nxt < 0:
            break
        chain.append(nxt)
        j, c = nxt, nc
    last = search.slots[chain[-1]].start_at
    earliest = last + search.rules.min_gap
    latest = last + search.rules.max_gap + timedelta(seconds=1)
    reasons: list[SeriesReasonCode] = []
    if latest > window_end:
        reasons.append("window_ends")
        latest = max(window_end, earliest)
    lo = bisect_left(search.t, _seconds(earliest))
    hi = bisect_left(search.t, _seconds(latest))
    if hi > lo:
        reasons.append("week_limit")  # free starts exist there, but their week is full
    else:
        reasons.append("no_free_start")
    return NoPlacement(
        visit_number=len(chain) + 1,
        earliest_at=earliest,
        latest_at=latest,
        reasons=tuple(reasons),
        placed=tuple(search.slots[k].start_at for k in chain),
    )
