from __future__ import annotations

import itertools
from datetime import datetime, time
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from scheduler.kit.timeutil import EndTime, IanaZone, Instant, InstantRange, WallTime


class OpeningHours(BaseModel):
    """One opening period on a weekday (0 = Monday), local wall-clock time."""

    model_config = ConfigDict(extra="forbid", from_attributes=True)

    weekday: int = Field(ge=0, le=6, description="0 = Monday … 6 = Sunday")
    open_time: WallTime
    close_time: EndTime

    @field_validator("close_time")
    @classmethod
    def _close_after_open(cls, close_time: time, info: ValidationInfo) -> time:
        open_time = info.data.get("open_time")
        if open_time is not None and close_time <= open_time:
            msg = "close_time must be after open_time"
            raise ValueError(msg)
        return close_time


def _check_hours_disjoint(hours: list[OpeningHours]) -> None:
    by_day: dict[int, list[OpeningHours]] = {}
    for h in hours:
        by_day.setdefault(h.weekday, []).append(h)
    for day, periods in by_day.items():
        periods.sort(key=lambda h: h.open_time)
        for a, b in itertools.pairwise(periods):
            if b.open_time < a.close_time:
                msg = f"opening hours overlap on weekday {day}"
                raise ValueError(msg)


class LocationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    address: str = Field(default="", max_length=500)
    timezone: IanaZone = Field(description="IANA time zone, e.g. America/Denver")
    phone: str = Field(default="", max_length=40)
    opening_hours: list[OpeningHours] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _hours_disjoint(self) -> Self:
        _check_hours_disjoint(self.opening_hours)
        return self


class LocationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    address: str | None = Field(default=None, max_length=500)
    timezone: IanaZone | None = None
    phone: str | None = Field(default=None, max_length=40)
    active: bool | None = None
    opening_hours: list[OpeningHours] | None = Field(default=None, max_length=50)

    @model_validator(mode="after")
    def _hours_disjoint(self) -> Self:
        if self.opening_hours is not None:
            _check_hours_disjoint(self.opening_hours)
        return self


class LocationRead(BaseModel):
    id: int
    name: str
    address: str
    timezone: str
    phone: str
    active: bool
    opening_hours: list[OpeningHours]
    created_at: datetime
    updated_at: datetime


class ChairCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    position: int = Field(default=0, ge=0, le=10_000)
    active: bool = True
    tags: list[str] = Field(default_factory=list, max_length=20)


class ChairUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    position: int | None = Field(default=None, ge=0, le=10_000)
    active: bool | None = None
    tags: list[str] | None = Field(default=None, max_length=20)


class ChairRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    location_id: int
    name: str
    position: int
    active: bool
    tags: list[str]


class ClosureCreate(InstantRange):
    """The whole location is closed (holiday, maintenance) from ``start_at`` to ``end_at``."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=500)


class ClosureUpdate(BaseModel):
    """Partial change of a closure; the merged span is checked again (end after start)."""

    model_config = ConfigDict(extra="forbid")

    start_at: Instant | None = None
    end_at: Instant | None = None
    reason: str | None = Field(default=None, max_length=500)

    @field_validator("start_at", "end_at", "reason")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            msg = "may be left out, but not null"
            raise ValueError(msg)
        return value


class ClosureRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    location_id: int | None
    start_at: datetime
    end_at: datetime
    reason: str
