"""``free_days`` (the patient month grid's "which dates have a free time") agrees exactly with
the local dates of ``find_free_slots``: on the property tests' random clinics (DST changes,
gaps and folds included), on windows of several weeks, and on readable examples."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from scheduler.availability.engine import (
    Commitment,
    Phase,
    ProviderSpec,
    SlotQuery,
    TypeSpec,
    WeeklyRule,
    find_free_slots,
    free_days,
    local_instant,
)

from .test_engine_properties import SETTINGS, queries


def slot_dates(query: SlotQuery) -> list[date]:
    return sorted({s.start_at.astimezone(query.tz).date() for s in find_free_slots(query)})


@SETTINGS
@given(queries())
def test_free_days_are_the_dates_of_the_free_slots(query: SlotQuery) -> None:
    assert free_days(query) == slot_dates(query)


@SETTINGS
@given(queries(dst_only=True))
def test_free_days_agree_around_dst_changes(query: SlotQuery) -> None:
    assert free_days(query) == slot_dates(query)


@SETTINGS
@given(queries(), st.integers(0, 40 * 24 * 60), st.integers(0, 45))
def test_free_days_agree_over_weeks(query: SlotQuery, minutes: int, horizon: int) -> None:
    """The same random clinics searched over up to 40 days (a month grid's window), with a
    horizon that may end inside the window."""
    kind = replace(query.appointment_type, max_days_ahead=horizon)
    query = replace(
        query,
        appointment_type=kind,
        window_end_at=query.window_start_at + timedelta(minutes=minutes),
    )
    assert free_days(query) == slot_dates(query)


NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
INFUSION = (
    Phase(15, uses_chair=False, provider_use="hands_on"),
    Phase(45, uses_chair=False, provider_use="monitor"),
)


def _week(tz: ZoneInfo, first: date, commitments: tuple[Commitment, ...] = ()) -> SlotQuery:
    """A provider working 00:00-03:00 and 22:00-24:00 local every day (the hours a DST change
    touches), one patient at a time, over eight local dates from ``first``."""
    rules = tuple(
        WeeklyRule(wd, a, b)
        for wd in range(7)
        for a, b in ((time(0), time(3)), (time(22), time(0)))
    )
    start = local_instant(first, time(0), tz)
    return SlotQuery(
        tz=tz,
        opening_hours=None,
        closures=(),
        chairs=(),
        providers=(ProviderSpec(1, 1, 0, rules),),
        appointment_type=TypeSpec(INFUSION, 0, 30, 0, 30),
        commitments=commitments,
        window_start_at=start,
        window_end_at=local_instant(first + timedelta(days=8), time(0), tz),
        now=start,
    )


def test_dst_weeks_list_every_date_with_a_free_time() -> None:
    for tz, first in ((NEW_YORK, date(2026, 3, 5)), (NEW_YORK, date(2026, 10, 29))):
        q = _week(tz, first)
        assert free_days(q) == [first + timedelta(days=k) for k in range(8)]
        assert free_days(q) == slot_dates(q)
    q = _week(SYDNEY, date(2026, 4, 1))
    assert free_days(q) == slot_dates(q)


def test_a_fully_booked_date_is_left_out() -> None:
    first = date(2026, 3, 5)
    tz = NEW_YORK

    def at(day: int, hour: int, minute: int) -> datetime:
        return local_instant(first + timedelta(days=day), time(hour, minute), tz)

    # Fill the 8th (the spring-forward date: 00:00-02:00 and 03:00, 22:00-24:00).
    busy = tuple(
        Commitment(at(3, h, m), INFUSION, 0, None, 1) for h in (0, 1, 3, 22, 23) for m in (0, 30)
    )
    q = _week(tz, first, busy)
    assert date(2026, 3, 8) not in free_days(q)
    assert free_days(q) == slot_dates(q)
    assert len(free_days(q)) == 7
