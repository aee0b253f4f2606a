"""Property tests: the engine agrees with the brute-force oracle on random small clinics.

Set AVAILABILITY_EXAMPLES to run more (or fewer) examples per property.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.availability.engine import (
    ChairSpec,
    Commitment,
    Interval,
    Phase,
    ProviderSpec,
    Reason,
    SlotQuery,
    TypeSpec,
    WeeklyRule,
    check_candidate,
    explain_candidates,
    find_free_slots,
    grid_starts,
    ranked_checks,
)

from .oracle import Oracle, OracleReason, instant_of, minute_of

EXAMPLES = int(os.environ.get("AVAILABILITY_EXAMPLES", "150"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Dates around which the zones change offset (Phoenix and Kolkata never do).
TRANSITION_DATES = {
    "America/New_York": [date(2025, 3, 9), date(2025, 11, 2), date(2026, 3, 8), date(2026, 11, 1)],
    "Australia/Sydney": [date(2025, 4, 6), date(2025, 10, 5), date(2026, 4, 5), date(2026, 10, 4)],
    "America/Phoenix": [date(2025, 3, 9), date(2025, 11, 2)],
    "Asia/Kolkata": [date(2025, 3, 30), date(2025, 10, 26)],
}
USES = ["exclusive", "hands_on", "monitor", "none"]


def half_hour(slot: int) -> time:
    """Slot 0..47 of the day; 48 is midnight at the end of the date (00:00)."""
    return time((slot // 2) % 24, 30 * (slot % 2))


phases = st.lists(
    st.builds(
        Phase,
        minutes=st.one_of(st.integers(1, 60), st.sampled_from([15, 30, 45])),
        uses_chair=st.booleans(),
        provider_use=st.sampled_from(USES),
    ),
    min_size=1,
    max_size=3,
).map(tuple)


@st.composite
def wall_ranges(draw: st.DrawFn) -> tuple[time, time]:
    """Local ranges on the half-hour grid: any, wide (most of a day) or in the small hours,
    where the zones of these tests change their clocks."""
    shape = draw(st.sampled_from(["any", "wide", "wide", "small_hours"]))
    if shape == "any":
        start = draw(st.integers(0, 47))
        end = draw(st.integers(start + 1, 48))
    elif shape == "wide":
        start = draw(st.integers(0, 16))
        end = draw(st.integers(34, 48))
    else:
        start = draw(st.integers(0, 7))
        end = draw(st.integers(start + 1, 9))
    return half_hour(start), half_hour(end)


@st.composite
def queries(draw: st.DrawFn, dst_only: bool = False) -> SlotQuery:
    zone = draw(st.sampled_from(sorted(TRANSITION_DATES)))
    tz = ZoneInfo(zone)
    around = st.sampled_from(TRANSITION_DATES[zone])
    any_day = st.dates(date(2025, 1, 1), date(2026, 12, 31))
    base = draw(around if dst_only else st.one_of(around, any_day))
    base += timedelta(days=draw(st.integers(-1, 1)))
    local_start = datetime.combine(base, time(draw(st.integers(0, 23))), tzinfo=tz)
    window_start = local_start.astimezone(UTC) + timedelta(minutes=draw(st.sampled_from([0, 7])))
    window_minutes = draw(st.integers(0, 30 * 60))
    window_end = window_start + timedelta(minutes=window_minutes)
    weekdays = sorted({(base + timedelta(days=k)).weekday() for k in range(-1, 3)})

    def near(minutes_lo: int, minutes_hi: int) -> datetime:
        return window_start + timedelta(minutes=draw(st.integers(minutes_lo, minutes_hi)))

    def intervals(max_size: int, max_minutes: int) -> tuple[Interval, ...]:
        out = []
        for _ in range(draw(st.integers(0, max_size))):
            start = near(-300, window_minutes + 120)
            length = timedelta(minutes=draw(st.integers(1, max_minutes)))
            out.append(Interval(start, start + length))
        return tuple(out)

    def weekly(max_extra: int) -> list[tuple[int, time, time]]:
        """Mostly one range per weekday the window touches, plus a few random ranges."""
        ranges = [(wd, *draw(wall_ranges())) for wd in weekdays if draw(st.integers(0, 3))]
        ranges += [
            (draw(st.sampled_from(weekdays)), *draw(wall_ranges()))
            for _ in range(draw(st.integers(0, max_extra)))
        ]
        return ranges

    kind = TypeSpec(
        phases=draw(phases),
        turnover_minutes=draw(st.integers(0, 20)),
        step_minutes=draw(st.sampled_from([5, 10, 15, 30])),
        min_notice_minutes=draw(st.sampled_from([0, 0, 30, 120, 600])),
        max_days_ahead=draw(st.sampled_from([0, 1, 2, 3, 3, 3])),
    )
    chairs = tuple(
        ChairSpec(cid, draw(st.integers(0, 2))) for cid in range(1, draw(st.integers(1, 3)) + 1)
    )
    providers = []
    for pid in range(1, draw(st.integers(1, 3)) + 1):
        valid = st.one_of(
            st.none(), st.none(), st.integers(-1, 2).map(lambda k: base + timedelta(days=k))
        )
        rules = tuple(WeeklyRule(wd, a, b, draw(valid), draw(valid)) for wd, a, b in weekly(2))
        providers.append(
            ProviderSpec(
                id=pid,
                max_concurrent_patients=draw(st.integers(1, 3)),
                min_minutes_between_starts=draw(st.sampled_from([0, 0, 15, 30, 60])),
                rules=rules,
                extra=intervals(2, 600),
                unavailable=intervals(1, 240),
            )
        )
    hours_kind = draw(st.sampled_from(["none", "none", "empty", "weekly", "weekly", "weekly"]))
    opening_hours = {"none": None, "empty": ()}.get(hours_kind, tuple(weekly(2)))
    commitments = tuple(
        Commitment(
            # Mostly near the window; some a day earlier (same local date, other slots).
            start_at=near(*draw(st.sampled_from([(-180, window_minutes + 60)] * 3 + [(-1800, 0)]))),
            phases=draw(phases),
            turnover_minutes=draw(st.integers(0, 20)),
            chair_id=draw(st.sampled_from([*(c.id for c in chairs), None, 99])),
            provider_id=draw(st.sampled_from([*(p.id for p in providers), None, 98])),
        )
        for _ in range(draw(st.integers(0, 12)))
    )
    return SlotQuery(
        tz=tz,
        opening_hours=opening_hours,
        closures=intervals(1, 240),
        chairs=chairs,
        providers=tuple(providers),
        appointment_type=kind,
        commitments=commitments,
        window_start_at=window_start,
        window_end_at=window_end,
        now=near(-24 * 60, 180),
    )


def as_oracle(reasons: tuple[Reason, ...]) -> tuple[OracleReason, ...]:
    return tuple((r.code, r.provider_id) for r in reasons)


def assert_agrees(query: SlotQuery) -> None:
    oracle = Oracle(query)
    expected = oracle.candidates()

    grid = [
        minute_of(s)
        for s in grid_starts(
            query.tz,
            query.appointment_type.step_minutes,
            query.window_start_at,
            query.window_end_at,
        )
    ]
    assert grid == [c.start for c in expected]

    verdicts = explain_candidates(query)
    assert [minute_of(v.start_at) for v in verdicts] == grid
    for verdict, want in zip(verdicts, expected, strict=True):
        assert as_oracle(verdict.reasons) == want.reasons, instant_of(want.start)
        assert verdict.offered == want.offered

    slots = find_free_slots(query)
    offered = [c for c in expected if c.offered]
    assert [minute_of(s.start_at) for s in slots] == [c.start for c in offered]
    duration = timedelta(minutes=oracle.duration)
    for slot, want in zip(slots, offered, strict=True):
        assert slot.end_at - slot.start_at == duration
        assert slot.chair_ids == want.chairs
        assert slot.provider_ids == want.providers
        assert slot.chair_id == (want.chairs[0] if want.chairs else None)
        assert slot.provider_id == want.providers[0]

    # Write-time checks: a spread of grid candidates, plus starts off the grid.
    picks = [c.start for c in expected[:: max(1, len(expected) // 5)]]
    picks += [p + 1 for p in picks[:2]]
    chair_options: list[int | None] = [None]
    if query.appointment_type.needs_chair:
        chair_options += [c.id for c in query.chairs]
    for start in picks:
        for provider in query.providers:
            for chair_id in chair_options:
                got = check_candidate(query, instant_of(start), chair_id, provider.id)
                assert as_oracle(got) == oracle.check(start, chair_id, provider.id)


@SETTINGS
@given(queries())
def test_engine_agrees_with_oracle(query: SlotQuery) -> None:
    assert_agrees(query)


@SETTINGS
@given(queries(dst_only=True))
def test_engine_agrees_with_oracle_around_dst_changes(query: SlotQuery) -> None:
    assert_agrees(query)


@SETTINGS
@given(queries())
def test_check_candidate_matches_offered_combinations(query: SlotQuery) -> None:
    """A start/chair/provider passes the write check iff find_free_slots offers it."""
    slots = {s.start_at: s for s in find_free_slots(query)}
    chair_options: list[int | None] = [None]
    if query.appointment_type.needs_chair:
        chair_options += [c.id for c in query.chairs]
    starts = grid_starts(
        query.tz, query.appointment_type.step_minutes, query.window_start_at, query.window_end_at
    )
    for start in starts[:: max(1, len(starts) // 8)]:
        slot = slots.get(start)
        for provider in query.providers:
            for chair_id in chair_options:
                passes = check_candidate(query, start, chair_id, provider.id) == ()
                offered = (
                    slot is not None
                    and provider.id in slot.provider_ids
                    and (chair_id is None or chair_id in slot.chair_ids)
                )
                assert passes == offered


@SETTINGS
@given(queries())
def test_ranked_checks_are_the_searchs_ranking_with_each_providers_check(
    query: SlotQuery,
) -> None:
    """What a booking asks the engine in one call (ranked_checks): every provider once, each
    with the reasons check_candidate gives with any chair, and those without reasons in the
    order find_free_slots offers them (so a booking naming no provider takes the offered
    one), on the grid or off it."""
    slots = {s.start_at: s for s in find_free_slots(query)}
    starts = grid_starts(
        query.tz, query.appointment_type.step_minutes, query.window_start_at, query.window_end_at
    )
    picks = starts[:: max(1, len(starts) // 6)]
    picks += [s + timedelta(minutes=1) for s in picks[:2]]
    for start in picks:
        checks = ranked_checks(query, start)
        assert sorted(pid for pid, _ in checks) == sorted(p.id for p in query.providers)
        for pid, reasons in checks:
            assert reasons == check_candidate(query, start, None, pid)
        passing = tuple(pid for pid, reasons in checks if not reasons)
        slot = slots.get(start)
        assert passing == (slot.provider_ids if slot is not None else ())
