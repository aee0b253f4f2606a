"""Request and response shapes for providers, their weekly rules and their exceptions.

Shape only: ranges, local times without offsets, end after start. Whether a location belongs to
the provider, and whether two rules overlap, are service rules.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from scheduler.kit.timeutil import EndTime, Instant, InstantRange, WallTime

ExceptionKind = Literal["unavailable", "extra"]

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Email = Annotated[EmailStr, AfterValidator(str.lower)]
MAX_LINKS = 200


def _unique_ids(ids: list[int]) -> list[int]:
    return sorted(set(ids))


def _wall_clock(value: time) -> time:
    if value.tzinfo is not None:
        msg = "a weekly time is local wall-clock time in the location's zone: no offset"
        raise ValueError(msg)
    return value


# A local wall-clock time such as "08:00"; "08:00+02:00" is refused (the zone is the location's).
LocalTime = Annotated[WallTime, AfterValidator(_wall_clock)]
# The end of working hours: the same, or "24:00" for the end of the day (a night shift).
LocalEndTime = Annotated[EndTime, AfterValidator(_wall_clock)]

AUDIT_REASON = Field(
    default="", max_length=500, description="Why the change is made; kept in the audit log."
)


def rule_shape_problem(
    start_time: time, end_time: time, valid_from_date: date | None, valid_until_date: date | None
) -> tuple[str, str] | None:
    """(field, message) when a weekly rule is malformed, else None.

    A rule ends after it starts on the same local date (the table forbids wrapping past
    midnight); its validity dates are inclusive, so from == until is a one-day rule.
    """
    if end_time <= start_time:
        return "end_time", "end_time must be after start_time"
    if (
        valid_from_date is not None
        and valid_until_date is not None
        and valid_until_date < valid_from_date
    ):
        return "valid_until_date", "valid_until_date must not be before valid_from_date"
    return None


def _not_null(value: object) -> object:
    if value is None:
        msg = "may be left out, but not null"
        raise ValueError(msg)
    return value


class ProviderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    display_name: Name | None = Field(default=None, description="Defaults to name")
    credentials: str = Field(default="", max_length=50, description="e.g. MD, NP, RN, CRNA")
    email: Email | None = None
    max_concurrent_patients: int = Field(
        default=1, ge=1, le=20, description="Patients the provider can monitor at once"
    )
    min_minutes_between_starts: int = Field(
        default=0, ge=0, le=240, description="Further gap between the starts of two appointments"
    )
    active: bool = True
    location_ids: list[int] = Field(default_factory=list, max_length=MAX_LINKS)
    appointment_type_ids: list[int] = Field(default_factory=list, max_length=MAX_LINKS)

    _ids = field_validator("location_ids", "appointment_type_ids")(_unique_ids)


class ProviderUpdate(BaseModel):
    """Partial update; ``location_ids`` / ``appointment_type_ids`` replace the whole set."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    display_name: Name | None = None
    credentials: str | None = Field(default=None, max_length=50)
    email: Email | None = Field(default=None, description="null clears the address")
    max_concurrent_patients: int | None = Field(default=None, ge=1, le=20)
    min_minutes_between_starts: int | None = Field(default=None, ge=0, le=240)
    active: bool | None = None
    location_ids: list[int] | None = Field(default=None, max_length=MAX_LINKS)
    appointment_type_ids: list[int] | None = Field(default=None, max_length=MAX_LINKS)

    @field_validator("location_ids", "appointment_type_ids")
    @classmethod
    def _ids(cls, value: list[int] | None) -> list[int] | None:
        return None if value is None else _unique_ids(value)

    _no_nulls = field_validator(
        "name",
        "display_name",
        "credentials",
        "max_concurrent_patients",
        "min_minutes_between_starts",
        "active",
        "location_ids",
        "appointment_type_ids",
    )(_not_null)


class ProviderRead(BaseModel):
    id: int
    name: str
    display_name: str
    credentials: str
    email: str
    max_concurrent_patients: int
    min_minutes_between_starts: int
    active: bool
    location_ids: list[int]
    appointment_type_ids: list[int]


class AvailabilityRuleCreate(BaseModel):
    """Weekly working hours at one of the provider's locations, in the location's local time."""

    model_config = ConfigDict(extra="forbid")

    location_id: int
    weekday: int = Field(ge=0, le=6, description="0 = Monday … 6 = Sunday")
    start_time: LocalTime
    end_time: LocalEndTime
    valid_from_date: date | None = Field(default=None, description="First date (inclusive)")
    valid_until_date: date | None = Field(default=None, description="Last date (inclusive)")
    reason: str = AUDIT_REASON

    @field_validator("end_time")
    @classmethod
    def _end_after_start(cls, value: time, info: ValidationInfo) -> time:
        start = info.data.get("start_time")
        if start is not None and value <= start:
            msg = "end_time must be after start_time"
            raise ValueError(msg)
        return value

    @field_validator("valid_until_date")
    @classmethod
    def _until_after_from(cls, value: date | None, info: ValidationInfo) -> date | None:
        valid_from = info.data.get("valid_from_date")
        if value is not None and valid_from is not None and value < valid_from:
            msg = "valid_until_date must not be before valid_from_date"
            raise ValueError(msg)
        return value


class AvailabilityRuleUpdate(BaseModel):
    """Partial update; the merged rule is checked again (shape, location, overlap)."""

    model_config = ConfigDict(extra="forbid")

    location_id: int | None = None
    weekday: int | None = Field(default=None, ge=0, le=6)
    start_time: LocalTime | None = None
    end_time: LocalEndTime | None = None
    valid_from_date: date | None = Field(default=None, description="null: no first date")
    valid_until_date: date | None = Field(default=None, description="null: open-ended")
    reason: str = AUDIT_REASON

    _no_nulls = field_validator("location_id", "weekday", "start_time", "end_time")(_not_null)


class AvailabilityRuleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    provider_id: int
    location_id: int
    weekday: int
    start_time: WallTime
    end_time: EndTime
    valid_from_date: date | None
    valid_until_date: date | None


class ProviderExceptionCreate(InstantRange):
    """Time off (``unavailable``) or extra hours (``extra``, which must name the location).

    An ``unavailable`` without a location applies at every location of the provider.
    """

    model_config = ConfigDict(extra="forbid")

    kind: ExceptionKind
    location_id: int | None = Field(default=None, validate_default=True)
    reason: str = Field(default="", max_length=500)

    @field_validator("location_id")
    @classmethod
    def _extra_names_location(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is None and info.data.get("kind") == "extra":
            msg = "location_id is required for extra hours"
            raise ValueError(msg)
        return value


class ProviderExceptionUpdate(BaseModel):
    """Partial update; the merged exception is checked again."""

    model_config = ConfigDict(extra="forbid")

    kind: ExceptionKind | None = None
    start_at: Instant | None = None
    end_at: Instant | None = None
    location_id: int | None = Field(default=None, description="null: every location")
    reason: str | None = Field(default=None, max_length=500)

    _no_nulls = field_validator("kind", "start_at", "end_at", "reason")(_not_null)


class ProviderExceptionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    provider_id: int
    location_id: int | None
    kind: ExceptionKind
    start_at: datetime
    end_at: datetime
    reason: str
