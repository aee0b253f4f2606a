"""Small time helpers that are not domain rules."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time
from functools import lru_cache
from importlib import resources
from typing import Annotated, Any
from zoneinfo import ZoneInfo, available_timezones

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    PlainSerializer,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


@lru_cache(maxsize=1)
def _zone_links() -> dict[str, str]:
    """Alias -> canonical zone, from the tz database that ``tzdata`` ships (``tzdata.zi``).

    A name is kept when the database lists it for a country (``zone.tab``: ``Europe/Oslo``
    stays, though the default build links it to ``Europe/Berlin``) or defines it as a zone;
    any other link (``US/Mountain``, ``Asia/Calcutta``, ``UTC``) is followed to its zone.
    """
    files = resources.files("tzdata.zoneinfo")
    listed = {
        line.split("\t")[2]
        for line in (files / "zone.tab").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    }
    links: dict[str, str] = {}
    for line in (files / "tzdata.zi").read_text(encoding="utf-8").splitlines():
        if line.startswith("L "):
            _, target, alias = line.split()
            if alias not in listed:
                links[alias] = target
    return links


def canonical_zone(name: str) -> str:
    """The canonical name of a zone: an alias's target (``US/Mountain`` -> ``America/Denver``),
    else the name itself."""
    links = _zone_links()
    seen = {name}
    while name in links and links[name] not in seen:  # links point at zones; be safe anyway
        name = links[name]
        seen.add(name)
    return name


def require_zone(name: str) -> str:
    """Accept only an IANA zone name the tz database knows (e.g. ``America/Denver``), stored
    by its canonical name (``US/Mountain`` becomes ``America/Denver``)."""
    if name not in _known_zones():
        msg = f"unknown IANA time zone {name!r} (expected e.g. 'America/Denver')"
        raise ValueError(msg)
    return canonical_zone(name)


IanaZone = Annotated[str, AfterValidator(require_zone)]


# 24:00, the midnight that ends a day, as a wall-clock end time. ``datetime.time`` stops at
# 23:59:59.999999, so that is how it is held and stored (the tables' "end after start" checks
# hold as they are); the API reads and writes it as "24:00", and the availability engine
# takes it as the next local midnight (on a DST day too).
END_OF_DAY = time.max
_END_OF_DAY_TEXT = re.compile(r"24:00(:00(\.0+)?)?")


def _read_end_of_day(value: Any) -> Any:
    if isinstance(value, str) and _END_OF_DAY_TEXT.fullmatch(value.strip()):
        return END_OF_DAY
    return value


def wall_time_text(value: time) -> str:
    """``HH:MM`` (with seconds when they are not zero), ``24:00`` for the end of the day."""
    if value == END_OF_DAY:
        return "24:00"
    return value.isoformat(timespec="minutes" if not value.second else "seconds")


def _write_wall_time(value: time) -> str:
    return "24:00" if value == END_OF_DAY else value.isoformat()


_CLOCK = r"([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?"


def _refuse_number(value: Any) -> Any:
    """A number is not a wall-clock time (pydantic would read it as seconds since midnight, in
    UTC): refuse it rather than guess."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        msg = 'expected a local time as text such as "08:00", not a number'
        raise ValueError(msg)
    return value


def _no_offset(value: time) -> time:
    """Wall-clock times are local to the location's zone: "08:00+02:00" is refused."""
    if value.tzinfo is not None:
        msg = "a local wall-clock time has no offset: the zone is the location's"
        raise ValueError(msg)
    return value


# A local wall-clock time ("08:00"), documented as such: JSON Schema's "time" format would
# promise an RFC 3339 time with an offset, which these are not (the zone is the location's).
WallTime = Annotated[
    time,
    BeforeValidator(_refuse_number),
    AfterValidator(_no_offset),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": f"^{_CLOCK}$",
            "description": "Local wall-clock time (HH:MM, seconds optional), no offset.",
            "examples": ["08:00"],
        }
    ),
]

# An end of working hours: a local wall-clock time, or "24:00" for the end of the day.
EndTime = Annotated[
    time,
    BeforeValidator(_read_end_of_day),
    BeforeValidator(_refuse_number),
    AfterValidator(_no_offset),
    PlainSerializer(_write_wall_time, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": f"^({_CLOCK}|24:00)$",
            "description": 'Local wall-clock time (HH:MM); "24:00" is the end of the day.',
            "examples": ["17:00", "24:00"],
        }
    ),
]


EARLIEST_YEAR = 1900
LATEST_YEAR = 2200


def _to_utc(value: datetime) -> datetime:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        msg = f"datetimes must lie between the years {EARLIEST_YEAR} and {LATEST_YEAR}"
        raise ValueError(msg)
    return value.astimezone(UTC)


_NUMBER = re.compile(r"[+-]?\d+(\.\d*)?([eE][+-]?\d+)?")


def _refuse_unix_seconds(value: Any) -> Any:
    """pydantic reads a number (or a string of digits) as Unix seconds; an instant must say
    its offset, so a number is refused like a naive datetime."""
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        msg = (
            "expected an ISO 8601 date-time with an offset, e.g. 2026-03-10T09:00:00-05:00 or "
            "2026-03-10T14:00:00Z, not a number (Unix seconds are not accepted)"
        )
        raise ValueError(msg)
    return value


# An instant as the API accepts it: an ISO 8601 datetime *with* an offset (naive is a 422,
# and so are Unix seconds), normalised to UTC at the edge so every layer below compares like
# with like.
Instant = Annotated[AwareDatetime, BeforeValidator(_refuse_unix_seconds), AfterValidator(_to_utc)]


def to_local(at: datetime, zone: str) -> datetime:
    return at.astimezone(ZoneInfo(zone))


class InstantRange(BaseModel):
    """A half-open span of time [start_at, end_at); both need offsets, end after start."""

    start_at: Instant
    end_at: Instant

    @field_validator("end_at")
    @classmethod
    def _end_after_start(cls, end_at: datetime, info: ValidationInfo) -> datetime:
        start_at = info.data.get("start_at")
        if start_at is not None and end_at <= start_at:
            msg = "end_at must be after start_at"
            raise ValueError(msg)
        return end_at
