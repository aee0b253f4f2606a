from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from scheduler.models.enums import NotificationKind, NotificationStatus
from scheduler.notifications.repository import MessageRow


class NotificationRead(BaseModel):
    """A message to the patient as staff see it: what, when, and how its sending went."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    booking_id: int | None = Field(
        description="The visit the message is about; null for a sign-in link or a waitlist "
        "offer, which are about the patient only."
    )
    patient_id: int = Field(
        description="The patient the message is to (for a visit's message, the booking's)."
    )
    kind: NotificationKind
    channel: str
    status: NotificationStatus
    due_at: datetime
    attempts: int
    last_error: str
    sent_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, row: MessageRow) -> NotificationRead:
        n = row.notification
        return cls(
            id=n.id,
            booking_id=n.booking_id,
            patient_id=row.patient.id,
            kind=NotificationKind(n.kind),
            channel=n.channel,
            status=NotificationStatus(n.status),
            due_at=n.due_at,
            attempts=n.attempts,
            last_error=n.last_error,
            sent_at=n.sent_at,
            created_at=n.created_at,
        )


class ReminderOptOutRead(BaseModel):
    reminders: Literal["off"] = "off"
    detail: str = (
        "You will get no more reminders by e-mail. Confirmations and changes to your "
        "appointments are still sent."
    )
