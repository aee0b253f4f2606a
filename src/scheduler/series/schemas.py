"""Series templates and treatment series over the API."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from scheduler.bookings.schemas import BookingRead, Override
from scheduler.kit.ids import MAX_ROW_ID
from scheduler.kit.timeutil import Instant

# The largest id an integer primary key holds (PostgreSQL's ``integer``): larger ids are a
# 422 here rather than an error from the database's advisory locks.


class SeriesTemplateBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    visit_count: int = Field(ge=1, le=30, description="Visits in the course (an induction: 6)")
    window_days: int = Field(ge=1, le=93, description="Days from the first visit's date")
    min_gap_hours: int = Field(ge=1, le=24 * 93, description="Least time between two starts")
    max_gap_hours: int = Field(ge=1, le=24 * 93, description="Most time between two starts")
    max_per_week: int = Field(ge=1, le=7, description="Visits per calendar week (clinic zone)")
    booster_interval_days: int | None = Field(
        default=None, ge=1, le=365, description="Boosters after the course, every N days"
    )
    prefer_same_time: bool = True
    prefer_same_chair: bool = False
    prefer_same_provider: bool = False

    @model_validator(mode="after")
    def _gaps(self) -> SeriesTemplateBase:
        if self.max_gap_hours < self.min_gap_hours:
            raise ValueError("max_gap_hours must be at least min_gap_hours")
        return self


class SeriesTemplateCreate(SeriesTemplateBase):
    pass


class SeriesTemplateUpdate(BaseModel):
    """Change a template (later series only; booked ones keep their visits). ``active``
    false withdraws it from new bookings."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    visit_count: int | None = Field(default=None, ge=1, le=30)
    window_days: int | None = Field(default=None, ge=1, le=93)
    min_gap_hours: int | None = Field(default=None, ge=1, le=24 * 93)
    max_gap_hours: int | None = Field(default=None, ge=1, le=24 * 93)
    max_per_week: int | None = Field(default=None, ge=1, le=7)
    booster_interval_days: int | None = Field(default=None, ge=1, le=365)
    prefer_same_time: bool | None = None
    prefer_same_chair: bool | None = None
    prefer_same_provider: bool | None = None
    active: bool | None = None


class SeriesTemplateRead(SeriesTemplateBase):
    model_config = ConfigDict(from_attributes=True, extra="ignore")

    id: int
    appointment_type_id: int
    active: bool
    created_at: datetime
    updated_at: datetime


class ExpectedVisit(BaseModel):
    """One visit of a previewed plan, sent back with the booking."""

    model_config = ConfigDict(extra="forbid")

    start_at: Instant
    chair_id: int | None = Field(default=None, ge=1, le=MAX_ROW_ID)
    provider_id: int = Field(ge=1, le=MAX_ROW_ID)


class SeriesRequest(BaseModel):
    """A course for a patient: which template, where, from which local date, and how."""

    model_config = ConfigDict(extra="forbid")

    patient_id: int = Field(ge=1, le=MAX_ROW_ID)
    template_id: int = Field(ge=1, le=MAX_ROW_ID)
    location_id: int = Field(ge=1, le=MAX_ROW_ID)
    first_day: date = Field(description="Local date of the first visit (clinic zone)")
    provider_id: int | None = Field(
        default=None, ge=1, le=MAX_ROW_ID, description="Only this provider (a hard limit)"
    )
    earliest_time: time | None = Field(
        default=None, description="No visit starts before this local time (a hard limit)"
    )
    latest_time: time | None = Field(
        default=None, description="No visit starts after this local time (a hard limit)"
    )
    prefer_same_time: bool | None = Field(default=None, description="Default: the template's")
    prefer_same_chair: bool | None = None
    prefer_same_provider: bool | None = None
    notes: str = Field(default="", max_length=4000)
    override: Override | None = Field(
        default=None, description="Staff: book although a prerequisite is missing, with a reason"
    )
    expected_visits: list[ExpectedVisit] | None = Field(
        default=None,
        max_length=30,
        description="The previewed placement: when the placement found now differs (someone "
        "booked meanwhile), nothing is booked and the answer is 409 series_plan_changed with "
        "the new preview",
    )

    @model_validator(mode="after")
    def _times(self) -> SeriesRequest:
        for value in (self.earliest_time, self.latest_time):
            if value is not None and value.tzinfo is not None:
                raise ValueError("earliest_time and latest_time are local times without offset")
        if (
            self.earliest_time is not None
            and self.latest_time is not None
            and self.latest_time < self.earliest_time
        ):
            raise ValueError("latest_time must not be before earliest_time")
        return self


class PlannedVisitRead(BaseModel):
    number: int
    start_at: datetime
    end_at: datetime
    chair_id: int | None
    provider_id: int


class ReasonCount(BaseModel):
    code: str
    message: str
    count: int = Field(description="Starts in the span that fail for this reason")


class Unplaceable(BaseModel):
    visit_number: int = Field(description="The first visit (1-based) that cannot be placed")
    earliest_at: datetime
    latest_at: datetime
    placed: list[datetime] = Field(description="The visits before it, as they could be placed")
    series_reasons: list[str]
    reasons: list[ReasonCount] = Field(description="The slot engine's reasons in that span")


AlternativeKind = Literal["later_first_day", "any_time_of_day", "any_provider"]


class Alternative(BaseModel):
    kind: AlternativeKind
    first_day: date
    visits: list[PlannedVisitRead]


class SeriesPreview(BaseModel):
    feasible: bool
    timezone: str
    visits: list[PlannedVisitRead]
    score: int = Field(description="Preferences kept (one point per visit and preference)")
    max_score: int
    problem: Unplaceable | None = None
    alternatives: list[Alternative] = []


class SeriesProgress(BaseModel):
    total: int
    fulfilled: int
    upcoming: int
    cancelled: int


class SeriesRead(BaseModel):
    id: int
    patient_id: int
    template_id: int | None
    location_id: int | None
    label: str
    status: str
    created_at: datetime
    cancelled_at: datetime | None
    progress: SeriesProgress
    visits: list[BookingRead]


class SeriesCancel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=1000)
    cancelled_by: Literal["patient", "clinic"] = "clinic"


class SeriesVisitReschedule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start_at: Instant
    chair_id: int | None = Field(default=None, ge=1, le=MAX_ROW_ID)
    provider_id: int | None = Field(default=None, ge=1, le=MAX_ROW_ID)
    reason: str = Field(default="", max_length=1000)


class BoosterProposal(BaseModel):
    series_id: int
    interval_days: int
    target_at: datetime = Field(description="The last visit's local time, interval days later")
    proposals: list[PlannedVisitRead] = Field(description="Offered starts nearest the target")


class BoosterBooking(BaseModel):
    """Book a booster (usually one of the proposed starts) in the series."""

    model_config = ConfigDict(extra="forbid")

    start_at: Instant
    chair_id: int | None = Field(default=None, ge=1, le=MAX_ROW_ID)
    provider_id: int | None = Field(default=None, ge=1, le=MAX_ROW_ID)
    notes: str = Field(default="", max_length=4000)
    override: Override | None = Field(
        default=None, description="Staff: book although a prerequisite is missing, with a reason"
    )


class BoosterBooked(BaseModel):
    booking: BookingRead = Field(description="The booster, linked to the series")
    series: SeriesRead = Field(description="The series with the booster among its visits")
    created: bool = Field(description="False when this start was already booked (a retry)")
