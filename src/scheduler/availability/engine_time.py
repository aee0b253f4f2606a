"""Time arithmetic for the availability engine: integer instants, zones, the grid, intervals.

Inside the engine an instant is an ``int`` of microseconds since 1970-01-01T00:00Z, so interval
arithmetic is exact and cheap; a half-open span ``(a, b)`` means ``a <= t < b``. A "local
microsecond" is the same count on the wall clock of the location zone (UTC instant plus the UTC
offset in force at that instant); a local day index is that count divided by a day.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from scheduler.kit.timeutil import END_OF_DAY

Span = tuple[int, int]

US_PER_SECOND = 1_000_000
US_PER_MINUTE = 60 * US_PER_SECOND
US_PER_HOUR = 60 * US_PER_MINUTE
US_PER_DAY = 24 * US_PER_HOUR
# Far beyond any real instant, yet plain ints so sentinels survive +/- arithmetic.
NEG_INF = -(1 << 100)
POS_INF = 1 << 100

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = _EPOCH.date().toordinal()
_ONE_US = timedelta(microseconds=1)
_MIDNIGHT = time(0)
# Offsets are probed hourly and transitions located by bisection; no zone in tzdata changes its
# offset twice within one hour, so no transition can hide between two probes.
_PROBE_US = US_PER_HOUR


def to_us(value: datetime) -> int:
    """Exact microseconds since the epoch; raises TypeError for a naive datetime."""
    delta = value - _EPOCH  # field arithmetic below is about twice as fast as ``// _ONE_US``
    return (delta.days * 86_400 + delta.seconds) * US_PER_SECOND + delta.microseconds


def from_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def day_to_date(day: int) -> date:
    return date.fromordinal(day + _EPOCH_ORDINAL)


def date_to_day(value: date) -> int:
    return value.toordinal() - _EPOCH_ORDINAL


def utc_offset_us(tz: ZoneInfo, instant: int) -> int:
    """UTC offset (microseconds) in force at ``instant``; offsets change on whole seconds."""
    offset = datetime.fromtimestamp(instant // US_PER_SECOND, tz).utcoffset()
    if offset is None:  # pragma: no cover - a ZoneInfo always answers
        raise ValueError(f"zone {tz} has no UTC offset")
    return offset // _ONE_US


def wall_to_us(tz: ZoneInfo, local_date: date, wall_time: time) -> int:
    """The instant of a local wall-clock reading, by the documented DST policy.

    zoneinfo with ``fold=0``: a reading inside a spring-forward gap uses the offset before the
    gap, i.e. it moves forward by the gap length (02:30 -> 03:30 for a one-hour gap); a reading
    that occurs twice in a fall-back fold means its first occurrence.
    """
    local = datetime(
        local_date.year,
        local_date.month,
        local_date.day,
        wall_time.hour,
        wall_time.minute,
        wall_time.second,
        wall_time.microsecond,
        tzinfo=tz,
        fold=0,
    )
    return to_us(local)


def offset_spans(tz: ZoneInfo, lo: int, hi: int) -> list[tuple[int, int, int]]:
    """Split [lo, hi) into maximal pieces ``(start, end, offset)`` of constant UTC offset."""
    spans: list[tuple[int, int, int]] = []
    if lo >= hi:
        return spans
    start, offset = lo, 0
    for day in range(lo // US_PER_DAY, (hi - 1) // US_PER_DAY + 1):
        for at, new in _offset_changes(tz, day):
            if at <= lo:
                offset = new  # in force at lo (the first change is the day's start)
            elif at >= hi:
                break
            elif new != offset:
                spans.append((start, at, offset))
                start, offset = at, new
    spans.append((start, hi, offset))
    return spans


@lru_cache(maxsize=4096)
def _offset_changes(tz: ZoneInfo, day: int) -> tuple[tuple[int, int], ...]:
    """The offset at the start of UTC day ``day``, then each ``(instant, new offset)`` inside it.

    Probed hourly with the exact second found by bisection. Cached per zone and day because
    a search probes every hour of its window (~800 probes for a month, a sixth of the engine's
    time) and searches keep asking about the same days; what a zone's offset is on a given day
    never changes while the process runs.
    """
    day_start = day * US_PER_DAY
    offset = utc_offset_us(tz, day_start)
    changes = [(day_start, offset)]
    cursor = day_start
    last = day_start + US_PER_DAY - US_PER_SECOND  # changes fall on whole seconds
    while cursor < last:
        probe = min(cursor + _PROBE_US, last)
        if utc_offset_us(tz, probe) == offset:
            cursor = probe
            continue
        # First whole second in (cursor, probe] whose offset differs.
        lo_s, hi_s = cursor // US_PER_SECOND, probe // US_PER_SECOND
        while hi_s - lo_s > 1:
            mid = (lo_s + hi_s) // 2
            if utc_offset_us(tz, mid * US_PER_SECOND) == offset:
                lo_s = mid
            else:
                hi_s = mid
        cursor = hi_s * US_PER_SECOND
        offset = utc_offset_us(tz, cursor)
        changes.append((cursor, offset))
    return tuple(changes)


class LocalClock:
    """The wall clock of one zone over a range of instants, precomputed once per search."""

    __slots__ = ("_starts", "spans", "tz")

    def __init__(self, tz: ZoneInfo, lo: int, hi: int) -> None:
        self.tz = tz
        self.spans = offset_spans(tz, lo, hi)
        self._starts = [span[0] for span in self.spans]

    def offset(self, instant: int) -> int:
        spans = self.spans
        if spans and spans[0][0] <= instant < spans[-1][1]:
            return spans[bisect_right(self._starts, instant) - 1][2]
        return utc_offset_us(self.tz, instant)

    def local_day(self, instant: int) -> int:
        return (instant + self.offset(instant)) // US_PER_DAY

    def local_days(self, instants: list[int]) -> list[int]:
        """Local day indexes of sorted instants (one bisection per constant-offset piece)."""
        days: list[int] = []
        spans = self.spans
        if not spans:
            return [self.local_day(t) for t in instants]
        head = bisect_left(instants, spans[0][0])
        days.extend(self.local_day(t) for t in instants[:head])
        for span_lo, span_hi, offset in spans:
            i = bisect_left(instants, span_lo)
            j = bisect_left(instants, span_hi, i)
            days.extend([(t + offset) // US_PER_DAY for t in instants[i:j]])
        tail = bisect_left(instants, spans[-1][1])
        days.extend(self.local_day(t) for t in instants[tail:])
        return days

    def local_date(self, instant: int) -> date:
        return day_to_date(self.local_day(instant))

    def is_on_grid(self, instant: int, step_minutes: int) -> bool:
        local = instant + self.offset(instant)
        return (local % US_PER_DAY) % (step_minutes * US_PER_MINUTE) == 0

    def grid(self, step_minutes: int, lo: int, hi: int) -> tuple[list[int], list[int]]:
        """Instants in [lo, hi) whose local minute-of-day is a multiple of the step (seconds 0).

        Walks each constant-offset piece day by day, so a wall time inside a gap never appears
        and a wall time inside a fold appears twice (two real instants). Returns the sorted
        instants and, parallel to them, their local day indexes. [lo, hi) must lie inside the
        clock's range.
        """
        step = step_minutes * US_PER_MINUTE
        starts: list[int] = []
        days: list[int] = []
        for span_lo, span_hi, offset in self.spans:
            a, b = max(span_lo, lo), min(span_hi, hi)
            if a >= b:
                continue
            local_lo, local_hi = a + offset, b + offset
            day = local_lo // US_PER_DAY
            while day * US_PER_DAY < local_hi:
                day_start = day * US_PER_DAY
                first = day_start - ((day_start - local_lo) // step) * step  # ceil to the grid
                first = max(first, day_start)
                instants = range(
                    first - offset, min(local_hi, day_start + US_PER_DAY) - offset, step
                )
                starts.extend(instants)
                days.extend([day] * len(instants))
                day += 1
        return starts, days


def expand_weekly(
    tz: ZoneInfo,
    entries: Iterable[tuple[int, time, time, date | None, date | None]],
    first_date: date,
    last_date: date,
    cache: dict[tuple[int, time], int],
) -> list[Span]:
    """Instants covered by weekly wall-clock ranges on each local date in [first, last].

    An entry is (weekday, start, end, valid_from, valid_until); end 00:00 or ``END_OF_DAY``
    (24:00 as the API stores it) means the midnight that ends the date, i.e. the start of the
    next local date (on a DST day as well). Each end point is converted with
    :func:`wall_to_us`; a range that comes out empty (both ends in one gap) is dropped.
    Unsorted, unmerged.
    """
    by_weekday: dict[int, list[tuple[time, time, date | None, date | None]]] = {}
    for weekday, start_time, end_time, valid_from, valid_until in entries:
        by_weekday.setdefault(weekday, []).append((start_time, end_time, valid_from, valid_until))
    spans: list[Span] = []
    if not by_weekday:
        return spans

    def instant(ordinal: int, wall_time: time) -> int:
        key = (ordinal, wall_time)
        found = cache.get(key)
        if found is None:
            found = cache[key] = wall_to_us(tz, date.fromordinal(ordinal), wall_time)
        return found

    for ordinal in range(first_date.toordinal(), last_date.toordinal() + 1):
        todays = by_weekday.get((ordinal - 1) % 7)  # date.fromordinal(1) is a Monday
        if not todays:
            continue
        local_date = date.fromordinal(ordinal)
        for start_time, end_time, valid_from, valid_until in todays:
            if valid_from is not None and local_date < valid_from:
                continue
            if valid_until is not None and local_date > valid_until:
                continue
            start = instant(ordinal, start_time)
            if end_time in (_MIDNIGHT, END_OF_DAY):
                end = instant(ordinal + 1, _MIDNIGHT)
            else:
                end = instant(ordinal, end_time)
            if start < end:
                spans.append((start, end))
    return spans


def merge(spans: Iterable[Span]) -> list[Span]:
    """Sorted union; spans that overlap or touch become one, empty spans vanish."""
    out: list[Span] = []
    for a, b in sorted(spans):
        if a >= b:
            continue
        if out and a <= out[-1][1]:
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def subtract(base: Sequence[Span], cut: Sequence[Span]) -> list[Span]:
    """``base`` minus ``cut``; both merged (sorted, disjoint). Result is merged."""
    out: list[Span] = []
    j = 0
    for a, b in base:
        while j < len(cut) and cut[j][1] <= a:
            j += 1
        k = j
        while a < b and k < len(cut) and cut[k][0] < b:
            if cut[k][0] > a:
                out.append((a, cut[k][0]))
            a = max(a, cut[k][1])
            k += 1
        if a < b:
            out.append((a, b))
    return out


def starts_inside(available: Sequence[Span], length: int) -> list[Span]:
    """Starts s (as half-open spans) with [s, s + length) inside one merged available span."""
    return [(a, b - length + 1) for a, b in available if b - a >= length]


def over_threshold(events: Sequence[tuple[int, int]], threshold: int) -> list[Span]:
    """Spans where a step function exceeds ``threshold``; ``events`` are sorted (time, delta)."""
    out: list[Span] = []
    level = 0
    opened: int | None = None
    i, n = 0, len(events)
    while i < n:
        at = events[i][0]
        while i < n and events[i][0] == at:
            level += events[i][1]
            i += 1
        if level > threshold:
            if opened is None:
                opened = at
        elif opened is not None:
            out.append((opened, at))
            opened = None
    return out


def mark_allowed(starts: Sequence[int], spans: Iterable[Span]) -> bytearray:
    """1 for each sorted start inside one of the sorted disjoint spans, else 0."""
    flags = bytearray(len(starts))
    _fill(flags, starts, spans, 1)
    return flags


def mark_forbidden(starts: Sequence[int], spans: Iterable[Span]) -> bytearray:
    """0 for each sorted start inside one of the sorted disjoint spans, else 1."""
    flags = bytearray(b"\x01") * len(starts)
    _fill(flags, starts, spans, 0)
    return flags


def _fill(flags: bytearray, starts: Sequence[int], spans: Iterable[Span], value: int) -> None:
    if not starts:
        return
    first, last = starts[0], starts[-1]
    fill = b"\x01" if value else b"\x00"
    lo = 0
    for a, b in spans:
        if b <= first or a > last:
            continue
        i = bisect_left(starts, a, lo)
        j = bisect_left(starts, b, i)
        if i < j:
            flags[i:j] = fill * (j - i)
        lo = j  # spans are sorted and disjoint, so later ones start no earlier
