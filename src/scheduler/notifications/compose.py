"""What a claimed message says, decided by its kind: the one place a message is prepared.

``prepare`` takes the worker's claimed rows in the claim's transaction and gives back, for
each, either the ``OutgoingMessage`` to send or the reason it is not to go (a reminder for a
visit no longer booked or a patient who opted out: ``withdrawn``; no e-mail address:
``failed``). Each message gets a fresh manage-link token, whose hash is stored with it (the
batch's links in one statement, at the end).

A new kind of message adds its branch in ``_prepare`` (and its subject in ``content``).

The messages of one claim share what does not differ between them: the rows of all its
visits are loaded together (one statement per table), and each visit's ``.ics`` (the same
bytes for every message about that visit) is built once per batch (``_Batch``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from scheduler.config import Settings
from scheduler.feeds.service import patient_instructions, render_booking_ics
from scheduler.kit.secrets import hash_token, new_token
from scheduler.models import (
    AppointmentType,
    Booking,
    Chair,
    Location,
    Notification,
    Patient,
    ReminderOptOut,
)
from scheduler.notifications import repository
from scheduler.notifications.content import MessageContext, render
from scheduler.notifications.sign_in import sign_in_message
from scheduler.notifications.transports import Attachment, OutgoingMessage
from scheduler.waitlist.messages import offer_message

# Booking kinds, by what they carry: reminders are withdrawn for a visit no longer booked or a
# patient who opted out, and carry the opt-out link; the others carry the visit's ``.ics``
# (with this METHOD parameter on the attachment).
REMINDER_KINDS = frozenset({"reminder", "instructions"})
ICS_METHODS = {"confirmation": "PUBLISH", "rescheduled": "PUBLISH", "cancellation": "CANCEL"}
BOOKING_KINDS = REMINDER_KINDS | ICS_METHODS.keys()
# A manage link works until this long after the visit it opens.
LINK_GRACE = timedelta(days=1)


@dataclass(frozen=True)
class Claimed:
    """A claimed message: rendered, or the reason it is not to be sent (``outcome``)."""

    id: int
    attempts: int
    message: OutgoingMessage | None
    outcome: tuple[str, str] | None = None  # (status, reason) when not sent


@dataclass(frozen=True)
class _Visit:
    booking: Booking
    patient: Patient
    location: Location
    appointment_type: AppointmentType
    chair: Chair | None
    tz: ZoneInfo
    instructions: tuple[str, ...]


@dataclass
class _Batch:
    """What the messages of one claim share, each loaded or built once."""

    session: Session
    settings: Settings
    now: datetime
    visits: dict[int, _Visit] = field(default_factory=dict)
    calendars: dict[int, bytes] = field(default_factory=dict)
    opted_out: dict[int, bool] = field(default_factory=dict)
    loaded: list[object] = field(default_factory=list)  # held, so the identity map keeps them
    links: list[dict[str, Any]] = field(default_factory=list)  # the manage links to store

    def has_opted_out(self, patient_id: int) -> bool:
        if (found := self.opted_out.get(patient_id)) is None:
            found = self.session.get(ReminderOptOut, patient_id) is not None
            self.opted_out[patient_id] = found
        return found

    def visit(self, booking_id: int) -> _Visit:
        if (found := self.visits.get(booking_id)) is not None:
            return found
        get = self.session.get
        booking = get(Booking, booking_id)
        assert booking is not None
        patient = get(Patient, booking.patient_id)
        location = get(Location, booking.location_id)
        appointment_type = get(AppointmentType, booking.appointment_type_id)
        assert patient is not None
        assert location is not None
        assert appointment_type is not None
        tz = ZoneInfo(location.timezone)
        visit = _Visit(
            booking=booking,
            patient=patient,
            location=location,
            appointment_type=appointment_type,
            chair=get(Chair, booking.chair_id) if booking.chair_id is not None else None,
            tz=tz,
            instructions=tuple(patient_instructions(appointment_type, booking.start_at, tz)),
        )
        self.visits[booking_id] = visit
        return visit

    def calendar(self, visit: _Visit) -> bytes:
        """The visit's ``.ics``, named and summarised without the treatment, like the
        subject (``content``)."""
        booking_id = visit.booking.id
        assert booking_id is not None
        if (found := self.calendars.get(booking_id)) is None:
            found = render_booking_ics(
                self.session, visit.booking, settings=self.settings, neutral=True
            )
            self.calendars[booking_id] = found
        return found


def public_url(settings: Settings, path: str) -> str:
    return f"{settings.public_base_url.rstrip('/')}/api/v1/public/{path}"


def prepare(
    session: Session, notifications: Iterable[Notification], *, now: datetime, settings: Settings
) -> list[Claimed]:
    """Each of ``notifications`` (claimed, in the claim's transaction) made ready to send."""
    claimed = list(notifications)
    batch = _Batch(session, settings, now)
    visits = {n.booking_id for n in claimed if n.kind in BOOKING_KINDS and n.booking_id}
    batch.loaded = repository.load_visits(session, visits)
    prepared = [_prepare(batch, notification) for notification in claimed]
    repository.insert_links(session, batch.links)
    return prepared


def _prepare(batch: _Batch, notification: Notification) -> Claimed:
    """The message of ``notification``, by its kind."""
    assert notification.id is not None
    if notification.kind in BOOKING_KINDS and notification.booking_id is not None:
        return _booking_message(batch, notification, notification.booking_id)
    if notification.kind == "waitlist_offer":
        message, outcome = offer_message(
            batch.session, notification, now=batch.now, settings=batch.settings
        )
        return Claimed(notification.id, notification.attempts, message, outcome)
    if notification.kind == "sign_in":
        made = sign_in_message(batch.session, notification, now=batch.now, settings=batch.settings)
        if isinstance(made, OutgoingMessage):
            return Claimed(notification.id, notification.attempts, made)
        return Claimed(notification.id, notification.attempts, None, made)
    return Claimed(
        notification.id,
        notification.attempts,
        None,
        ("failed", f"no message is known for kind {notification.kind!r}"),
    )


def _booking_message(batch: _Batch, notification: Notification, booking_id: int) -> Claimed:
    """A message about one visit: confirmation, rescheduled, cancellation, reminders."""
    assert notification.id is not None
    ident, attempts, kind = notification.id, notification.attempts, notification.kind
    settings, now = batch.settings, batch.now
    visit = batch.visit(booking_id)
    booking, patient, location = visit.booking, visit.patient, visit.location
    assert booking.id is not None
    if kind in REMINDER_KINDS:
        if booking.status != "booked":
            return Claimed(ident, attempts, None, ("withdrawn", f"the visit is {booking.status}"))
        if batch.has_opted_out(booking.patient_id):
            return Claimed(ident, attempts, None, ("withdrawn", "the patient opted out"))
    if not patient.email:
        return Claimed(ident, attempts, None, ("failed", "no e-mail address on file"))
    token = new_token()
    batch.links.append(
        {
            "token_hash": hash_token(token),
            "booking_id": booking.id,
            "notification_id": ident,
            "expires_at": max(booking.end_at, now) + LINK_GRACE,
            "created_at": now,
        }
    )
    context = MessageContext(
        kind=kind,
        first_name=patient.first_name,
        clinic=location.name,
        address=location.address,
        phone=location.phone,
        timezone=location.timezone,
        start_at=booking.start_at.astimezone(visit.tz),
        end_at=booking.end_at.astimezone(visit.tz),
        instructions=visit.instructions,
        # The patient's manage page (the public API answers the same token too).
        manage_url=f"{settings.public_base_url.rstrip('/')}/manage/{token}",
        opt_out_url=(
            public_url(settings, f"reminders/{token}/opt-out") if kind in REMINDER_KINDS else None
        ),
        cancelled_by=booking.cancelled_by,
    )
    subject, text, html = render(context, override_dir=settings.mail_template_dir)
    attachments: tuple[Attachment, ...] = ()
    if (method := ICS_METHODS.get(kind)) is not None:
        # UTF-8 said out loud: without a charset a reader takes the part for US-ASCII.
        params = {"method": method, "charset": "utf-8"}
        attachments = (
            Attachment("appointment.ics", "text/calendar", batch.calendar(visit), params),
        )
    headers: dict[str, str] = {}
    if context.opt_out_url:
        headers["List-Unsubscribe"] = f"<{context.opt_out_url}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    sender = settings.mail_location_senders.get(booking.location_id)
    message = OutgoingMessage(
        to=patient.email,
        sender=(sender.from_address if sender and sender.from_address else settings.mail_from),
        reply_to=(sender.reply_to if sender and sender.reply_to else settings.mail_reply_to),
        subject=subject,
        text=text,
        html=html,
        message_id=notification.message_id,
        attachments=attachments,
        headers=headers,
    )
    return Claimed(ident, attempts, message)
