"""The series placer against a brute-force placer on small clinics (hypothesis).

Feasible => found (with the best score); "no placement" => none exists; every placement keeps
every hard rule. Across the US spring-forward, "same time of day" keeps local wall time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import combinations, pairwise
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.availability.engine import local_instant
from scheduler.series.placer import (
    Candidate,
    NoPlacement,
    SeriesPlan,
    SeriesRules,
    place_series,
    window_of,
)

NY = ZoneInfo("America/New_York")
FIRST_DAY = date(2026, 3, 4)  # a Wednesday, four days before the spring-forward
WALL_TIMES = (time(9, 0), time(11, 0), time(14, 30))


@st.composite
def clinics(draw: st.DrawFn) -> tuple[list[Candidate], SeriesRules]:
    """Offered starts on 10 days from FIRST_DAY (three wall times a day), each with a
    non-empty subset of two chairs and two providers; and rules small enough to brute-force."""
    candidates = []
    for offset in range(10):
        day = FIRST_DAY + timedelta(days=offset)
        for wall in WALL_TIMES:
            if draw(st.booleans()):
                chairs = draw(st.sampled_from([(1,), (2,), (1, 2), (2, 1)]))
                providers = draw(st.sampled_from([(7,), (8,), (7, 8), (8, 7)]))
                candidates.append(Candidate(local_instant(day, wall, NY), chairs, providers))
    min_gap = draw(st.sampled_from([20, 24, 46, 48]))
    rules = SeriesRules(
        visit_count=draw(st.integers(1, 4)),
        first_day=FIRST_DAY + timedelta(days=draw(st.integers(0, 1))),
        window_days=draw(st.integers(2, 10)),
        min_gap=timedelta(hours=min_gap),
        max_gap=timedelta(hours=min_gap + draw(st.sampled_from([0, 3, 24, 72]))),
        max_per_week=draw(st.integers(1, 4)),
        same_time=draw(st.booleans()),
        same_chair=draw(st.booleans()),
        same_provider=draw(st.booleans()),
    )
    return candidates, rules


def hard_rules_hold(starts: list[datetime], rules: SeriesRules) -> bool:
    start, end = window_of(rules.first_day, rules.window_days, NY)
    if len(starts) != rules.visit_count or starts != sorted(starts):
        return False
    if starts[0].astimezone(NY).date() != rules.first_day:
        return False
    if any(not start <= s < end for s in starts):
        return False
    for a, b in pairwise(starts):
        if not rules.min_gap <= b - a <= rules.max_gap:
            return False
    weeks: dict[tuple[int, int], int] = {}
    for s in starts:
        week = tuple(s.astimezone(NY).isocalendar())[:2]
        weeks[(week[0], week[1])] = weeks.get((week[0], week[1]), 0) + 1
    return max(weeks.values()) <= rules.max_per_week


def score_of(chosen: list[Candidate], rules: SeriesRules) -> int:
    """The best score over the first visit's chair and provider (the brute-force way)."""
    first = chosen[0]
    wall = first.start_at.astimezone(NY).time()
    best = 0
    for chair in first.chair_ids:
        for provider in first.provider_ids:
            score = 0
            for c in chosen[1:]:
                score += int(rules.same_time and c.start_at.astimezone(NY).time() == wall)
                score += int(rules.same_chair and chair in c.chair_ids)
                score += int(rules.same_provider and provider in c.provider_ids)
            best = max(best, score)
    return best


def brute_force(candidates: list[Candidate], rules: SeriesRules) -> int | None:
    """The best score of any placement, or None when no placement exists."""
    ordered = sorted(candidates, key=lambda c: c.start_at)
    best: int | None = None
    for chosen in combinations(ordered, rules.visit_count):
        if hard_rules_hold([c.start_at for c in chosen], rules):
            score = score_of(list(chosen), rules)
            best = score if best is None else max(best, score)
    return best


