"""Small pieces of the engine: occupancy, record validation, interval and zone helpers."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from scheduler.availability.engine import (
    ChairSpec,
    Commitment,
    Interval,
    Phase,
    ProviderSpec,
    SlotQuery,
    TypeSpec,
    WeeklyRule,
    find_free_slots,
    occupancy,
)
from scheduler.availability.engine_time import (
    US_PER_HOUR,
    US_PER_MINUTE,
    LocalClock,
    from_us,
    merge,
    offset_spans,
    over_threshold,
    starts_inside,
    subtract,
    to_us,
)

T0 = datetime(2025, 1, 8, 14, 0, tzinfo=UTC)
INFUSION = (
    Phase(15, True, "hands_on"),
    Phase(40, True, "monitor"),
    Phase(45, True, "none"),
)


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


# -- occupancy --------------------------------------------------------------------------------


def test_occupancy_of_an_infusion() -> None:
    occ = occupancy(T0, INFUSION, turnover_minutes=10)
    assert occ.chair_busy == Interval(T0, T0 + minutes(110))
    assert occ.provider_loads == (
        (Interval(T0, T0 + minutes(15)), "hands_on"),
        (Interval(T0 + minutes(15), T0 + minutes(55)), "monitor"),
        (Interval(T0 + minutes(55), T0 + minutes(100)), "none"),
    )
    assert occ.end_at == T0 + minutes(100)
    chair_busy, loads, end_at = occ  # a plain tuple for callers that unpack
    assert (chair_busy, loads, end_at) == (occ.chair_busy, occ.provider_loads, occ.end_at)


def test_occupancy_chair_spans_first_to_last_chair_phase_plus_turnover() -> None:
    phases = (Phase(10, False, "exclusive"), Phase(30, True, "monitor"), Phase(5, False, "none"))
    occ = occupancy(T0, phases, turnover_minutes=15)
    assert occ.chair_busy == Interval(T0 + minutes(10), T0 + minutes(55))
    assert occupancy(T0, (Phase(30, False, "exclusive"),), 15).chair_busy is None


def test_occupancy_is_in_utc_even_for_a_local_start_across_dst() -> None:
    ny = ZoneInfo("America/New_York")
    start = datetime(2025, 3, 9, 1, 30, tzinfo=ny)  # 30 minutes before the gap
    occ = occupancy(start, (Phase(60, True, "monitor"),), 0)
    assert occ.end_at == datetime(2025, 3, 9, 7, 30, tzinfo=UTC)  # 03:30 EDT, one real hour
    assert occ.end_at.astimezone(ny).hour == 3


# -- validation -------------------------------------------------------------------------------


def test_records_refuse_bad_shapes() -> None:
    with pytest.raises(ValueError, match="at least one minute"):
        Phase(0, True, "monitor")
    with pytest.raises(ValueError, match="unknown provider use"):
        Phase(5, True, "sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timezone-aware"):
        Interval(datetime(2025, 1, 1), T0)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="ends before it starts"):
        Interval(T0, T0 - minutes(1))
    with pytest.raises(ValueError, match="must be after start time"):
        WeeklyRule(0, time(17), time(8))
    with pytest.raises(ValueError, match="weekday"):
        WeeklyRule(7, time(8), time(17))
    with pytest.raises(ValueError, match="at least one phase"):
        TypeSpec((), 0, 15, 0, 30)
    with pytest.raises(ValueError, match="max_concurrent_patients"):
        ProviderSpec(1, 0, 0, ())
    WeeklyRule(0, time(20), time(0))  # 00:00 = the midnight ending the date: allowed


def test_query_refuses_naive_instants_and_duplicate_ids() -> None:
    kind = TypeSpec(INFUSION, 0, 15, 0, 30)
    base = {
        "tz": ZoneInfo("UTC"),
        "opening_hours": None,
        "closures": (),
        "chairs": (ChairSpec(1, 1),),
        "providers": (),
        "appointment_type": kind,
        "commitments": (),
        "window_start_at": T0,
        "window_end_at": T0,
        "now": T0,
    }
    SlotQuery(**base)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        SlotQuery(**{**base, "now": datetime(2025, 1, 1)})  # type: ignore[arg-type]  # noqa: DTZ001
    with pytest.raises(ValueError, match="chair ids"):
        SlotQuery(**{**base, "chairs": (ChairSpec(1, 1), ChairSpec(1, 2))})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="before window_start_at"):
        SlotQuery(**{**base, "window_end_at": T0 - minutes(1)})  # type: ignore[arg-type]


# -- edge rules through the public API --------------------------------------------------------


def _one_provider_query(
    phases: tuple[Phase, ...], commitments: tuple[Commitment, ...], *, stagger: int = 0
) -> SlotQuery:
    always = tuple(WeeklyRule(wd, time(0), time(0)) for wd in range(7))
    return SlotQuery(
        tz=ZoneInfo("UTC"),
        opening_hours=None,
        closures=(),
        chairs=(),
        providers=(ProviderSpec(1, 1, stagger, always),),
        appointment_type=TypeSpec(phases, 0, 15, 0, 30),
        commitments=commitments,
        window_start_at=T0,
        window_end_at=T0 + minutes(60),
        now=T0,
    )


def test_a_phase_without_provider_load_never_conflicts_even_with_an_overbooked_provider() -> None:
    overbooked = tuple(Commitment(T0, (Phase(60, False, "monitor"),), 0, None, 1) for _ in "ab")
    chair_only = (Phase(30, False, "none"),)
    q = _one_provider_query(chair_only, overbooked)
    assert [s.start_at for s in find_free_slots(q)] == [T0 + minutes(m) for m in (0, 15, 30, 45)]
    q = _one_provider_query((Phase(30, False, "monitor"),), overbooked)
    assert find_free_slots(q) == []


def test_a_commitment_without_provider_load_still_counts_for_the_stagger() -> None:
    recovery_only = Commitment(T0 + minutes(30), (Phase(60, False, "none"),), 0, None, 1)
    q = _one_provider_query((Phase(15, False, "monitor"),), (recovery_only,), stagger=30)
    assert [s.start_at for s in find_free_slots(q)] == [T0]


def test_a_commitment_naming_a_chair_but_without_chair_phases_occupies_no_chair() -> None:
    consult_with_chair = Commitment(T0, (Phase(60, False, "none"),), 0, 1, None)
    q = SlotQuery(
        tz=ZoneInfo("UTC"),
        opening_hours=None,
        closures=(),
        chairs=(ChairSpec(1, 1),),
        providers=(
            ProviderSpec(1, 3, 0, tuple(WeeklyRule(wd, time(0), time(0)) for wd in range(7))),
        ),
        appointment_type=TypeSpec((Phase(30, True, "none"),), 0, 30, 0, 30),
        commitments=(consult_with_chair,),
        window_start_at=T0,
        window_end_at=T0 + minutes(60),
        now=T0,
    )
    assert [s.chair_id for s in find_free_slots(q)] == [1, 1]


# -- interval and zone helpers ----------------------------------------------------------------


def test_merge_joins_overlapping_and_touching_spans_and_drops_empty_ones() -> None:
    assert merge([(5, 7), (1, 3), (3, 4), (6, 9), (10, 10), (11, 12)]) == [(1, 4), (5, 9), (11, 12)]


@pytest.mark.parametrize(
    ("base", "cut", "expected"),
    [
        pytest.param([(0, 10)], [(2, 3), (5, 7)], [(0, 2), (3, 5), (7, 10)], id="holes"),
        pytest.param([(0, 10)], [(-5, 0), (10, 12)], [(0, 10)], id="touching_only"),
        pytest.param([(0, 10), (20, 30)], [(5, 25)], [(0, 5), (25, 30)], id="across_two"),
        pytest.param([(0, 10)], [(0, 10)], [], id="all"),
        pytest.param([(0, 10)], [], [(0, 10)], id="nothing"),
    ],
)
def test_subtract(
    base: list[tuple[int, int]], cut: list[tuple[int, int]], expected: list[tuple[int, int]]
) -> None:
    assert subtract(base, cut) == expected


def test_starts_inside_keeps_room_for_the_whole_length() -> None:
    # [0, 10) with length 4 admits starts 0..6, i.e. the half-open span [0, 7).
    assert starts_inside([(0, 10), (20, 22)], 4) == [(0, 7)]


def test_over_threshold_handles_simultaneous_events() -> None:
    events = sorted([(0, 1), (10, -1), (5, 1), (10, 1), (15, -1), (20, -1)])
    assert over_threshold(events, 1) == [(5, 15)]
    assert over_threshold(events, 0) == [(0, 20)]


def test_offset_spans_find_the_exact_transition() -> None:
    ny = ZoneInfo("America/New_York")
    lo = to_us(datetime(2025, 3, 8, tzinfo=UTC))
    spans = offset_spans(ny, lo, lo + 48 * US_PER_HOUR)
    assert [(from_us(a), from_us(b), off // US_PER_MINUTE) for a, b, off in spans] == [
        (from_us(lo), datetime(2025, 3, 9, 7, tzinfo=UTC), -300),
        (datetime(2025, 3, 9, 7, tzinfo=UTC), from_us(lo + 48 * US_PER_HOUR), -240),
    ]


def _offset_at(zone: ZoneInfo, instant: int) -> int:
    offset = datetime.fromtimestamp(instant // 1_000_000, zone).utcoffset()
    assert offset is not None
    return offset // timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("zone", "first", "last"),
    [
        pytest.param(
            "America/Denver",
            datetime(2026, 1, 1, 3, 17, tzinfo=UTC),
            datetime(2027, 1, 2, tzinfo=UTC),
            id="us",
        ),
        pytest.param(
            "Europe/London",
            datetime(2025, 3, 30, 1, tzinfo=UTC),
            datetime(2025, 11, 1, tzinfo=UTC),
            id="eu_1utc",
        ),
        pytest.param(
            "Australia/Lord_Howe",
            datetime(2025, 1, 1, tzinfo=UTC),
            datetime(2026, 1, 1, tzinfo=UTC),
            id="half_hour",
        ),
        pytest.param(
            "Pacific/Apia",
            datetime(2011, 12, 1, tzinfo=UTC),
            datetime(2012, 1, 5, tzinfo=UTC),
            id="lost_day",
        ),
        pytest.param(
            "Africa/Casablanca",
            datetime(2024, 1, 1, tzinfo=UTC),
            datetime(2025, 1, 1, tzinfo=UTC),
            id="ramadan_pair",
        ),
        pytest.param(
            "Asia/Gaza",
            datetime(2025, 4, 1, tzinfo=UTC),
            datetime(2025, 4, 20, tzinfo=UTC),
            id="change_at_utc_midnight",
        ),
        pytest.param(
            "Africa/Cairo",
            datetime(2025, 4, 20, tzinfo=UTC),
            datetime(2025, 4, 28, 5, tzinfo=UTC),
            id="change_late_in_the_utc_day",
        ),
        pytest.param(
            "UTC",
            datetime(2026, 5, 1, 12, tzinfo=UTC),
            datetime(2026, 5, 1, 13, tzinfo=UTC),
            id="no_changes",
        ),
    ],
)
def test_offset_spans_are_maximal_constant_pieces(
    zone: str, first: datetime, last: datetime
) -> None:
    """Checked against the zone itself every 15 minutes and at each piece's edges."""
    tz = ZoneInfo(zone)
    lo, hi = to_us(first), to_us(last)
    spans = offset_spans(tz, lo, hi)
    assert spans[0][0] == lo
    assert spans[-1][1] == hi
    for (_, end, offset), (start, _, following) in pairwise(spans):
        assert end == start
        assert offset != following  # maximal: a piece ends only where the offset changes
    for start, end, offset in spans:
        assert start < end
        probes = [*range(start, end, 15 * US_PER_MINUTE), end - 1_000_000]
        assert {_offset_at(tz, t) for t in probes} == {offset}, (from_us(start), from_us(end))
    # Starting exactly on a change, and inside a piece, gives the same pieces from there on.
    if len(spans) > 1:
        change = spans[1][0]
        assert offset_spans(tz, change, hi) == spans[1:]


def test_lord_howe_half_hour_dst_grid() -> None:
    """Lord Howe Island moves its clocks by 30 minutes; 02:00-02:30 does not exist."""
    zone = ZoneInfo("Australia/Lord_Howe")
    day = date(2025, 10, 5)
    lo = to_us(datetime(day.year, day.month, day.day, 1, tzinfo=zone))
    hi = to_us(datetime(day.year, day.month, day.day, 4, tzinfo=zone))
    clock = LocalClock(zone, lo - 24 * US_PER_HOUR, hi + 24 * US_PER_HOUR)
    starts, _ = clock.grid(30, lo, hi)
    readings = [from_us(s).astimezone(zone).strftime("%H:%M") for s in starts]
    assert readings == ["01:00", "01:30", "02:30", "03:00", "03:30"]
