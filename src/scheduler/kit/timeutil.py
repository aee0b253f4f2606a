"""Small time helpers that are not domain rules."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated
from zoneinfo import ZoneInfo, available_timezones

from pydantic import AfterValidator, AwareDatetime, BaseModel, ValidationInfo, field_validator


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def require_zone(name: str) -> str:
    """Accept only an IANA zone name the tz database knows (e.g. ``America/Denver``)."""
    if name not in _known_zones():
        msg = f"unknown IANA time zone {name!r} (expected e.g. 'America/Denver')"
        raise ValueError(msg)
    return name


IanaZone = Annotated[str, AfterValidator(require_zone)]


EARLIEST_YEAR = 1900
LATEST_YEAR = 2200


def _to_utc(value: datetime) -> datetime:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        msg = f"datetimes must lie between the years {EARLIEST_YEAR} and {LATEST_YEAR}"
        raise ValueError(msg)
    return value.astimezone(UTC)


# An instant as the API accepts it: an ISO 8601 datetime *with* an offset (naive is a 422),
# normalised to UTC at the edge so every layer below compares like with like.
Instant = Annotated[AwareDatetime, AfterValidator(_to_utc)]


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
