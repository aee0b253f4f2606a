"""Readable examples of the availability rules (DST, capacity, chairs, reasons, choice)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from scheduler.availability.engine import (
    ChairSpec,
    Commitment,
    Interval,
    Phase,
    ProviderSpec,
    Reason,
    Slot,
    SlotQuery,
    TypeSpec,
    WeeklyRule,
    check_candidate,
    explain_candidates,
    find_free_slots,
    grid_starts,
    local_instant,
)

NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
PHOENIX = ZoneInfo("America/Phoenix")
KOLKATA = ZoneInfo("Asia/Kolkata")

# IV placement (hands-on), infusion (monitored), recovery (watched by other staff).
INFUSION = (
    Phase(15, uses_chair=True, provider_use="hands_on"),
    Phase(40, uses_chair=True, provider_use="monitor"),
    Phase(45, uses_chair=True, provider_use="none"),
)
CONSULT = (Phase(30, uses_chair=False, provider_use="exclusive"),)
ALL_WEEK = range(7)


def at(tz: ZoneInfo, day: date, hour: int, minute: int = 0, fold: int = 0) -> datetime:
    """An aware local datetime (fold=1 picks the second occurrence of an ambiguous time)."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz, fold=fold)


def rules(
    start: time, end: time, weekdays: range | tuple[int, ...] = ALL_WEEK
) -> tuple[WeeklyRule, ...]:
    return tuple(WeeklyRule(wd, start, end) for wd in weekdays)


def provider(
    pid: int = 1,
    *,
    capacity: int = 3,
    stagger: int = 0,
    weekly: tuple[WeeklyRule, ...] = rules(time(8), time(17)),
    extra: tuple[Interval, ...] = (),
    unavailable: tuple[Interval, ...] = (),
) -> ProviderSpec:
    return ProviderSpec(pid, capacity, stagger, weekly, extra, unavailable)


def query(
    tz: ZoneInfo,
    window: tuple[datetime, datetime],
    *,
    phases: tuple[Phase, ...] = CONSULT,
    turnover: int = 0,
    step: int = 30,
    notice: int = 0,
    days_ahead: int = 730,
    chairs: tuple[ChairSpec, ...] = (ChairSpec(1, 1),),
    providers: tuple[ProviderSpec, ...] | None = None,
    opening_hours: tuple[tuple[int, time, time], ...] | None = None,
    closures: tuple[Interval, ...] = (),
    commitments: tuple[Commitment, ...] = (),
    now: datetime | None = None,
) -> SlotQuery:
    return SlotQuery(
        tz=tz,
        opening_hours=opening_hours,
        closures=closures,
        chairs=chairs,
        providers=(provider(),) if providers is None else providers,
        appointment_type=TypeSpec(phases, turnover, step, notice, days_ahead),
        commitments=commitments,
        window_start_at=window[0],
        window_end_at=window[1],
        now=now or datetime(2024, 12, 1, tzinfo=UTC),
    )


def local_days(tz: ZoneInfo, first: date, days: int) -> tuple[datetime, datetime]:
    return at(tz, first, 0), at(tz, first + timedelta(days=days), 0)


def local_starts(slots: list[Slot], tz: ZoneInfo) -> list[str]:
    """Starts as local wall time with offset, e.g. '08:00-05:00'."""
    return [s.start_at.astimezone(tz).strftime("%H:%M%z") for s in slots]


def booked(
    start: datetime,
    phases: tuple[Phase, ...] = INFUSION,
    *,
    chair: int | None = None,
    provider_id: int | None = 1,
    turnover: int = 0,
) -> Commitment:
    return Commitment(start, phases, turnover, chair, provider_id)


def verdicts(q: SlotQuery, tz: ZoneInfo) -> dict[str, tuple[Reason, ...]]:
    return {v.start_at.astimezone(tz).strftime("%H:%M"): v.reasons for v in explain_candidates(q)}


# -- DST: weekly hours keep their local times ----------------------------------------------