@settings(max_examples=400, deadline=None)
@given(clinics())
def test_placer_agrees_with_brute_force(case: tuple[list[Candidate], SeriesRules]) -> None:
    candidates, rules = case
    expected = brute_force(candidates, rules)
    result = place_series(candidates, rules, NY)
    if expected is None:
        assert isinstance(result, NoPlacement)
        assert 1 <= result.visit_number <= rules.visit_count
        assert len(result.placed) == result.visit_number - 1
        return
    assert isinstance(result, SeriesPlan), result
    starts = [v.start_at for v in result.visits]
    assert hard_rules_hold(starts, rules)
    assert result.score == expected
    by_start = {c.start_at: c for c in candidates}
    for visit in result.visits:
        offered = by_start[visit.start_at]
        assert visit.chair_id in offered.chair_ids
        assert visit.provider_id in offered.provider_ids
    # The score claimed is the score of the visits as chosen (chair and provider included).
    first = result.visits[0]
    wall = first.start_at.astimezone(NY).time()
    actual = sum(
        int(rules.same_time and v.start_at.astimezone(NY).time() == wall)
        + int(rules.same_chair and v.chair_id == first.chair_id)
        + int(rules.same_provider and v.provider_id == first.provider_id)
        for v in result.visits[1:]
    )
    assert actual == result.score


@settings(max_examples=100, deadline=None)
@given(clinics())
def test_placer_is_deterministic(case: tuple[list[Candidate], SeriesRules]) -> None:
    candidates, rules = case
    assert place_series(candidates, rules, NY) == place_series(candidates[::-1], rules, NY)


def test_same_time_of_day_keeps_local_time_across_spring_forward() -> None:
    """09:00 New York before and after 8 March 2026: 47 hours apart across the change, yet
    the placement keeps 09:00 local rather than the 10:00 that 48 hours would give."""
    candidates = [
        Candidate(local_instant(FIRST_DAY + timedelta(days=d), wall, NY), (1,), (7,))
        for d in range(10)
        for wall in (time(9, 0), time(10, 0))
    ]
    rules = SeriesRules(
        visit_count=4,
        first_day=date(2026, 3, 5),
        window_days=10,
        min_gap=timedelta(hours=40),
        max_gap=timedelta(hours=80),
        max_per_week=3,
        same_time=True,
    )
    plan = place_series(candidates, rules, NY)
    assert isinstance(plan, SeriesPlan)
    walls = [v.start_at.astimezone(NY).time() for v in plan.visits]
    assert walls == [time(9, 0)] * 4
    offsets = {v.start_at.astimezone(NY).utcoffset() for v in plan.visits}
    assert len(offsets) == 2  # both sides of the change
    assert plan.score == plan.max_score == 3
    assert plan.visits[0].start_at == datetime(2026, 3, 5, 14, 0, tzinfo=UTC)


def test_no_placement_names_the_visit_and_why() -> None:
    """Two visits fit in the week, the third would need a start the window does not have."""
    candidates = [
        Candidate(local_instant(FIRST_DAY + timedelta(days=d), time(9, 0), NY), (1,), (7,))
        for d in (0, 2)
    ]
    rules = SeriesRules(
        visit_count=3,
        first_day=FIRST_DAY,
        window_days=4,
        min_gap=timedelta(hours=48),
        max_gap=timedelta(hours=72),
        max_per_week=3,
    )
    result = place_series(candidates, rules, NY)
    assert isinstance(result, NoPlacement)
    assert result.visit_number == 3
    assert result.placed == tuple(c.start_at for c in candidates)
    assert result.reasons == ("window_ends", "no_free_start")
    # 4 March is a Wednesday, 6 March the Friday of the same week: one a week leaves no room.
    weekly = SeriesRules(
        visit_count=2,
        first_day=FIRST_DAY,
        window_days=4,
        min_gap=timedelta(hours=48),
        max_gap=timedelta(hours=72),
        max_per_week=1,
    )
    limited = place_series(candidates, weekly, NY)
    assert isinstance(limited, NoPlacement)
    assert limited.visit_number == 2
    assert limited.reasons == ("week_limit",)
