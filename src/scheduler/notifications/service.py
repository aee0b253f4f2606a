"""Staff's view of a booking's messages, resending, and the patient's links in messages.

No FastAPI here. Staff see a message's kind, state, attempts and last error, never its
rendered content (that is made at send time). A resend queues a copy due now with a new
``Message-ID`` (a deliberate second message, unlike the automatic resend after a crash); the
original keeps its history.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from scheduler.audit.service import audited_write
from scheduler.auth.actors import Actor
from scheduler.bookings.service import get_booking_for
from scheduler.errors import Conflict, NotFound
from scheduler.kit.secrets import hash_token
from scheduler.models import Booking, Notification, ReminderOptOut
from scheduler.notifications import repository
from scheduler.notifications.compose import LINK_GRACE
from scheduler.notifications.outbox import new_message_id, policy_of, queued_for

REMINDER_KINDS = frozenset({"reminder", "instructions"})
# A link follows its booking through at most this many reschedules.
MAX_RESCHEDULE_HOPS = 50


def list_for_booking(session: Session, booking_id: int, *, viewer: Actor) -> list[Notification]:
    get_booking_for(session, booking_id, viewer=viewer)
    return queued_for(session, booking_id)


def resend(session: Session, notification_id: int, *, actor: Actor, now: datetime) -> Notification:
    original = session.get(Notification, notification_id)
    if original is None:
        raise NotFound(f"Notification {notification_id} does not exist.")
    if original.booking_id is None:
        raise Conflict(
            "Only messages about a visit can be resent; this one was a one-off.",
            code="invalid_transition",
        )
    booking = get_booking_for(session, original.booking_id, viewer=actor)
    if original.status == "queued":
        raise Conflict(
            "This message is still queued; it will be sent when due.", code="invalid_transition"
        )
    if original.kind in REMINDER_KINDS and (booking.status != "booked" or booking.start_at <= now):
        raise Conflict(
            f"A reminder cannot be resent for a visit that is {booking.status}"
            + (" and past." if booking.start_at <= now else "."),
            code="invalid_transition",
        )
    copy = Notification(
        booking_id=original.booking_id,
        kind=original.kind,
        channel=original.channel,
        status="queued",
        due_at=now,
        message_id=new_message_id(policy_of(session)),
        created_at=now,
        updated_at=now,
    )
    audited_write(
        session,
        copy,
        actor=actor,
        now=now,
        action="notification.resend",
        entity_type="booking",
        entity_id=original.booking_id,
        after=lambda: {
            "notification_id": copy.id,
            "resent_from": original.id,
            "kind": original.kind,
        },
    )
    return copy


def booking_for_link(session: Session, token: str, now: datetime) -> Booking | None:
    """The booking a message's manage link opens (the latest of its reschedules), or None
    for an unknown or expired link: a link works until a day after the visit it now opens."""
    link = repository.link_by_token_hash(session, hash_token(token))
    if link is None:
        return None
    booking = session.get(Booking, link.booking_id)
    for _ in range(MAX_RESCHEDULE_HOPS):
        if booking is None or booking.status != "cancelled":
            break
        successor = repository.latest_successor(session, booking.id)
        if successor is None:
            break
        booking = successor
    if booking is None or now >= max(link.expires_at, booking.end_at + LINK_GRACE):
        return None
    return booking


def opt_out_of_reminders(session: Session, token: str, *, now: datetime) -> None:
    """The patient of the link's booking gets no more reminders; unknown links are 404."""
    booking = booking_for_link(session, token, now)
    if booking is None:
        raise NotFound("Not found.")
    if session.get(ReminderOptOut, booking.patient_id) is None:
        session.add(ReminderOptOut(patient_id=booking.patient_id, created_at=now))
        session.flush()