@pytest.mark.parametrize(
    ("tz", "change_date"),
    [
        pytest.param(NEW_YORK, date(2025, 3, 9), id="spring_forward_gap"),
        pytest.param(NEW_YORK, date(2025, 11, 2), id="fall_back_fold"),
        pytest.param(SYDNEY, date(2025, 4, 6), id="sydney_april_fall_back"),
        pytest.param(SYDNEY, date(2025, 10, 5), id="sydney_october_spring_forward"),
        pytest.param(PHOENIX, date(2025, 3, 9), id="phoenix_no_dst"),
        pytest.param(KOLKATA, date(2025, 3, 9), id="kolkata_half_hour_offset"),
    ],
)
def test_weekly_hours_keep_local_times_across_a_change(tz: ZoneInfo, change_date: date) -> None:
    q = query(tz, local_days(tz, change_date - timedelta(days=1), 3))
    by_date: dict[date, list[str]] = defaultdict(list)
    offsets: set[timedelta | None] = set()
    for slot in find_free_slots(q):
        local = slot.start_at.astimezone(tz)
        by_date[local.date()].append(local.strftime("%H:%M"))
        offsets.add(local.utcoffset())
    expected = [f"{h:02d}:{m:02d}" for h in range(8, 17) for m in (0, 30)]
    assert sorted(by_date) == [change_date + timedelta(days=k) for k in (-1, 0, 1)]
    for day_starts in by_date.values():
        assert day_starts == expected  # 08:00 .. 16:30 local every day
    changes = tz.key in {"America/New_York", "Australia/Sydney"}
    assert len(offsets) == (2 if changes else 1)


def test_spring_forward_gap_rule_start_moves_forward_by_the_gap() -> None:
    """A 02:00-05:00 rule on the spring-forward date starts at 03:00 EDT (2 real hours)."""
    day = date(2025, 3, 9)
    q = query(
        NEW_YORK,
        local_days(NEW_YORK, day, 1),
        providers=(provider(weekly=rules(time(2), time(5))),),
    )
    assert local_starts(find_free_slots(q), NEW_YORK) == [
        "03:00-0400",
        "03:30-0400",
        "04:00-0400",
        "04:30-0400",
    ]
    # The same rule a week later is three hours long.
    q_later = query(
        NEW_YORK,
        local_days(NEW_YORK, day + timedelta(days=7), 1),
        providers=(provider(weekly=rules(time(2), time(5))),),
    )
    assert len(find_free_slots(q_later)) == 6


def test_spring_forward_gap_times_are_not_candidates_and_a_rule_inside_the_gap_is_empty() -> None:
    day = date(2025, 3, 9)
    starts = grid_starts(NEW_YORK, 30, at(NEW_YORK, day, 1), at(NEW_YORK, day, 4))
    assert [s.astimezone(NEW_YORK).strftime("%H:%M") for s in starts] == [
        "01:00",
        "01:30",
        "03:00",
        "03:30",
    ]
    # 02:30-03:00 does not exist: 02:30 means 03:30 EDT, which is after 03:00, so no hours.
    q = query(
        NEW_YORK,
        local_days(NEW_YORK, day, 1),
        providers=(provider(weekly=rules(time(2, 30), time(3))),),
    )
    assert find_free_slots(q) == []
    assert local_instant(day, time(2, 30), NEW_YORK) == datetime(2025, 3, 9, 7, 30, tzinfo=UTC)


def test_fall_back_fold_offers_both_occurrences() -> None:
    """00:00-03:00 on the fall-back date is four real hours; 01:00 and 01:30 come twice."""
    day = date(2025, 11, 2)
    q = query(
        NEW_YORK,
        local_days(NEW_YORK, day, 1),
        providers=(provider(weekly=rules(time(0), time(3))),),
    )
    assert local_starts(find_free_slots(q), NEW_YORK) == [
        "00:00-0400", "00:30-0400", "01:00-0400", "01:30-0400",
        "01:00-0500", "01:30-0500", "02:00-0500", "02:30-0500",
    ]  # fmt: skip


