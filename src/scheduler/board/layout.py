"""The day board as plain data: a location's day laid out on a grid of real time.

PURE: no session, no clock reads, no FastAPI. The caller passes the zone, the local date, the
chairs, providers, bookings and holds of that day, and ``now``; the result is what the page
draws, so every rule about positions, phases, lanes and load lives (and is tested) here.

Rules and edge cases:

- The day runs from the first instant of the local date to the first instant of the next one,
  in real time: 24 hours, or 23 on a spring-forward day and 25 on a fall-back day (e.g.
  America/Denver 2027-03-14 and 2027-11-07). The grid is drawn in real time, so a 100-minute
  visit is always equally wide, even across a DST change; the hour labels are local wall-clock
  times, so 02:00 is missing on a spring-forward day and 01:00 appears twice on a fall-back day
  (the second one named with its zone abbreviation).
- Positions are minutes from the start of the day. The page's grid has one track per
  ``TRACK_MINUTES`` (5); a position between tracks is rounded to the nearest track (the text of
  the block still says the exact times). ``start_column`` is in 15-minute columns.
- A chair row's blocks come from bookings and holds with that chair: the block spans the chair's
  busy time (turnover included). Chair-less visits (consultations) sit in their provider's lane.
- Blocks that overlap in one row (a cancelled visit under its replacement, say) are stacked in
  sub-lanes, first-fit by start time, so none hides another.
- Phases are shaded by kind: ``hands-on`` (hands_on / exclusive), ``monitored`` (monitor),
  ``recovery`` (none), then ``turnover`` (the chair's cleaning buffer). A chair-less visit's
  only shading is ``consultation``.
- Provider load: for each 15-minute column, the most units of the provider's capacity in use at
  any instant of that column (an ``exclusive`` phase takes all of them), counting active
  bookings and holds; more than ``max_concurrent_patients`` is flagged ``over``.
- ``now`` is drawn only when it falls inside the day. A booked (or pending) visit whose start
  has passed and end has not is ``late``: its label says so instead of "booked".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from scheduler.board.layout_types import (
    ACTIVE_STATUSES,
    COLUMN_MINUTES,
    DEFAULT_OPENING,
    LATE_STATUSES,
    PHASE_KINDS,
    STATUS_LABELS,
    TRACK_MINUTES,
    TRACKS_PER_COLUMN,
    Block,
    Board,
    ChairIn,
    Column,
    HourMark,
    LoadCell,
    LoadStrip,
    ProviderIn,
    Row,
    Segment,
    TrackRun,
    VisitIn,
)
from scheduler.kit.zones import zone_terms

__all__ = [
    "ACTIVE_STATUSES",
    "COLUMN_MINUTES",
    "DEFAULT_OPENING",
    "LATE_STATUSES",
    "PHASE_KINDS",
    "STATUS_LABELS",
    "TRACKS_PER_COLUMN",
    "TRACK_MINUTES",
    "Block",
    "Board",
    "ChairIn",
    "Column",
    "HourMark",
    "LoadCell",
    "LoadStrip",
    "ProviderIn",
    "Row",
    "Segment",
    "TrackRun",
    "VisitIn",
    "day_bounds",
    "lay_out_day",
]


# ---------------------------------------------------------------------------------- helpers


def day_bounds(zone: str, day: date) -> tuple[datetime, datetime]:
    """The first instant of ``day`` and of the next day in ``zone``, as UTC instants.

    Midnight is taken with ``fold=0``: where midnight does not exist (a zone that springs
    forward at 00:00) that is the instant of the change, which is the first instant of the day.
    """
    tz = ZoneInfo(zone)
    start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return start, end


def _minutes(delta: timedelta) -> float:
    return delta / timedelta(minutes=1)


def _track(minute: float) -> int:
    """The 1-based track a position falls on, rounded to the nearest track boundary."""
    return round(minute / TRACK_MINUTES) + 1


def _span(start_minute: float, minutes: float) -> int:
    return max(1, _track(start_minute + minutes) - _track(start_minute))


def _hm(at: datetime, tz: ZoneInfo) -> str:
    local = at.astimezone(tz)
    return f"{local.hour:02d}:{local.minute:02d}"


def _columns(start_at: datetime, end_at: datetime, tz: ZoneInfo) -> tuple[Column, ...]:
    out: list[Column] = []
    at, index = start_at, 0
    while at < end_at:
        local = at.astimezone(tz)
        out.append(Column(index, at, f"{local.hour:02d}:{local.minute:02d}", local.minute == 0))
        at += timedelta(minutes=COLUMN_MINUTES)
        index += 1
    return tuple(out)


def _hours(start_at: datetime, end_at: datetime, tz: ZoneInfo) -> tuple[HourMark, ...]:
    """One mark per local hour that starts inside the day, in real-time order."""
    marks: list[tuple[datetime, str]] = []
    seen: set[str] = set()
    at = start_at
    while at < end_at:
        local = at.astimezone(tz)
        if local.minute == 0 or at == start_at:
            label = f"{local.hour:02d}:{local.minute:02d}"
            # The repeated hour of a fall-back day is named by its zone so it reads as real.
            marks.append((at, f"{label} {local.tzname()}" if label in seen else label))
            seen.add(label)
        at += timedelta(minutes=COLUMN_MINUTES)  # every zone's offset is whole quarter hours
    total = _minutes(end_at - start_at)
    out: list[HourMark] = []
    for i, (at, label) in enumerate(marks):
        start_minute = _minutes(at - start_at)
        next_minute = _minutes(marks[i + 1][0] - start_at) if i + 1 < len(marks) else total
        track = _track(start_minute)
        out.append(HourMark(label, track, max(1, _track(next_minute) - track), at))
    return tuple(out)


def _segments(visit: VisitIn, block_start: datetime, chair: bool) -> tuple[Segment, ...]:
    """The visit's phases, then turnover, as tracks relative to the block's first track."""
    out: list[Segment] = []
    base = _minutes(block_start - visit.start_at)  # <= 0: how far the block starts before
    at = -base
    phases = list(visit.phases) or [
        {
            "minutes": int(_minutes(visit.end_at - visit.start_at)),
            "uses_chair": chair,
            "provider_use": "monitor" if chair else "exclusive",
        }
    ]
    for phase in phases:
        minutes = int(phase.get("minutes", 0))
        if minutes <= 0:
            continue
        use = str(phase.get("provider_use", "none"))
        kind = PHASE_KINDS.get(use, "recovery") if chair else "consultation"
        out.append(Segment(kind, _track(at), _span(at, minutes), minutes))
        at += minutes
    if chair and visit.turnover_minutes > 0:
        out.append(
            Segment(
                "turnover",
                _track(at),
                _span(at, visit.turnover_minutes),
                visit.turnover_minutes,
            )
        )
    return tuple(out)


def _block(
    visit: VisitIn,
    *,
    day_start: datetime,
    tz: ZoneInfo,
    provider_name: str,
    chair: bool,
    now: datetime,
) -> Block:
    block_start = visit.start_at
    block_end = visit.end_at
    if chair:
        block_end = visit.end_at + timedelta(minutes=max(visit.turnover_minutes, 0))
    start_minute = _minutes(block_start - day_start)
    minutes = _minutes(block_end - block_start)
    status = "hold" if visit.hold else visit.status
    late = status in LATE_STATUSES and visit.start_at <= now < visit.end_at
    return Block(
        id=visit.id,
        hold=visit.hold,
        status=status,
        status_label="late" if late else STATUS_LABELS.get(status, status),
        patient_name="" if visit.hold else visit.patient_name,
        type_name=visit.type_name,
        provider_name=provider_name,
        start_at=visit.start_at,
        end_at=visit.end_at,
        start_label=_hm(visit.start_at, tz),
        end_label=_hm(visit.end_at, tz),
        start_minute=int(start_minute),
        minutes=int(minutes),
        track=_track(start_minute),
        tracks=_span(start_minute, minutes),
        segments=_segments(visit, block_start, chair),
        active=visit.hold or visit.status in ACTIVE_STATUSES,
        late=late,
    )


def _clip(block: Block, tracks: int) -> Block:
    """Keep a block that starts before or ends after the day inside the grid."""
    first = max(block.track, 1)
    last = min(block.track + block.tracks, tracks + 1)  # exclusive
    if first == block.track and last == block.track + block.tracks:
        return block
    width = max(1, last - first)
    shift = first - block.track
    segments = []
    for s in block.segments:
        lo = max(s.track - shift, 1)
        hi = min(s.track - shift + s.tracks, width + 1)
        if hi > lo:
            segments.append(replace(s, track=lo, tracks=hi - lo))
    return replace(block, track=first, tracks=width, segments=tuple(segments))


def _stack(blocks: Sequence[Block]) -> tuple[tuple[Block, ...], int]:
    """First-fit sub-lanes: active blocks first (they keep lane 0), then by start."""
    ordered = sorted(blocks, key=lambda b: (not b.active, b.track, b.id))
    lane_ends: list[int] = []
    out: list[Block] = []
    for block in ordered:
        for lane, end in enumerate(lane_ends):
            if block.track >= end:
                lane_ends[lane] = block.track + block.tracks
                block.lane = lane
                out.append(block)
                break
        else:
            lane_ends.append(block.track + block.tracks)
            block.lane = len(lane_ends) - 1
            out.append(block)
    out.sort(key=lambda b: (b.track, b.lane, b.id))
    return tuple(out), max(1, len(lane_ends))


def _provider_units(visit: VisitIn, capacity: int) -> list[tuple[datetime, datetime, int]]:
    """The spans in which the visit takes some of its provider's capacity, and how much."""
    out: list[tuple[datetime, datetime, int]] = []
    at = visit.start_at
    phases = list(visit.phases) or [
        {
            "minutes": int(_minutes(visit.end_at - visit.start_at)),
            "provider_use": "monitor" if visit.chair_id is not None else "exclusive",
        }
    ]
    for phase in phases:
        end = at + timedelta(minutes=int(phase.get("minutes", 0)))
        use = phase.get("provider_use", "none")
        if use in ("hands_on", "monitor"):
            out.append((at, end, 1))
        elif use == "exclusive":
            out.append((at, end, capacity))
        at = end
    return out


