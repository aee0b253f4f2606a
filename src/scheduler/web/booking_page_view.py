"""What a booking's own page shows: who, what, when and where, its history from the audit
trail, its messages from ``notifications.service`` and the actions its status allows. Every
time is the location's wall clock, labelled with the zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from scheduler.audit import service as audit_service
from scheduler.auth.actors import Actor
from scheduler.availability import service as availability_service
from scheduler.bookings import service as bookings_service
from scheduler.bookings.placement import PREREQUISITE_TEXT
from scheduler.kit.zones import zone_label
from scheduler.models import (
    AppointmentType,
    AuditEvent,
    Booking,
    Chair,
    Location,
    Notification,
    Patient,
    Provider,
    User,
)
from scheduler.notifications import service as notifications_service
from scheduler.web import repository
from scheduler.web.messages_view import KIND_LABELS
from scheduler.web.messages_view import STATUS_LABELS as MESSAGE_STATUS_LABELS
from scheduler.web.today import STATUS_LABELS

ACTION_LABELS = {
    "booking.create": "Booked",
    "booking.override": "Booked with an override",
    "booking.confirm": "Confirmed",
    "booking.check-in": "Checked in",
    "booking.complete": "Completed",
    "booking.no-show": "Marked as no-show",
    "booking.cancel": "Cancelled",
    "booking.reschedule": "Moved to another time",
    "booking.update": "Details changed",
    "booking.entered-in-error": "Marked as entered in error",
    "notification.resend": "Message resent",
}
# The page's action buttons, in order: action -> button label.
STATUS_ACTIONS = (
    ("confirm", "Confirm"),
    ("check-in", "Check in"),
    ("complete", "Complete"),
    ("no-show", "Mark no-show"),
)


def readable_override(text: str) -> str:
    """An override reason as stored ("reason [prerequisite:consent_signed, min_notice]") with
    what the override lifted in words: "reason (lifted: signed treatment consent; ...)"."""
    if not text.endswith("]") or " [" not in text:
        return text
    reason, codes = text[:-1].rsplit(" [", 1)
    words = []
    for code in codes.split(", "):
        if code.startswith("prerequisite:"):
            words.append(PREREQUISITE_TEXT.get(code.split(":", 1)[1], code))
        else:
            words.append(availability_service.REASON_TEXT.get(code, code))
    return f"{reason} (lifted: {'; '.join(words)})"


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime  # local
    who: str
    what: str
    reason: str
    detail: str


@dataclass(frozen=True)
class MessageRow:
    id: int
    kind: str
    status: str
    status_code: str
    due_at: datetime  # local
    sent_at: datetime | None  # local
    attempts: int
    last_error: str
    can_resend: bool
    resent: bool = False  # a failed message followed by a newer one of its kind


@dataclass(frozen=True)
class BookingPage:
    booking: Booking
    patient: Patient
    appointment_type: AppointmentType
    location: Location
    chair: Chair | None
    provider: Provider
    zone_label: str
    start_at: datetime  # local
    end_at: datetime  # local
    status_label: str
    history: list[HistoryEntry]
    messages: list[MessageRow]
    actions: list[tuple[str, str]]
    can_cancel: bool
    can_reschedule: bool
    cancel_is_late: bool
    cutoff_hours: float
    rescheduled_to_id: int | None

    @property
    def override_reason(self) -> str:
        return readable_override(self.booking.override_reason)

    @property
    def last_change(self) -> HistoryEntry | None:
        return self.history[-1] if self.history else None


def _who(event: AuditEvent, user: User | None) -> str:
    if user is not None:
        return user.full_name or user.email
    if event.actor_user_id is not None:
        return event.actor  # a staff account deleted since
    if event.actor == "system":
        return "The system"
    if event.actor.startswith(("public", "patient")):
        return "The patient, online"
    return event.actor


def _detail(event: AuditEvent) -> str:
    before, after = event.before or {}, event.after or {}
    parts = []
    if before.get("status") and after.get("status") and before["status"] != after["status"]:
        old = STATUS_LABELS.get(str(before["status"]), str(before["status"]))
        new = STATUS_LABELS.get(str(after["status"]), str(after["status"]))
        parts.append(f"{old} → {new}")
    if event.action == "booking.cancel" and after.get("late_cancel"):
        parts.append("late cancellation")
    return "; ".join(parts)


def history_of(session: Session, booking_id: int, zone: str) -> list[HistoryEntry]:
    events = audit_service.events_of(session, entity_type="booking", entity_id=booking_id)
    tz = ZoneInfo(zone)
    return [
        HistoryEntry(
            at=e.occurred_at.astimezone(tz),
            who=_who(e, user),
            what=ACTION_LABELS.get(e.action, e.action),
            reason=readable_override(e.reason),
            detail=_detail(e),
        )
        for e, user in events
    ]


def _messages(
    rows: Sequence[Notification], booking: Booking, zone: str, now: datetime
) -> list[MessageRow]:
    tz = ZoneInfo(zone)
    resent = notifications_service.superseded_ids(rows)
    result = []
    for n in rows:
        assert n.id is not None
        result.append(
            MessageRow(
                id=n.id,
                kind=KIND_LABELS.get(n.kind, n.kind),
                status=MESSAGE_STATUS_LABELS.get(n.status, n.status),
                status_code=n.status,
                due_at=n.due_at.astimezone(tz),
                sent_at=n.sent_at.astimezone(tz) if n.sent_at else None,
                attempts=n.attempts,
                last_error=n.last_error,
                can_resend=notifications_service.offers_resend(
                    n, booking, now=now, superseded=n.id in resent
                ),
                resent=n.id in resent,
            )
        )
    return result


def booking_page(session: Session, booking_id: int, *, viewer: Actor, now: datetime) -> BookingPage:
    booking = bookings_service.get_booking_for(session, booking_id, viewer=viewer)
    patient = session.get(Patient, booking.patient_id)
    appointment_type = session.get(AppointmentType, booking.appointment_type_id)
    location = session.get(Location, booking.location_id)
    provider = session.get(Provider, booking.provider_id)
    assert patient is not None
    assert appointment_type is not None
    assert location is not None
    assert provider is not None
    chair = session.get(Chair, booking.chair_id) if booking.chair_id is not None else None
    tz = ZoneInfo(location.timezone)
    actions = []
    for action, label in STATUS_ACTIONS:
        allowed = booking.status in bookings_service.TRANSITIONS[action][0]
        if action == "no-show" and now < booking.start_at:
            allowed = False  # only once the visit has started
        if allowed:
            actions.append((action, label))
    messages = notifications_service.list_for_booking(session, booking_id, viewer=viewer)
    return BookingPage(
        booking=booking,
        patient=patient,
        appointment_type=appointment_type,
        location=location,
        chair=chair,
        provider=provider,
        zone_label=zone_label(location.timezone, booking.start_at),
        start_at=booking.start_at.astimezone(tz),
        end_at=booking.end_at.astimezone(tz),
        status_label=STATUS_LABELS.get(booking.status, booking.status),
        history=history_of(session, booking_id, location.timezone),
        messages=_messages(messages, booking, location.timezone, now),
        actions=actions,
        can_cancel=booking.status in bookings_service.TRANSITIONS["cancel"][0],
        can_reschedule=booking.status in bookings_service.TRANSITIONS["reschedule"][0],
        cancel_is_late=bookings_service.is_late(booking, appointment_type, now),
        cutoff_hours=appointment_type.patient_cancel_cutoff_minutes / 60,
        rescheduled_to_id=repository.rescheduled_to(session, booking_id),
    )
