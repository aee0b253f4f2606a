from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field


class SlotOption(BaseModel):
    id: int
    name: str


class SlotRead(BaseModel):
    """A bookable start. Times are in the location's zone, with their UTC offset."""

    start_at: datetime
    end_at: datetime
    chair: SlotOption | None = Field(description="The chair the clinic would assign (or null)")
    provider: SlotOption = Field(description="The provider the clinic would assign")
    chair_options: list[SlotOption] = Field(description="Every chair free for this start")
    provider_options: list[SlotOption] = Field(description="Every provider able to take it")


class SlotList(BaseModel):
    appointment_type_id: int
    location_id: int
    timezone: str
    start_at: datetime
    end_at: datetime
    items: list[SlotRead]


class ReasonRead(BaseModel):
    code: str
    provider_id: int | None = None
    message: str


class CandidateRead(BaseModel):
    start_at: datetime
    offered: bool
    reasons: list[ReasonRead]


class ExplainRead(BaseModel):
    appointment_type_id: int
    location_id: int
    timezone: str
    date: date
    candidates: list[CandidateRead]
