"""The pure week heat strip: occupancy per local hour, DST days, window."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from scheduler.board.week import BusySpan, lay_out_week, week_bounds

DENVER = "America/Denver"
TZ = ZoneInfo(DENVER)
OPEN = {d: [(time(8), time(17))] for d in range(5)}


def local(day: date, hour: int, minute: int = 0, fold: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=TZ).replace(fold=fold).astimezone(UTC)


def test_share_of_chair_time_per_hour() -> None:
    tuesday = date(2026, 12, 8)
    busy = [
        BusySpan(1, local(tuesday, 9), local(tuesday, 10)),  # chair 1 the whole 09:00 hour
        BusySpan(2, local(tuesday, 9, 30), local(tuesday, 11)),  # chair 2 from 09:30
    ]
    week = lay_out_week(
        zone=DENVER,
        day=tuesday,
        chairs=2,
        opening=OPEN,
        busy=busy,
        visits_by_day={tuesday: 2},
        today=tuesday,
    )
    assert week.monday == date(2026, 12, 7)
    assert [d.day.weekday() for d in week.days] == list(range(7))
    assert week.hours == tuple(range(8, 17))
    day = week.days[1]
    assert day.is_today
    assert day.visits == 2
    cells = {c.hour: c for c in day.cells}
    assert cells[8].percent == 0
    assert cells[8].level == 0
    assert cells[9].percent == 75
    assert cells[9].level == 4
    assert cells[10].percent == 50
    assert cells[10].level == 3
    assert day.percent == round(100 * (60 + 90) / (2 * 9 * 60))
    assert week.days[0].percent == 0


def test_window_widens_for_a_visit_outside_opening_hours() -> None:
    saturday = date(2026, 12, 12)
    busy = [BusySpan(1, local(saturday, 18), local(saturday, 20))]
    week = lay_out_week(zone=DENVER, day=saturday, chairs=1, opening=OPEN, busy=busy)
    assert week.hours == tuple(range(8, 20))
    assert {c.hour: c.percent for c in week.days[5].cells}[19] == 100


@pytest.mark.parametrize(
    ("day", "hour", "share"),
    [
        pytest.param(date(2027, 3, 14), 2, None, id="spring_forward_gap"),
        pytest.param(date(2027, 11, 7), 1, 0.5, id="fall_back_fold"),
    ],
)
def test_dst_hours(day: date, hour: int, share: float | None) -> None:
    # One chair busy for one real hour from the first 01:00 (the fold's first half).
    busy = [BusySpan(1, local(day, 1), local(day, 1) + timedelta(hours=1))]
    week = lay_out_week(zone=DENVER, day=day, chairs=1, opening={}, busy=busy)
    cells = {c.hour: c for c in week.days[6].cells}
    assert week.hours[0] == 1
    assert cells[hour].share == share


def test_week_bounds_are_local_mondays() -> None:
    start, end = week_bounds(DENVER, date(2027, 3, 14))
    assert start == local(date(2027, 3, 8), 0)
    assert end - start == timedelta(days=7, hours=-1)