def _load_strip(
    provider: ProviderIn, visits: Sequence[VisitIn], columns: int, start_at: datetime
) -> LoadStrip:
    """The most units in use at any instant of each column: one sweep over the changes, in
    whole seconds from the start of the day (integers: far cheaper than instants).
    ``visits`` are the provider's visits that take capacity (active bookings and holds)."""
    changes: dict[int, int] = {}
    for visit in visits:
        for start, end, units in _provider_units(visit, provider.capacity):
            lo = int((start - start_at).total_seconds())
            hi = int((end - start_at).total_seconds())
            changes[lo] = changes.get(lo, 0) + units
            changes[hi] = changes.get(hi, 0) - units
    times = sorted(changes)
    level = i = 0
    width = COLUMN_MINUTES * 60
    cells: list[LoadCell] = []
    for index in range(columns):
        lo, hi = index * width, (index + 1) * width
        while i < len(times) and times[i] <= lo:  # the level in force at the column's start
            level += changes[times[i]]
            i += 1
        units = level
        while i < len(times) and times[i] < hi:  # every change inside the column
            level += changes[times[i]]
            units = max(units, level)
            i += 1
        cells.append(LoadCell(index, units, units > provider.capacity))
    return LoadStrip(provider.id, provider.name, provider.capacity, tuple(cells))


