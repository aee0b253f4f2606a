"""What patients see: times, instructions and their own booking; never anyone else's data."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from scheduler.kit.timeutil import Instant


class PublicLocation(BaseModel):
    id: int
    name: str
    address: str
    phone: str
    timezone: str


class PublicAppointmentType(BaseModel):
    id: int
    code: str
    name: str
    description: str
    duration_minutes: int
    requires_approval: bool
    new_patients_welcome: bool = Field(description="False if it needs an earlier visit first")
    bookable_online: bool = Field(
        description="False: it needs an earlier visit first, so book it through the clinic "
        "(holds and bookings of it are refused with 409 not_bookable_online)"
    )
    fasting_hours: int | None
    clear_liquids_hours: int | None
    driver_required: bool
    patient_instructions: str


class PublicSlot(BaseModel):
    start_at: datetime
    end_at: datetime
    provider_name: str | None = None


class PublicSlotList(BaseModel):
    timezone: str
    items: list[PublicSlot]


class PublicHoldCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    appointment_type_id: int
    location_id: int
    start_at: Instant


class PublicHoldRead(BaseModel):
    hold_id: int
    session_token: str = Field(
        description="Send back as the X-Booking-Session header (or the cookie) to book or release"
    )
    start_at: datetime
    end_at: datetime
    expires_at: datetime


class PatientDetails(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    date_of_birth: date
    email: EmailStr
    phone: str = Field(min_length=5, max_length=40)

    @field_validator("date_of_birth")
    @classmethod
    def _plausible(cls, value: date) -> date:
        if value.year < 1900 or value > date.today():  # noqa: DTZ011 - a calendar date, any zone
            msg = "date_of_birth must be a real past date"
            raise ValueError(msg)
        return value


class PublicBookingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hold_id: int
    patient: PatientDetails
    driver_confirmed: bool = Field(
        default=False, description="Required when the visit needs a driver home"
    )
    fasting_acknowledged: bool = Field(
        default=False, description="Required when the visit needs fasting"
    )


class PublicBookingRead(BaseModel):
    status: str
    start_at: datetime
    end_at: datetime
    timezone: str
    appointment_type: str
    location: PublicLocation
    provider_name: str | None
    instructions: list[str]
    cancel_allowed_until: datetime
    reschedule_allowed_until: datetime
    ics_url: str


class PublicBookingConfirmation(PublicBookingRead):
    manage_token: str = Field(description="Keep private: it opens this booking, nothing else")
    manage_url: str


class PublicCancel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=500)


class PublicReschedule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start_at: Instant