def test_fall_back_fold_rule_starting_in_the_fold_means_the_first_occurrence() -> None:
    day = date(2025, 11, 2)
    q = query(
        NEW_YORK,
        local_days(NEW_YORK, day, 1),
        providers=(provider(weekly=rules(time(1), time(2))),),
    )
    # 01:00 EDT .. 02:00 EST is two real hours.
    assert local_starts(find_free_slots(q), NEW_YORK) == [
        "01:00-0400",
        "01:30-0400",
        "01:00-0500",
        "01:30-0500",
    ]
    assert local_instant(day, time(1, 30), NEW_YORK) == datetime(2025, 11, 2, 5, 30, tzinfo=UTC)


def test_sydney_april_fall_back_grid_has_25_hourly_candidates() -> None:
    day = date(2025, 4, 6)
    starts = grid_starts(SYDNEY, 60, *local_days(SYDNEY, day, 1))
    readings = [s.astimezone(SYDNEY).strftime("%H:%M%z") for s in starts]
    assert len(readings) == 25
    assert readings[1:5] == ["01:00+1100", "02:00+1100", "02:00+1000", "03:00+1000"]


def test_kolkata_grid_follows_local_quarter_hours() -> None:
    starts = grid_starts(
        KOLKATA, 15, datetime(2025, 1, 6, 3, 0, tzinfo=UTC), datetime(2025, 1, 6, 4, 0, tzinfo=UTC)
    )
    assert [s.strftime("%H:%M") for s in starts] == ["03:00", "03:15", "03:30", "03:45"]
    starts = grid_starts(
        KOLKATA, 60, datetime(2025, 1, 6, 3, 0, tzinfo=UTC), datetime(2025, 1, 6, 5, 0, tzinfo=UTC)
    )
    assert [s.astimezone(KOLKATA).strftime("%H:%M") for s in starts] == ["09:00", "10:00"]


def test_grid_restarts_at_local_midnight_for_a_step_that_does_not_divide_a_day() -> None:
    day = date(2025, 1, 6)
    starts = grid_starts(PHOENIX, 45, at(PHOENIX, day, 22), at(PHOENIX, day + timedelta(days=1), 1))
    assert [s.astimezone(PHOENIX).strftime("%H:%M") for s in starts] == [
        "22:30",
        "23:15",
        "00:00",
        "00:45",
    ]


def test_rule_ending_at_midnight_runs_to_the_end_of_the_date() -> None:
    day = date(2025, 1, 6)
    q = query(
        PHOENIX,
        local_days(PHOENIX, day, 2),
        providers=(provider(weekly=rules(time(22), time(0), (day.weekday(),))),),
    )
    assert local_starts(find_free_slots(q), PHOENIX) == [
        "22:00-0700",
        "22:30-0700",
        "23:00-0700",
        "23:30-0700",
    ]


# -- Provider capacity ------------------------------------------------------------------------

DAY = date(2025, 1, 8)  # a Wednesday, no DST nearby