def _busy_ranges(
    day: date,
    tz: ZoneInfo,
    start_at: datetime,
    opening: Sequence[tuple[time, time]],
    rows: Sequence[Sequence[Block] | Row],
) -> list[tuple[int, int]]:
    """Track ranges [first, last) drawn wide: the opening hours and every block."""
    out: list[tuple[int, int]] = []
    for open_time, close_time in opening or [DEFAULT_OPENING]:
        lo = datetime.combine(day, open_time, tzinfo=tz).astimezone(UTC)
        hi = datetime.combine(day, close_time, tzinfo=tz).astimezone(UTC)
        out.append((_track(_minutes(lo - start_at)), _track(_minutes(hi - start_at))))
    for row in rows:
        blocks = row.blocks if isinstance(row, Row) else row
        out.extend((b.track, b.track + b.tracks) for b in blocks)
    return out


def _meets(ranges: Sequence[tuple[int, int]], first: int, last: int) -> bool:
    return any(lo < last and hi > first for lo, hi in ranges)


# ------------------------------------------------------------------------------------ entry


def lay_out_day(
    *,
    zone: str,
    day: date,
    chairs: Sequence[ChairIn],
    providers: Sequence[ProviderIn],
    visits: Sequence[VisitIn],
    now: datetime,
    opening: Sequence[tuple[time, time]] = (),
) -> Board:
    """Lay out one location's local ``day``; see the module docstring for the rules.

    ``opening`` is the location's opening hours that day (local wall-clock ranges); hours
    outside them (07:00-19:00 when there are none) and without any visit are ``compact``.

    ``chairs`` and ``providers`` are in display order. ``visits`` are the day's bookings and
    holds (any that overlap the day; the caller filters expired holds). A visit whose chair is
    not in ``chairs`` (a chair retired since) is returned in ``unplaced``.
    """
    tz = ZoneInfo(zone)
    start_at, end_at = day_bounds(zone, day)
    columns = _columns(start_at, end_at, tz)
    tracks = math.ceil(_minutes(end_at - start_at) / TRACK_MINUTES)
    names = {p.id: p.name for p in providers}
    chair_ids = {c.id for c in chairs}

    by_chair: dict[int, list[Block]] = {c.id: [] for c in chairs}
    by_provider: dict[int, list[Block]] = {}
    unplaced: list[Block] = []
    for visit in sorted(visits, key=lambda v: (v.start_at, v.id)):
        chair = visit.chair_id is not None
        block = _block(
            visit,
            day_start=start_at,
            tz=tz,
            provider_name=names.get(visit.provider_id, ""),
            chair=chair,
            now=now,
        )
        block = _clip(block, tracks)
        block.segments = tuple(
            Segment(
                x.kind,
                x.track,
                x.tracks,
                x.minutes,
                round(100 * (x.track - 1) / block.tracks, 3),
                round(100 * x.tracks / block.tracks, 3),
            )
            for x in block.segments
        )
        if visit.chair_id is None:
            by_provider.setdefault(visit.provider_id, []).append(block)
        elif visit.chair_id in chair_ids:
            by_chair[visit.chair_id].append(block)
        else:
            unplaced.append(block)

    chair_rows = []
    for chair_in in chairs:
        blocks, lanes = _stack(by_chair[chair_in.id])
        chair_rows.append(Row(chair_in.id, chair_in.name, blocks, lanes))
    lanes_out = []
    for provider in providers:
        if provider.id in by_provider:
            blocks, lanes = _stack(by_provider.pop(provider.id))
            lanes_out.append(Row(provider.id, provider.name, blocks, lanes))
    for provider_id, rest in by_provider.items():  # a provider no longer at this location
        blocks, lanes = _stack(rest)
        lanes_out.append(Row(provider_id, names.get(provider_id, ""), blocks, lanes))

    loads: dict[int, list[VisitIn]] = {}
    for visit in visits:
        if visit.hold or visit.status in ACTIVE_STATUSES:
            loads.setdefault(visit.provider_id, []).append(visit)
    strips = tuple(_load_strip(p, loads.get(p.id, []), len(columns), start_at) for p in providers)
    busy = _busy_ranges(day, tz, start_at, opening, [*by_chair.values(), *lanes_out])
    now_minute = now_label = None
    if start_at <= now < end_at:
        now_minute = int(_minutes(now - start_at))
        now_label = _hm(now, tz)
    return Board(
        zone=zone,
        day=day,
        start_at=start_at,
        end_at=end_at,
        zone_label=zone_terms(zone, start_at, end_at - timedelta(minutes=1)),
        columns=columns,
        hours=tuple(
            replace(h, compact=not _meets(busy, h.track, h.track + h.tracks))
            for h in _hours(start_at, end_at, tz)
        ),
        chair_rows=tuple(chair_rows),
        provider_lanes=tuple(lanes_out),
        load_strips=strips,
        now_minute=now_minute,
        now_label=now_label,
        unplaced=tuple(unplaced),
    )
