"""Plain records the availability engine reads and returns.

The rules that give these fields their meaning are in the docstring of
``scheduler.availability.engine``; import the names from there. Every record is frozen and
validates its own shape (aware datetimes, positive minutes), so the engine can trust it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Literal, Protocol, get_args
from zoneinfo import ZoneInfo

ProviderUse = Literal["exclusive", "hands_on", "monitor", "none"]

ReasonCode = Literal[
    "off_grid",
    "min_notice",
    "beyond_horizon",
    "location_closed",
    "no_chair_free",
    "no_provider",
    "outside_provider_hours",
    "provider_at_capacity",
    "start_too_close",
]

PROVIDER_USES: frozenset[str] = frozenset(get_args(ProviderUse))

# (weekday Mon=0, open local time, close local time); close 00:00 means midnight after the date.
OpeningHours = tuple[tuple[int, time, time], ...]

_MIDNIGHT = time(0)


def _require_aware(name: str, value: datetime) -> None:
    if value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")


def _require_wall_range(weekday: int, start_time: time, end_time: time) -> None:
    if not 0 <= weekday <= 6:
        raise ValueError(f"weekday must be 0 (Monday) .. 6 (Sunday), got {weekday}")
    if start_time.tzinfo is not None or end_time.tzinfo is not None:
        raise ValueError("weekly times are local wall-clock times and carry no tzinfo")
    if end_time != _MIDNIGHT and end_time <= start_time:
        raise ValueError(
            f"end time {end_time} must be after start time {start_time} on the same date "
            "(or 00:00 for midnight at the end of the date)"
        )


@dataclass(frozen=True, slots=True)
class Phase:
    """One consecutive part of an appointment: how long, chair or not, how the provider is used."""

    minutes: int
    uses_chair: bool
    provider_use: ProviderUse

    def __post_init__(self) -> None:
        if self.minutes < 1:
            raise ValueError(f"a phase lasts at least one minute, got {self.minutes}")
        if self.provider_use not in PROVIDER_USES:
            raise ValueError(f"unknown provider use {self.provider_use!r}")


@dataclass(frozen=True, slots=True)
class Interval:
    """Half-open span of time [start_at, end_at) between two aware instants."""

    start_at: datetime
    end_at: datetime

    def __post_init__(self) -> None:
        _require_aware("start_at", self.start_at)
        _require_aware("end_at", self.end_at)
        if self.end_at < self.start_at:
            raise ValueError(f"interval ends before it starts: {self.start_at} .. {self.end_at}")


@dataclass(frozen=True, slots=True)
class TypeSpec:
    """The bookable appointment type as the engine sees it."""

    phases: tuple[Phase, ...]
    turnover_minutes: int
    step_minutes: int
    min_notice_minutes: int
    max_days_ahead: int

    def __post_init__(self) -> None:
        if not self.phases:
            raise ValueError("an appointment type needs at least one phase")
        if self.step_minutes < 1:
            raise ValueError(f"step_minutes must be >= 1, got {self.step_minutes}")
        for name in ("turnover_minutes", "min_notice_minutes", "max_days_ahead"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")

    @property
    def duration_minutes(self) -> int:
        return sum(phase.minutes for phase in self.phases)

    @property
    def needs_chair(self) -> bool:
        return any(phase.uses_chair for phase in self.phases)


@dataclass(frozen=True, slots=True)
class WeeklyRule:
    """Weekly working hours in local wall-clock time; valid dates are inclusive."""

    weekday: int
    start_time: time
    end_time: time
    valid_from_date: date | None = None
    valid_until_date: date | None = None

    def __post_init__(self) -> None:
        _require_wall_range(self.weekday, self.start_time, self.end_time)


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    id: int
    max_concurrent_patients: int
    min_minutes_between_starts: int
    rules: tuple[WeeklyRule, ...]
    extra: tuple[Interval, ...] = ()
    unavailable: tuple[Interval, ...] = ()

    def __post_init__(self) -> None:
        if self.max_concurrent_patients < 1:
            raise ValueError("max_concurrent_patients must be >= 1")
        if self.min_minutes_between_starts < 0:
            raise ValueError("min_minutes_between_starts must be >= 0")


@dataclass(frozen=True, slots=True)
class ChairSpec:
    id: int
    position: int


@dataclass(frozen=True, slots=True)
class Commitment:
    """An active booking or unexpired hold that already uses a chair and/or a provider."""

    start_at: datetime
    phases: tuple[Phase, ...]
    turnover_minutes: int
    chair_id: int | None
    provider_id: int | None

    def __post_init__(self) -> None:
        _require_aware("start_at", self.start_at)
        if self.turnover_minutes < 0:
            raise ValueError("turnover_minutes must be >= 0")


class CommitmentLike(Protocol):
    """What the engine reads of a commitment: the attributes of :class:`Commitment`.

    ``Commitment`` checks its shape when it is built. Any other read-only record with these
    attributes may stand in for it when its source already guarantees that shape (aware
    ``start_at``, ``turnover_minutes`` >= 0), such as the rows the availability repository
    loads; layouts should be shared (interned) tuples, as the engine caches shapes by identity.
    """

    @property
    def start_at(self) -> datetime: ...
    @property
    def phases(self) -> tuple[Phase, ...]: ...
    @property
    def turnover_minutes(self) -> int: ...
    @property
    def chair_id(self) -> int | None: ...
    @property
    def provider_id(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class SlotQuery:
    """Everything one search needs; ``now`` is passed in, the engine never reads a clock."""

    tz: ZoneInfo
    opening_hours: OpeningHours | None
    closures: tuple[Interval, ...]
    chairs: tuple[ChairSpec, ...]
    providers: tuple[ProviderSpec, ...]
    appointment_type: TypeSpec
    commitments: tuple[CommitmentLike, ...]
    window_start_at: datetime
    window_end_at: datetime
    now: datetime

    def __post_init__(self) -> None:
        _require_aware("window_start_at", self.window_start_at)
        _require_aware("window_end_at", self.window_end_at)
        _require_aware("now", self.now)
        if self.window_end_at < self.window_start_at:
            raise ValueError("window_end_at is before window_start_at")
        if self.opening_hours is not None:
            for weekday, open_time, close_time in self.opening_hours:
                _require_wall_range(weekday, open_time, close_time)
        if len({chair.id for chair in self.chairs}) != len(self.chairs):
            raise ValueError("chair ids must be unique")
        if len({provider.id for provider in self.providers}) != len(self.providers):
            raise ValueError("provider ids must be unique")


@dataclass(frozen=True, slots=True)
class Slot:
    """A bookable start. chair_ids/provider_ids list every fitting resource, best first.

    Any chair of ``chair_ids`` combines with any provider of ``provider_ids``; ``chair_id`` and
    ``provider_id`` are the first of each (the deterministic choice).
    """

    start_at: datetime
    end_at: datetime
    chair_id: int | None
    provider_id: int
    chair_ids: tuple[int, ...]
    provider_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Reason:
    code: ReasonCode
    provider_id: int | None = None


@dataclass(frozen=True, slots=True)
class CandidateVerdict:
    start_at: datetime
    offered: bool
    reasons: tuple[Reason, ...] = field(default=())
