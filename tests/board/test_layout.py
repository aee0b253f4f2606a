"""The pure day-board layout: real hours, grid positions, phases, lanes, load and now."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from scheduler.board.layout import (
    Board,
    ChairIn,
    ProviderIn,
    VisitIn,
    day_bounds,
    lay_out_day,
)

DENVER = "America/Denver"
TZ = ZoneInfo(DENVER)
DAY = date(2026, 12, 8)
INFUSION: list[dict[str, Any]] = [
    {"minutes": 15, "uses_chair": True, "provider_use": "hands_on"},
    {"minutes": 40, "uses_chair": True, "provider_use": "monitor"},
    {"minutes": 45, "uses_chair": True, "provider_use": "none"},
]
CONSULT: list[dict[str, Any]] = [{"minutes": 60, "uses_chair": False, "provider_use": "exclusive"}]
CHAIRS = (ChairIn(1, "Chair 1"), ChairIn(2, "Chair 2"))
NURSE = ProviderIn(10, "N. Patel, RN", 2)
DOCTOR = ProviderIn(11, "Dr. Moreno", 3)


def local(day: date, hour: int, minute: int = 0, fold: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ, fold=fold).astimezone(
        UTC
    )


def visit(
    vid: int,
    start: datetime,
    *,
    chair: int | None = 1,
    provider: int = 10,
    status: str = "booked",
    phases: list[dict[str, Any]] | None = None,
    turnover: int = 15,
    hold: bool = False,
    patient: str = "Jordan Blake",
) -> VisitIn:
    phases = (INFUSION if chair is not None else CONSULT) if phases is None else phases
    minutes = sum(p["minutes"] for p in phases)
    return VisitIn(
        id=vid,
        start_at=start,
        end_at=start + timedelta(minutes=minutes),
        phases=phases,
        turnover_minutes=turnover if chair is not None else 0,
        chair_id=chair,
        provider_id=provider,
        status=status,
        type_name="Ketamine infusion" if chair is not None else "Consultation",
        patient_name=patient,
        hold=hold,
    )


def board(
    visits: list[VisitIn],
    *,
    day: date = DAY,
    now: datetime | None = None,
    providers: tuple[ProviderIn, ...] = (NURSE, DOCTOR),
) -> Board:
    return lay_out_day(
        zone=DENVER,
        day=day,
        chairs=CHAIRS,
        providers=providers,
        visits=visits,
        now=now or datetime(2020, 1, 1, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("day", "hours", "labels"),
    [
        pytest.param(DAY, 24, ["00:00", "01:00", "02:00", "03:00"], id="ordinary_day"),
        pytest.param(
            date(2027, 3, 14), 23, ["00:00", "01:00", "03:00", "04:00"], id="spring_forward_gap"
        ),
        pytest.param(
            date(2027, 11, 7), 25, ["00:00", "01:00", "01:00 MST", "02:00"], id="fall_back_fold"
        ),
    ],
)
def test_the_day_has_its_real_hours(day: date, hours: int, labels: list[str]) -> None:
    b = board([], day=day)
    assert b.hours_count == hours
    assert len(b.hours) == hours
    assert len(b.columns) == hours * 4
    assert [h.label for h in b.hours[:4]] == labels
    assert b.hours[-1].label == "23:00"
    # Each hour is 12 five-minute tracks wide and they tile the grid without gaps.
    assert all(h.tracks == 12 for h in b.hours)
    assert [h.track for h in b.hours] == [1 + 12 * i for i in range(hours)]
    assert b.tracks == hours * 12


def test_zone_is_named_with_both_sides_of_a_change() -> None:
    assert board([]).zone_label == "MST, UTC\u22127"
    assert board([], day=date(2027, 3, 14)).zone_label == ("MST, UTC\u22127 \u2192 MDT, UTC\u22126")
    assert board([], day=date(2027, 7, 1)).zone_label == "MDT, UTC\u22126"


@pytest.mark.parametrize(
    ("day", "hour", "fold", "track"),
    [
        pytest.param(date(2027, 3, 14), 9, 0, 1 + 8 * 12, id="spring_forward_gap"),
        pytest.param(date(2027, 11, 7), 9, 0, 1 + 10 * 12, id="fall_back_fold"),
        pytest.param(date(2027, 11, 7), 1, 1, 1 + 2 * 12, id="fall_back_fold_second_one"),
    ],
)
def test_a_visit_sits_at_its_real_time_on_dst_days(
    day: date, hour: int, fold: int, track: int
) -> None:
    b = board([visit(1, local(day, hour, fold=fold))], day=day)
    (block,) = b.chair_rows[0].blocks
    assert block.track == track
    assert block.tracks == (100 + 15) // 5
    assert block.start_label == f"{hour:02d}:00"


def test_block_position_phases_and_text() -> None:
    b = board([visit(7, local(DAY, 8, 15))])
    row = b.chair_rows[0]
    assert row.label == "Chair 1"
    (block,) = row.blocks
    assert block.start_column == 8 * 4 + 1
    assert block.span_columns == pytest.approx(115 / 15)
    assert block.track == 8 * 12 + 3 + 1
    assert (block.start_label, block.end_label) == ("08:15", "09:55")
    assert (block.patient_name, block.type_name, block.provider_name) == (
        "Jordan Blake",
        "Ketamine infusion",
        "N. Patel, RN",
    )
    assert block.status_label == "booked"
    assert [(s.kind, s.track, s.tracks) for s in block.segments] == [
        ("hands-on", 1, 3),
        ("monitored", 4, 8),
        ("recovery", 12, 9),
        ("turnover", 21, 3),
    ]
    assert b.chair_rows[1].blocks == ()


def test_chairless_visits_go_to_their_providers_lane() -> None:
    b = board([visit(3, local(DAY, 11), chair=None, provider=11, patient="Avery Quinn")])
    assert all(r.blocks == () for r in b.chair_rows)
    (lane,) = b.provider_lanes
    assert (lane.id, lane.label) == (11, "Dr. Moreno")
    (block,) = lane.blocks
    assert [s.kind for s in block.segments] == ["consultation"]
    assert block.tracks == 12


def test_holds_are_marked_and_show_no_patient() -> None:
    b = board([visit(4, local(DAY, 10), hold=True, status="", patient="")])
    (block,) = b.chair_rows[0].blocks
    assert block.hold
    assert block.status == "hold"
    assert block.status_label == "hold"
    assert block.patient_name == ""


@pytest.mark.parametrize(
    ("status", "label", "greyed", "struck", "active"),
    [
        ("noshow", "no-show", True, False, False),
        ("cancelled", "cancelled", True, True, False),
        ("checked-in", "in chair", False, False, True),
        ("fulfilled", "done", False, False, True),
        ("pending", "awaiting approval", False, False, True),
    ],
)
def test_status_styling_data(
    status: str, label: str, greyed: bool, struck: bool, active: bool
) -> None:
    (block,) = board([visit(5, local(DAY, 9), status=status)]).chair_rows[0].blocks
    assert (block.status_label, block.greyed, block.struck, block.active) == (
        label,
        greyed,
        struck,
        active,
    )


def test_overlapping_blocks_stack_with_the_active_one_on_top() -> None:
    cancelled = visit(1, local(DAY, 9), status="cancelled")
    replacement = visit(2, local(DAY, 9, 30))
    later = visit(3, local(DAY, 13))
    row = board([cancelled, replacement, later]).chair_rows[0]
    assert row.lanes == 2
    lanes = {b.id: b.lane for b in row.blocks}
    assert lanes == {2: 0, 1: 1, 3: 0}


def test_load_counts_monitored_patients_per_quarter_hour_and_flags_over_capacity() -> None:
    # Nurse capacity 2: three infusions started 15 minutes apart overlap in monitoring.
    visits = [
        visit(1, local(DAY, 9, 0), chair=1),
        visit(2, local(DAY, 9, 15), chair=2),
        visit(3, local(DAY, 9, 30), chair=None, phases=INFUSION),  # chair-less, same shape
        visit(4, local(DAY, 9, 30), chair=2, status="cancelled"),  # takes nothing
    ]
    b = board(visits)
    strip = b.load_strips[0]
    assert strip.provider_name == "N. Patel, RN"
    assert strip.capacity == 2
    at = {c.index: c for c in strip.cells}
    nine = 9 * 4
    assert [at[nine + i].units for i in range(-1, 6)] == [0, 1, 2, 3, 3, 2, 1]
    assert not at[nine + 1].over
    assert at[nine + 2].over
    assert strip.over
    assert strip.peak == 3
    # The doctor has nothing that day.
    assert b.load_strips[1].peak == 0


def test_an_exclusive_phase_takes_the_whole_capacity() -> None:
    b = board([visit(1, local(DAY, 11), chair=None, provider=11)])
    cells = {c.index: c.units for c in b.load_strips[1].cells}
    assert cells[11 * 4] == 3
    assert cells[11 * 4 + 3] == 3
    assert cells[12 * 4] == 0


def test_units_that_follow_each_other_inside_a_column_are_not_added() -> None:
    # One visit's monitoring ends at 10:05, the next one's starts at 10:10: never two at once.
    first = visit(
        1,
        local(DAY, 9, 10),
        phases=[{"minutes": 55, "uses_chair": True, "provider_use": "monitor"}],
    )
    second = visit(
        2,
        local(DAY, 10, 10),
        chair=2,
        phases=[{"minutes": 30, "uses_chair": True, "provider_use": "monitor"}],
    )
    cells = {c.index: c.units for c in board([first, second]).load_strips[0].cells}
    assert cells[10 * 4] == 1


def test_now_line_only_on_the_day() -> None:
    now = local(DAY, 10, 20)
    b = board([], now=now)
    assert b.now_minute == 10 * 60 + 20
    assert b.now_label == "10:20"
    assert b.now_track == 10 * 12 + 4 + 1
    assert board([], now=now + timedelta(days=1)).now_minute is None


def test_a_visit_across_midnight_is_clipped_to_the_day() -> None:
    late = visit(1, local(DAY, 23, 0))
    (block,) = board([late]).chair_rows[0].blocks
    assert block.track + block.tracks == board([]).tracks + 1
    assert block.segments[-1].track + block.segments[-1].tracks <= block.tracks + 1
    (early,) = board([late], day=DAY + timedelta(days=1)).chair_rows[0].blocks
    assert early.track == 1
    assert early.tracks == (23 * 60 + 115 - 24 * 60) // 5


def test_a_visit_in_a_retired_chair_is_not_lost() -> None:
    b = board([visit(1, local(DAY, 9), chair=99)])
    assert [u.id for u in b.unplaced] == [1]


def test_day_bounds_of_a_zone_that_skips_midnight() -> None:
    # America/Havana sprang forward at 00:00 on 2024-03-10: the day starts at 01:00 local.
    start, end = day_bounds("America/Havana", date(2024, 3, 10))
    assert (end - start) == timedelta(hours=23)
    assert start.astimezone(ZoneInfo("America/Havana")).hour == 1


def test_hours_outside_opening_and_visits_are_compact() -> None:
    b = lay_out_day(
        zone=DENVER,
        day=DAY,
        chairs=CHAIRS,
        providers=(NURSE,),
        visits=[visit(1, local(DAY, 19, 30))],  # after closing
        now=local(DAY, 3),
        opening=[(time(8), time(17, 30))],
    )
    wide = [h.label for h in b.hours if not h.compact]
    assert wide == [f"{h:02d}:00" for h in (8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 19, 20, 21)]
    assert [(r.tracks, r.compact) for r in b.track_runs] == [
        (8 * 12, True),
        (10 * 12, False),
        (12, True),
        (3 * 12, False),
        (2 * 12, True),
    ]
    # Without opening hours: 07:00-19:00 by default.
    default = board([])
    assert next(h.label for h in default.hours if not h.compact) == "07:00"
    assert [h.label for h in default.hours if not h.compact][-1] == "18:00"


def test_a_booked_visit_whose_start_has_passed_is_late() -> None:
    start = local(DAY, 9)
    visits = [
        visit(1, start),
        visit(2, start, chair=2, status="checked-in"),
    ]
    late, checked_in = (
        r.blocks[0] for r in board(visits, now=start + timedelta(minutes=10)).chair_rows
    )
    assert late.late
    assert late.status_label == "late"
    assert not checked_in.late
    (before,) = board(visits[:1], now=start - timedelta(minutes=1)).chair_rows[0].blocks
    assert not before.late
    assert before.status_label == "booked"
