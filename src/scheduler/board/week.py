"""The week view as plain data: chair occupancy per day and hour, for a heat strip.

PURE: no session, no clock reads, no FastAPI.

Rules and edge cases:

- The week runs Monday to Sunday around the asked-for date, in the location's zone.
- Hours are local wall-clock hours over one window for the whole week: from the earliest
  opening to the latest closing of the location's weekly hours (07:00-19:00 when it has none),
  widened to take in any visit outside it, so the seven strips line up.
- A cell is the share of chair time in use in that local hour: the minutes the chairs are busy
  (turnover included) over chairs x the hour's real minutes. An hour that does not exist that
  day (a spring-forward gap) is a cell without a value; a repeated hour (fall back) counts both
  of its real hours.
- The level (0-4) is for shading; the share in words goes with it (never colour alone).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_WINDOW = (7, 19)


@dataclass(frozen=True)
class BusySpan:
    chair_id: int
    start_at: datetime
    end_at: datetime


@dataclass(frozen=True)
class HeatCell:
    hour: int
    label: str  # "09:00"
    share: float | None  # 0..1, None when the hour does not exist that day
    level: int  # 0 (free) .. 4 (full)

    @property
    def percent(self) -> int | None:
        return None if self.share is None else round(self.share * 100)


@dataclass(frozen=True)
class HeatDay:
    day: date
    cells: tuple[HeatCell, ...]
    share: float  # the whole window's share
    visits: int
    is_today: bool

    @property
    def percent(self) -> int:
        return round(self.share * 100)


@dataclass(frozen=True)
class Week:
    zone: str
    monday: date
    chairs: int
    hours: tuple[int, ...]
    days: tuple[HeatDay, ...]

    @property
    def previous_week(self) -> date:
        return self.monday - timedelta(days=7)

    @property
    def next_week(self) -> date:
        return self.monday + timedelta(days=7)


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def week_bounds(zone: str, day: date) -> tuple[datetime, datetime]:
    """The first instant of the week's Monday and of the Monday after, as UTC instants."""
    tz = ZoneInfo(zone)
    monday = week_start(day)
    start = datetime.combine(monday, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(monday + timedelta(days=7), time(0), tzinfo=tz).astimezone(UTC)
    return start, end


def _level(share: float) -> int:
    if share <= 0:
        return 0
    return min(4, 1 + int(share * 4))


def _window(
    opening: Mapping[int, Sequence[tuple[time, time]]],
    busy: Sequence[BusySpan],
    tz: ZoneInfo,
) -> tuple[int, int]:
    spans = [s for ranges in opening.values() for s in ranges]
    if spans:
        first = min(o.hour for o, _ in spans)
        last = max(c.hour + (1 if c.minute or c.second else 0) for _, c in spans)
    else:
        first, last = DEFAULT_WINDOW
    for span in busy:
        start = span.start_at.astimezone(tz)
        end = (span.end_at - timedelta(seconds=1)).astimezone(tz)
        if start.date() == end.date():
            first, last = min(first, start.hour), max(last, end.hour + 1)
        else:
            first, last = 0, 24
    return first, max(last, first + 1)


def _hour_span(day: date, hour: int, tz: ZoneInfo) -> tuple[datetime, datetime] | None:
    """The real instants of local ``hour`` on ``day``; None when that hour does not exist.

    Both ends are taken with ``fold=0``, so a repeated hour runs from its first start to the
    next hour's start: both of its real hours.
    """
    start = datetime.combine(day, time(hour), tzinfo=tz)
    if start.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != start.replace(tzinfo=None):
        return None
    if hour < 23:
        nxt = datetime.combine(day, time(hour + 1), tzinfo=tz)
    else:
        nxt = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return start.astimezone(UTC), nxt.astimezone(UTC)


def _busy_minutes(busy: Sequence[BusySpan], lo: datetime, hi: datetime) -> float:
    total = 0.0
    for span in busy:
        start, end = max(span.start_at, lo), min(span.end_at, hi)
        if end > start:
            total += (end - start) / timedelta(minutes=1)
    return total


def lay_out_week(
    *,
    zone: str,
    day: date,
    chairs: int,
    opening: Mapping[int, Sequence[tuple[time, time]]],
    busy: Sequence[BusySpan],
    visits_by_day: Mapping[date, int] | None = None,
    today: date | None = None,
) -> Week:
    """Occupancy of ``chairs`` chairs in the week around ``day``; see the module docstring.

    ``opening`` maps a weekday (0 = Monday) to its opening ranges; ``busy`` is the chair time
    of the week's active bookings (and nothing else: holds are not occupancy).
    """
    tz = ZoneInfo(zone)
    monday = week_start(day)
    first, last = _window(opening, busy, tz)
    hours = tuple(range(first, last))
    days: list[HeatDay] = []
    for offset in range(7):
        current = monday + timedelta(days=offset)
        cells: list[HeatCell] = []
        used = available = 0.0
        for hour in hours:
            span = _hour_span(current, hour, tz)
            label = f"{hour:02d}:00"
            if span is None or chairs == 0:
                cells.append(HeatCell(hour, label, None if span is None else 0.0, 0))
                continue
            lo, hi = span
            capacity = chairs * (hi - lo) / timedelta(minutes=1)
            minutes = _busy_minutes(busy, lo, hi)
            share = min(1.0, minutes / capacity) if capacity else 0.0
            used += minutes
            available += capacity
            cells.append(HeatCell(hour, label, share, _level(share)))
        days.append(
            HeatDay(
                day=current,
                cells=tuple(cells),
                share=min(1.0, used / available) if available else 0.0,
                visits=(visits_by_day or {}).get(current, 0),
                is_today=current == today,
            )
        )
    return Week(zone=zone, monday=monday, chairs=chairs, hours=hours, days=tuple(days))
