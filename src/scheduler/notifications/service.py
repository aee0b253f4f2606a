"""Staff's view of the messages (a booking's, a patient's, or all of them, failed first),
resending, and the patient's links in messages.

No FastAPI here. Staff see a message's kind, state, attempts and last error, never its
rendered content (that is made at send time). A resend queues a copy due now with a new
``Message-ID`` (a deliberate second message, unlike the automatic resend after a crash); the
original keeps its history. Only messages about a visit are resent, and only while they still
make sense: a sign-in link (single use, short-lived) or a waitlist offer (its hold runs out)
would carry a stale or used link, and the patient or the waitlist makes a new one instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sqlmodel import Session

from scheduler.audit.service import audited_write
from scheduler.auth.actors import Actor
from scheduler.bookings.service import get_booking_for
from scheduler.errors import Conflict, NotFound
from scheduler.kit.secrets import hash_token
from scheduler.models import Booking, Location, Notification, Patient, ReminderOptOut
from scheduler.models.enums import NotificationKind, NotificationStatus, Role
from scheduler.notifications import repository
from scheduler.notifications.compose import LINK_GRACE
from scheduler.notifications.outbox import new_message_id, policy_of, queued_for

# What callers filter by and get back (pages import them from here, not the repository).
from scheduler.notifications.repository import MessageFilter as MessageFilter
from scheduler.notifications.repository import MessageOrder as MessageOrder
from scheduler.notifications.repository import MessageRow as MessageRow

REMINDER_KINDS = frozenset({"reminder", "instructions"})

# Kinds never resent, and why (in words for the staff member who asked).
NOT_RESENDABLE: dict[str, str] = {
    NotificationKind.SIGN_IN: (
        "A sign-in link works once and only for a short time, so an old one is not sent "
        "again. The patient can ask for a new link on the sign-in page."
    ),
    NotificationKind.WAITLIST_OFFER: (
        "A waitlist offer holds its time only for a while, so it is not sent again. The "
        "waitlist offers the next freed time on its own."
    ),
}
# A link follows its booking through at most this many reschedules.
MAX_RESCHEDULE_HOPS = 50


def list_for_booking(session: Session, booking_id: int, *, viewer: Actor) -> list[Notification]:
    get_booking_for(session, booking_id, viewer=viewer)
    return queued_for(session, booking_id)


def list_messages(
    session: Session,
    given: MessageFilter,
    *,
    viewer: Actor,
    order: MessageOrder = "failed_first",
    limit: int,
    offset: int,
) -> tuple[list[MessageRow], int]:
    """Messages matching ``given`` in ``order`` (by default failed ones first, then the
    newest due first) and how many match in all. A provider sees only the messages about
    their own visits (so never a sign-in link or a waitlist offer)."""
    if viewer.role == Role.PROVIDER:
        given = replace(given, provider_id=viewer.provider_id or -1)
    return repository.list_messages(session, given, order=order, limit=limit, offset=offset)


def messages_of_booking(session: Session, booking_id: int, *, viewer: Actor) -> list[MessageRow]:
    """The booking's messages in the order they go (404 for a booking ``viewer`` may not
    see)."""
    get_booking_for(session, booking_id, viewer=viewer)
    rows, _ = repository.list_messages(
        session, MessageFilter(booking_id=booking_id), order="oldest", limit=1000, offset=0
    )
    return rows


def messages_of_patient(session: Session, patient_id: int, *, limit: int) -> list[MessageRow]:
    """The patient's latest messages (visits', sign-in links and waitlist offers alike),
    newest due first."""
    rows, _ = repository.list_messages(
        session, MessageFilter(patient_id=patient_id), order="newest", limit=limit, offset=0
    )
    return rows


def failed_count(session: Session) -> int:
    """How many messages gave up and wait for staff (not those resent since, or followed by
    a newer message of their kind to the same patient, such as a new sign-in link)."""
    return repository.failed_count(session)


def resend_refusal(
    notification: Notification,
    booking: Booking | None,
    *,
    now: datetime,
    superseded: bool = False,
) -> Conflict | None:
    """Why ``notification`` cannot be resent now (the error to raise), or None.
    ``superseded``: a later message of its kind went to the same visit (a resend already)."""
    refused_kind = NOT_RESENDABLE.get(notification.kind)
    if refused_kind is not None:
        return Conflict(refused_kind, code="not_resendable")
    if superseded:
        return Conflict(
            "A newer message of this kind was already sent for this visit; resend that one "
            "if it failed too.",
            code="invalid_transition",
        )
    if booking is None:
        return Conflict(
            "Only messages about a visit can be resent; this one was a one-off.",
            code="not_resendable",
        )
    if notification.status == NotificationStatus.QUEUED:
        return Conflict(
            "This message is still queued; it will be sent when due.", code="invalid_transition"
        )
    if notification.kind in REMINDER_KINDS and (
        booking.status != "booked" or booking.start_at <= now
    ):
        return Conflict(
            f"A reminder cannot be resent for a visit that is {booking.status}"
            + (" and past." if booking.start_at <= now else "."),
            code="invalid_transition",
        )
    return None


def offers_resend(
    notification: Notification,
    booking: Booking | None,
    *,
    now: datetime,
    superseded: bool = False,
) -> bool:
    """Whether a page shows a Resend button: for a failed message that may be resent and
    was not followed by a newer one of its kind."""
    return (
        notification.status == NotificationStatus.FAILED
        and resend_refusal(notification, booking, now=now, superseded=superseded) is None
    )


def superseded_ids(messages: Sequence[Notification]) -> set[int]:
    """Of one visit's messages, those followed by a later message of the same kind (a failed
    one then no longer waits for staff: it was resent)."""
    latest: dict[str, int] = {}
    for n in messages:
        if n.id is not None:
            latest[n.kind] = max(latest.get(n.kind, n.id), n.id)
    return {n.id for n in messages if n.id is not None and n.id < latest[n.kind]}


def resend(session: Session, notification_id: int, *, actor: Actor, now: datetime) -> MessageRow:
    """Queue a copy of the message, due now: the copy with its patient, visit and location."""
    original = session.get(Notification, notification_id)
    if original is None:
        raise NotFound(f"Notification {notification_id} does not exist.")
    booking = None
    if original.booking_id is not None and original.kind not in NOT_RESENDABLE:
        booking = get_booking_for(session, original.booking_id, viewer=actor)
    refusal = resend_refusal(
        original, booking, now=now, superseded=repository.is_superseded(session, notification_id)
    )
    if refusal is not None:
        raise refusal
    assert booking is not None
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
    patient = session.get(Patient, booking.patient_id)
    assert patient is not None
    return MessageRow(copy, patient, booking, session.get(Location, booking.location_id))


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
