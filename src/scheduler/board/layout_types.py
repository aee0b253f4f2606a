"""The day board's plain data: what ``layout.lay_out_day`` takes and returns.

No behaviour beyond derived properties; the rules are in ``layout``'s docstring.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

TRACK_MINUTES = 5
COLUMN_MINUTES = 15
TRACKS_PER_COLUMN = COLUMN_MINUTES // TRACK_MINUTES
DEFAULT_OPENING = (time(7), time(19))

# Statuses whose visit still takes the chair and the provider (models.booking.ACTIVE_STATUSES).
ACTIVE_STATUSES = frozenset({"pending", "booked", "arrived", "checked-in", "fulfilled"})

# What a receptionist reads on a block: the status in words (never colour alone).
STATUS_LABELS: Mapping[str, str] = {
    "pending": "awaiting approval",
    "booked": "booked",
    "arrived": "arrived",
    "checked-in": "in chair",
    "fulfilled": "done",
    "cancelled": "cancelled",
    "noshow": "no-show",
    "entered-in-error": "entered in error",
    "hold": "hold",
}

# A visit in these statuses whose start has passed (and end has not) is late: nobody has
# checked the patient in.
LATE_STATUSES = frozenset({"pending", "booked"})

PHASE_KINDS: Mapping[str, str] = {
    "hands_on": "hands-on",
    "exclusive": "hands-on",
    "monitor": "monitored",
    "none": "recovery",
}


# ---------------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class ChairIn:
    id: int
    name: str


@dataclass(frozen=True)
class ProviderIn:
    id: int
    name: str
    capacity: int


@dataclass(frozen=True)
class VisitIn:
    """A booking (``hold=False``) or a hold, with its phases snapshot as stored."""

    id: int
    start_at: datetime
    end_at: datetime
    phases: Sequence[Mapping[str, Any]]
    turnover_minutes: int
    chair_id: int | None
    provider_id: int
    status: str
    type_name: str
    patient_name: str = ""
    hold: bool = False


# --------------------------------------------------------------------------------- outputs


@dataclass(frozen=True)
class Column:
    """One 15-minute column of real time, labelled with its local wall-clock start."""

    index: int
    start_at: datetime
    label: str  # "07:15"
    hour_start: bool


@dataclass(frozen=True)
class HourMark:
    """An hour label over the grid; ``track`` is its 1-based first track.

    ``compact`` hours (outside the opening hours, with no visit) are drawn narrow, so the
    whole real day fits on a screen while the working hours stay readable.
    """

    label: str  # "01:00", "01:00 MST" for the repeated hour of a fall-back day
    track: int
    tracks: int
    start_at: datetime
    compact: bool = False


@dataclass(frozen=True)
class TrackRun:
    """Consecutive tracks drawn at one width (for the page's grid template)."""

    tracks: int
    compact: bool


@dataclass(frozen=True)
class Segment:
    """A shaded part of a block, in tracks relative to the block's own first track (1-based)."""

    kind: str  # hands-on | monitored | recovery | turnover | consultation
    track: int
    tracks: int
    minutes: int
    left: float = 0.0  # percent of the block's width, for the page
    width: float = 0.0


@dataclass
class Block:
    id: int
    hold: bool
    status: str
    status_label: str
    patient_name: str
    type_name: str
    provider_name: str
    start_at: datetime
    end_at: datetime
    start_label: str
    end_label: str
    start_minute: int  # minutes from the start of the day
    minutes: int  # the block's whole width (chair time incl. turnover, or the visit)
    track: int  # 1-based first track
    tracks: int
    lane: int = 0  # sub-lane within the row when blocks overlap
    segments: tuple[Segment, ...] = ()
    active: bool = True
    late: bool = False  # started (booked or awaiting approval) and the patient is not in yet

    @property
    def start_column(self) -> float:
        return self.start_minute / COLUMN_MINUTES

    @property
    def span_columns(self) -> float:
        return self.minutes / COLUMN_MINUTES

    @property
    def greyed(self) -> bool:
        return self.status in ("noshow", "cancelled", "entered-in-error")

    @property
    def struck(self) -> bool:
        return self.status in ("cancelled", "entered-in-error")


@dataclass(frozen=True)
class Row:
    id: int
    label: str
    blocks: tuple[Block, ...]
    lanes: int


@dataclass(frozen=True)
class LoadCell:
    index: int
    units: int
    over: bool


@dataclass(frozen=True)
class LoadStrip:
    provider_id: int
    provider_name: str
    capacity: int
    cells: tuple[LoadCell, ...]

    @property
    def peak(self) -> int:
        return max((c.units for c in self.cells), default=0)

    @property
    def over(self) -> bool:
        return any(c.over for c in self.cells)


@dataclass(frozen=True)
class Board:
    zone: str
    day: date
    start_at: datetime
    end_at: datetime
    zone_label: str  # "MST, UTC−07:00" or "MST → MDT" on a change day
    columns: tuple[Column, ...]
    hours: tuple[HourMark, ...]
    chair_rows: tuple[Row, ...]
    provider_lanes: tuple[Row, ...]
    load_strips: tuple[LoadStrip, ...]
    now_minute: int | None
    now_label: str | None
    unplaced: tuple[Block, ...] = field(default=())  # a chair that is no longer on the board

    @property
    def total_minutes(self) -> int:
        return int((self.end_at - self.start_at) / timedelta(minutes=1))

    @property
    def hours_count(self) -> int:
        return self.total_minutes // 60

    @property
    def tracks(self) -> int:
        return math.ceil(self.total_minutes / TRACK_MINUTES)

    @property
    def track_runs(self) -> tuple[TrackRun, ...]:
        runs: list[TrackRun] = []
        for hour in self.hours:
            if runs and runs[-1].compact == hour.compact:
                runs[-1] = TrackRun(runs[-1].tracks + hour.tracks, hour.compact)
            else:
                runs.append(TrackRun(hour.tracks, hour.compact))
        return tuple(runs)

    @property
    def now_track(self) -> int | None:
        if self.now_minute is None:
            return None
        return min(self.now_minute // TRACK_MINUTES + 1, self.tracks)
