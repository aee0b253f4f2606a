"""Waitlist entries and offers over the API."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from scheduler.kit.ids import MAX_ROW_ID

EntryStatus = Literal["waiting", "offered", "booked", "expired", "cancelled"]
OfferStatus = Literal["offered", "accepted", "passed", "expired"]


class WaitlistEntryCreate(BaseModel):
    """Who waits for what: a type at a location, between two dates (inclusive) and, on each
    of those days, between two wall-clock times in the clinic's zone (the visit starts in
    that window). ``provider_id`` null: any provider."""

    model_config = ConfigDict(extra="forbid")

    patient_id: int = Field(ge=1, le=MAX_ROW_ID)
    location_id: int = Field(ge=1, le=MAX_ROW_ID)
    appointment_type_id: int = Field(ge=1, le=MAX_ROW_ID)
    provider_id: int | None = Field(default=None, ge=1, le=MAX_ROW_ID)
    earliest_date: date
    latest_date: date
    earliest_time: time = time(0, 0)
    latest_time: time = time(23, 59)

    @model_validator(mode="after")
    def _windows(self) -> Self:
        if self.earliest_time.tzinfo is not None or self.latest_time.tzinfo is not None:
            raise ValueError("times are the clinic's wall clock, without an offset")
        if self.latest_date < self.earliest_date:
            raise ValueError("latest_date must not be before earliest_date")
        if self.latest_time <= self.earliest_time:
            raise ValueError("latest_time must be after earliest_time")
        return self


class WaitlistOfferRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    entry_id: int
    hold_id: int
    start_at: datetime
    end_at: datetime
    expires_at: datetime
    status: OfferStatus
    booking_id: int | None
    created_at: datetime


class WaitlistEntryRead(BaseModel):
    id: int
    patient_id: int
    patient_name: str
    location_id: int
    appointment_type_id: int
    provider_id: int | None
    earliest_date: date
    latest_date: date
    earliest_time: time
    latest_time: time
    timezone: str
    status: EntryStatus
    booking_id: int | None
    created_at: datetime
    offer: WaitlistOfferRead | None = Field(
        default=None, description="The offer in flight (status offered), if any"
    )
