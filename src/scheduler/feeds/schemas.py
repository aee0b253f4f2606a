from __future__ import annotations

from datetime import datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class FeedTokenCreate(BaseModel):
    """A subscription for one provider's schedule or one location's (give exactly one)."""

    model_config = ConfigDict(extra="forbid")

    provider_id: int | None = None
    location_id: int | None = None
    label: str = Field(default="", max_length=200, description="e.g. 'Dr. Moreno – iPhone'")

    @model_validator(mode="after")
    def _exactly_one_owner(self) -> Self:
        if (self.provider_id is None) == (self.location_id is None):
            msg = "give exactly one of provider_id or location_id"
            raise ValueError(msg)
        return self


class FeedTokenRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    provider_id: int | None
    location_id: int | None
    label: str
    created_at: datetime
    revoked_at: datetime | None
    replaced_by_id: int | None = Field(
        default=None, description="The token a rotation replaced this one with"
    )


class FeedTokenSecret(FeedTokenRead):
    """Returned once, at creation or rotation: the secret URL is not stored and cannot be
    shown again."""

    token: str
    url: str
