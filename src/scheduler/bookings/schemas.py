from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from scheduler.kit.timeutil import Instant
from scheduler.models.enums import BookingStatus

__all__ = ["BookingStatus"]


class Override(BaseModel):
    """Staff only: book outside availability, notice, horizon or prerequisites, with a reason.

    Never overrides a chair conflict, provider capacity, staggered starts or a patient's own
    overlapping booking: those are physical limits, not policy.
    """

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=1000)


class HoldCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    appointment_type_id: int
    location_id: int
    start_at: Instant
    chair_id: int | None = None
    provider_id: int | None = None
    patient_id: int | None = None


class HoldRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    appointment_type_id: int
    location_id: int
    chair_id: int | None
    provider_id: int
    patient_id: int | None
    start_at: datetime
    end_at: datetime
    expires_at: datetime


class BookingCreate(BaseModel):
    """Book from a hold (``hold_id``) or directly (type, location and start)."""

    model_config = ConfigDict(extra="forbid")

    patient_id: int
    hold_id: int | None = None
    appointment_type_id: int | None = None
    location_id: int | None = None
    start_at: Instant | None = None
    chair_id: int | None = None
    provider_id: int | None = None
    notes: str = Field(default="", max_length=4000)
    driver_confirmed: bool = False
    fasting_acknowledged: bool = False
    series_id: int | None = None
    override: Override | None = None


class BookingUpdate(BaseModel):
    """What may change in place. Time, chair and provider change through ``reschedule``."""

    model_config = ConfigDict(extra="forbid")

    notes: str | None = Field(default=None, max_length=4000)
    driver_confirmed: bool | None = None
    fasting_acknowledged: bool | None = None


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=1000)
    cancelled_by: Literal["patient", "clinic"] = "clinic"


class RescheduleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start_at: Instant
    chair_id: int | None = None
    provider_id: int | None = None
    reason: str = Field(default="", max_length=1000)
    override: Override | None = None


class ActionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=1000)


class BookingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    patient_id: int
    appointment_type_id: int
    location_id: int
    chair_id: int | None
    provider_id: int
    start_at: datetime
    end_at: datetime
    status: BookingStatus
    source: str
    version: int
    ical_uid: str
    sequence: int
    notes: str
    override_reason: str
    cancel_reason: str
    cancelled_by: str
    cancelled_at: datetime | None
    late_cancel: bool
    rescheduled_from_id: int | None
    series_id: int | None
    driver_confirmed: bool
    fasting_acknowledged: bool
    created_at: datetime
    updated_at: datetime


class AuditEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    occurred_at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: int | None
    before: dict[str, object] | None
    after: dict[str, object] | None
    reason: str
    request_id: str