def nyc(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return at(NEW_YORK, day, hour, minute)


def day_window(first: int = 7, last: int = 17) -> tuple[datetime, datetime]:
    return nyc(first), nyc(last)


FIVE_CHAIRS = tuple(ChairSpec(i, i) for i in range(1, 6))


def test_nurse_with_three_patients_refuses_a_fourth_overlapping_one() -> None:
    existing = tuple(booked(nyc(8, m)) for m in (0, 15, 30))  # staggered, no chair
    q = query(
        NEW_YORK,
        day_window(),
        phases=INFUSION,
        step=15,
        chairs=FIVE_CHAIRS,
        providers=(provider(weekly=rules(time(7), time(17))),),
        commitments=existing,
    )
    reasons = verdicts(q, NEW_YORK)
    # At 08:45 three patients are monitored: a fourth IV start would need a 4th unit.
    assert reasons["08:45"] == (
        Reason("no_provider"),
        Reason("provider_at_capacity", 1),
    )
    # By 09:00 the first patient has moved to recovery (none), so a unit is free again.
    assert reasons["09:00"] == ()


def test_hands_on_phases_force_staggered_starts() -> None:
    q = query(
        NEW_YORK,
        (nyc(7, 30), nyc(8, 30)),
        phases=INFUSION,
        step=5,
        chairs=FIVE_CHAIRS,
        providers=(provider(weekly=rules(time(7), time(17))),),
        commitments=(booked(nyc(8)),),
    )
    # IV placement 08:00-08:15 is taken; a new one may end at 08:00 or start at 08:15.
    assert local_starts(find_free_slots(q), NEW_YORK) == [
        "07:30-0500", "07:35-0500", "07:40-0500", "07:45-0500",
        "08:15-0500", "08:20-0500", "08:25-0500",
    ]  # fmt: skip


def test_min_minutes_between_starts() -> None:
    q = query(
        NEW_YORK,
        (nyc(9), nyc(10)),
        phases=CONSULT,
        step=5,
        providers=(provider(capacity=3, stagger=20, weekly=rules(time(7), time(17))),),
        commitments=(booked(nyc(9, 30), (Phase(10, False, "none"),)),),
    )
    starts = local_starts(find_free_slots(q), NEW_YORK)
    assert "09:10-0500" in starts
    assert "09:50-0500" in starts
    assert not {"09:15-0500", "09:30-0500", "09:45-0500"} & set(starts)
    assert verdicts(q, NEW_YORK)["09:45"] == (Reason("no_provider"), Reason("start_too_close", 1))


def test_exclusive_consultation_blocks_monitoring_but_not_recovery() -> None:
    consult = booked(nyc(10), CONSULT)
    q = query(
        NEW_YORK,
        (nyc(8, 45), nyc(9, 30)),
        phases=INFUSION,
        step=15,
        chairs=FIVE_CHAIRS,
        commitments=(consult,),
    )
    reasons = verdicts(q, NEW_YORK)
    assert reasons["08:45"] == ()  # recovery (none) 09:40-10:25 may overlap the consultation
    assert reasons["09:00"] == ()  # monitor ends 09:55
    assert reasons["09:15"] == (Reason("no_provider"), Reason("provider_at_capacity", 1))


def test_consultation_needs_the_provider_exclusively() -> None:
    infusion = booked(nyc(9))  # hands-on 9:00-9:15, monitor 9:15-9:55, recovery 9:55-10:40
    q = query(NEW_YORK, (nyc(8), nyc(11)), phases=CONSULT, step=15, commitments=(infusion,))
    starts = local_starts(find_free_slots(q), NEW_YORK)
    assert starts == [
        "08:00-0500",
        "08:15-0500",
        "08:30-0500",
        "10:00-0500",
        "10:15-0500",
        "10:30-0500",
        "10:45-0500",
    ]


def test_provider_commitments_at_another_location_count() -> None:
    elsewhere = booked(nyc(9), CONSULT, chair=None, provider_id=1)
    other_chair = booked(nyc(10), INFUSION, chair=77, provider_id=None)  # chair elsewhere
    q = query(
        NEW_YORK,
        (nyc(9), nyc(10, 30)),
        phases=CONSULT,
        step=30,
        commitments=(elsewhere, other_chair),
    )
    assert local_starts(find_free_slots(q), NEW_YORK) == ["09:30-0500", "10:00-0500"]


# -- Chairs -----------------------------------------------------------------------------------


def test_turnover_buffer_keeps_the_chair_busy_after_the_patient_leaves() -> None:
    earlier = booked(nyc(9), chair=1, provider_id=None, turnover=15)  # chair busy 09:00-10:55
    q = query(
        NEW_YORK,
        (nyc(7), nyc(12)),
        phases=INFUSION,
        turnover=15,
        step=5,
        commitments=(earlier,),
        providers=(provider(weekly=rules(time(6), time(17))),),
    )
    starts = set(local_starts(find_free_slots(q), NEW_YORK))
    assert "07:05-0500" in starts  # busy 07:05-09:00 (incl. its own turnover) just fits
    assert "07:10-0500" not in starts
    assert "10:50-0500" not in starts
    assert "10:55-0500" in starts
    assert verdicts(q, NEW_YORK)["10:50"] == (Reason("no_chair_free"),)


def test_chair_busy_spans_only_the_chair_phases() -> None:
    # Consultation first (no chair), then the chair for the infusion.
    phases = (Phase(30, False, "exclusive"), Phase(60, True, "monitor"))
    q = query(
        NEW_YORK,
        (nyc(8), nyc(12)),
        phases=phases,
        step=30,
        chairs=(ChairSpec(1, 1),),
        commitments=(booked(nyc(10), INFUSION, chair=1, provider_id=None),),
    )
    # Chair busy 10:00-11:40; the new chair span is [s+30, s+90).
    assert local_starts(find_free_slots(q), NEW_YORK) == ["08:00-0500", "08:30-0500", "11:30-0500"]


def test_type_without_chair_phases_needs_no_chair() -> None:
    q = query(NEW_YORK, (nyc(9), nyc(10)), chairs=())
    slots = find_free_slots(q)
    assert [s.chair_id for s in slots] == [None, None]
    assert all(s.chair_ids == () for s in slots)


# -- Notice, horizon, location --------------------------------------------------------------


def test_min_notice() -> None:
    q = query(NEW_YORK, day_window(), notice=120, now=nyc(8, 10))
    starts = local_starts(find_free_slots(q), NEW_YORK)
    assert starts[0] == "10:30-0500"  # now + 2h = 10:10
    assert verdicts(q, NEW_YORK)["10:00"] == (Reason("min_notice"),)


def test_horizon_counts_24_hour_days_from_now() -> None:
    window = (nyc(8), nyc(17, 0, DAY + timedelta(days=1)))
    q = query(NEW_YORK, window, days_ahead=1, now=nyc(9, 7))
    slots = find_free_slots(q)
    assert slots[-1].start_at == nyc(9, 0, DAY + timedelta(days=1))
    late = [v for v in explain_candidates(q) if v.start_at == nyc(9, 30, DAY + timedelta(days=1))]
    assert late[0].reasons == (Reason("beyond_horizon"),)


def test_opening_hours_and_closures() -> None:
    hours = tuple((wd, time(9), time(13)) for wd in ALL_WEEK)
    lunch_closure = Interval(nyc(11), nyc(12))
    q = query(NEW_YORK, day_window(), opening_hours=hours, closures=(lunch_closure,))
    assert local_starts(find_free_slots(q), NEW_YORK) == [
        "09:00-0500",
        "09:30-0500",
        "10:00-0500",
        "10:30-0500",
        "12:00-0500",
        "12:30-0500",
    ]
    assert verdicts(q, NEW_YORK)["11:30"] == (Reason("location_closed"),)


def test_opening_hours_empty_means_always_closed() -> None:
    q = query(NEW_YORK, day_window(), opening_hours=())
    assert find_free_slots(q) == []


def test_extra_and_unavailable_exceptions() -> None:
    saturday = date(2025, 1, 11)
    extra = Interval(nyc(9, 0, saturday), nyc(12, 0, saturday))
    away = Interval(nyc(10, 0, saturday), nyc(11, 0, saturday))
    q = query(
        NEW_YORK,
        (nyc(0, 0, saturday), nyc(23, 0, saturday)),
        providers=(
            provider(
                weekly=rules(time(8), time(17), (0, 1, 2, 3, 4)),
                extra=(extra,),
                unavailable=(away,),
            ),
        ),
    )
    assert local_starts(find_free_slots(q), NEW_YORK) == [
        "09:00-0500",
        "09:30-0500",
        "11:00-0500",
        "11:30-0500",
    ]
    assert verdicts(q, NEW_YORK)["10:00"] == (
        Reason("no_provider"),
        Reason("outside_provider_hours", 1),
    )


def test_rule_validity_dates_are_inclusive() -> None:
    wd = DAY.weekday()
    weekly = (WeeklyRule(wd, time(9), time(10), valid_from_date=DAY, valid_until_date=DAY),)
    q = query(
        NEW_YORK,
        (nyc(0, 0, DAY - timedelta(days=7)), nyc(0, 0, DAY + timedelta(days=8))),
        providers=(provider(weekly=weekly),),
    )
    assert [s.start_at for s in find_free_slots(q)] == [nyc(9), nyc(9, 30)]


def test_adjacent_rules_join_into_one_availability() -> None:
    weekly = rules(time(9), time(10)) + rules(time(10), time(11))
    q = query(
        NEW_YORK,
        (nyc(9), nyc(11)),
        phases=(Phase(90, False, "monitor"),),
        providers=(provider(weekly=weekly),),
    )
    assert local_starts(find_free_slots(q), NEW_YORK) == ["09:00-0500", "09:30-0500"]


# -- Deterministic choice ---------------------------------------------------------------------


def test_chair_choice_packs_tightly_then_position_then_id() -> None:
    chairs = (ChairSpec(1, 5), ChairSpec(2, 1), ChairSpec(3, 1), ChairSpec(4, 0), ChairSpec(5, 9))
    chair_only = (Phase(30, True, "none"),)
    commitments = (
        booked(nyc(8), chair_only, chair=1, provider_id=None),  # ends 08:30 (gap 90)
        booked(nyc(9), chair_only, chair=2, provider_id=None),  # ends 09:30 (gap 30)
        booked(nyc(9), chair_only, chair=3, provider_id=None),  # ends 09:30 (gap 30)
        booked(nyc(12), chair_only, chair=5, provider_id=None),  # only later intervals
    )
    q = query(
        NEW_YORK, (nyc(10), nyc(10, 1)), phases=chair_only, chairs=chairs, commitments=commitments
    )
    (slot,) = find_free_slots(q)
    assert slot.chair_ids == (2, 3, 1, 4, 5)
    assert slot.chair_id == 2


def test_provider_choice_prefers_the_fewest_starts_that_local_date_then_lowest_id() -> None:
    consult = (Phase(15, False, "monitor"),)
    yesterday = DAY - timedelta(days=1)
    commitments = (
        booked(nyc(7), consult, provider_id=1),
        booked(nyc(8), consult, provider_id=1),
        booked(nyc(7), consult, provider_id=2),
        booked(nyc(7), consult, provider_id=3),
        booked(nyc(9, 0, yesterday), consult, provider_id=2),  # another date: not counted
        booked(nyc(23, 30), consult, provider_id=3),  # later the same local date: counted
    )
    q = query(
        NEW_YORK,
        (nyc(10), nyc(10, 1)),
        commitments=commitments,
        providers=(provider(1), provider(2), provider(3)),
    )
    (slot,) = find_free_slots(q)
    assert slot.provider_ids == (2, 1, 3)  # 1 and 3 both have two starts: lower id first
    assert slot.provider_id == 2


def test_provider_choice_counts_the_whole_local_date() -> None:
    short = (Phase(15, False, "monitor"),)
    late = (nyc(22), nyc(22, 1))
    commitments = (
        booked(nyc(6), short, provider_id=1),  # 16 hours before the slot, same local date
        booked(nyc(7), short, provider_id=1),
        booked(nyc(21), short, provider_id=2),
        booked(nyc(0, 30, DAY + timedelta(days=1)), short, provider_id=2),  # next local date
        booked(nyc(0, 30, DAY + timedelta(days=1)), short, provider_id=2),
    )
    always = rules(time(0), time(0))
    q = query(
        NEW_YORK,
        late,
        commitments=commitments,
        providers=(provider(1, weekly=always), provider(2, weekly=always)),
    )
    (slot,) = find_free_slots(q)
    assert slot.provider_ids == (2, 1)


# -- Reasons and write-time checks ---------------------------------------------------------


def test_explain_lists_every_failing_rule_and_each_providers_reasons() -> None:
    chair = ChairSpec(1, 1)
    commitments = (
        booked(nyc(9), INFUSION, chair=1, provider_id=1),  # chair busy 09:00-10:40
        booked(nyc(9), CONSULT, chair=None, provider_id=2),
    )
    q = query(
        NEW_YORK,
        (nyc(8, 0), nyc(10, 0)),
        phases=INFUSION,
        step=30,
        chairs=(chair,),
        providers=(
            provider(1, capacity=1, stagger=60),
            provider(2, weekly=rules(time(9), time(17))),
        ),
        opening_hours=tuple((wd, time(8, 30), time(17)) for wd in ALL_WEEK),
        commitments=commitments,
        notice=45,
        now=nyc(7, 30),
    )
    reasons = verdicts(q, NEW_YORK)
    # Provider 1 could take 08:00 (its next start is exactly 60 minutes later).
    assert reasons["08:00"] == (
        Reason("min_notice"),
        Reason("location_closed"),
        Reason("no_chair_free"),
    )
    assert reasons["08:30"] == (
        Reason("no_chair_free"),
        Reason("no_provider"),
        Reason("provider_at_capacity", 1),
        Reason("start_too_close", 1),
        Reason("outside_provider_hours", 2),
        Reason("provider_at_capacity", 2),
    )
    # Provider 2's consultation is over by 09:30, but the chair is still busy.
    assert reasons["09:30"] == (Reason("no_chair_free"),)
    q_far = query(NEW_YORK, (nyc(8), nyc(8, 1)), days_ahead=0, now=nyc(7))
    assert explain_candidates(q_far)[0].reasons == (Reason("beyond_horizon"),)
    q_nobody = query(NEW_YORK, (nyc(8), nyc(8, 1)), providers=())
    assert explain_candidates(q_nobody)[0].reasons == (Reason("no_provider"),)


def _busy_clinic() -> SlotQuery:
    chairs = (ChairSpec(1, 1), ChairSpec(2, 2))
    providers = (provider(1, capacity=2, stagger=15), provider(2, capacity=1))
    commitments = (
        booked(nyc(8), chair=1, provider_id=1, turnover=10),
        booked(nyc(8, 30), chair=2, provider_id=1, turnover=10),
        booked(nyc(9), chair=None, provider_id=2, phases=CONSULT),
        booked(nyc(11), chair=1, provider_id=2, turnover=10),
    )
    return query(
        NEW_YORK,
        day_window(),
        phases=INFUSION,
        turnover=10,
        step=15,
        chairs=chairs,
        providers=providers,
        commitments=commitments,
        notice=60,
        now=nyc(7),
    )


def test_check_candidate_agrees_with_find_free_slots() -> None:
    q = _busy_clinic()
    slots = {s.start_at: s for s in find_free_slots(q)}
    assert slots  # something is offered
    for start in grid_starts(NEW_YORK, 15, q.window_start_at, q.window_end_at):
        for p in q.providers:
            for chair_id in (None, 1, 2):
                ok = check_candidate(q, start, chair_id, p.id) == ()
                slot = slots.get(start)
                offered = (
                    slot is not None
                    and p.id in slot.provider_ids
                    and (chair_id is None or chair_id in slot.chair_ids)
                )
                assert ok == offered, (start, chair_id, p.id)


def test_check_candidate_names_the_failing_rules() -> None:
    q = _busy_clinic()
    assert check_candidate(q, nyc(7, 52), None, 1) == (
        Reason("off_grid"), Reason("min_notice"), Reason("no_chair_free"),
        Reason("outside_provider_hours", 1), Reason("provider_at_capacity", 1),
        Reason("start_too_close", 1),
    )  # fmt: skip
    assert check_candidate(q, nyc(12, 30), 1, 2) == (Reason("no_chair_free"),)  # busy to 12:50
    assert check_candidate(q, nyc(12, 30), 2, 2) == ()
    assert check_candidate(q, nyc(18), 2, 2) == (
        Reason("outside_provider_hours", 2),
    )  # outside the query window is fine; outside the provider's hours is not
    with pytest.raises(ValueError, match="provider 9"):
        check_candidate(q, nyc(9, 45), None, 9)
    with pytest.raises(ValueError, match="chair 9"):
        check_candidate(q, nyc(9, 45), 9, 1)
