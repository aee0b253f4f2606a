from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

NotificationStatus = Literal["queued", "sent", "failed", "withdrawn"]
NotificationKind = Literal[
    "confirmation", "rescheduled", "cancellation", "reminder", "instructions"
]


class NotificationRead(BaseModel):
    """A message to the patient as staff see it: what, when, and how its sending went."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    booking_id: int | None
    kind: NotificationKind
    channel: str
    status: NotificationStatus
    due_at: datetime
    attempts: int
    last_error: str
    sent_at: datetime | None
    created_at: datetime


class ReminderOptOutRead(BaseModel):
    reminders: Literal["off"] = "off"
    detail: str = (
        "You will get no more reminders by e-mail. Confirmations and changes to your "
        "appointments are still sent."
    )
