"""A booking's life after it is placed: reading it, the FHIR status transitions, edits and
cancellation. No FastAPI here.

Status lifecycle (HL7 FHIR ``Appointment.status``)::

    pending --confirm--> booked --check-in--> checked-in --complete--> fulfilled
       |                   |  \\--no-show--> noshow
       +--cancel-----------+--cancel--> cancelled     (reschedule = cancel + new booking)
    pending / booked / checked-in --entered-in-error--> entered-in-error

Anything else is 409 ``invalid_transition``. Nothing is deleted. Every change bumps
``version`` (optimistic concurrency, ETag) and ``sequence`` (iCalendar), and writes an audit
event in the same transaction (``record_change``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from scheduler.audit.service import audited_write, snapshot
from scheduler.auth.actors import Actor
from scheduler.bookings import repository
from scheduler.bookings.repository import PatientFlags
from scheduler.bookings.schemas import (
    BookingRead,
    BookingUpdate,
    CancelRequest,
)
from scheduler.errors import BadRequest, Conflict, InvalidInput, NotFound, PreconditionFailed
from scheduler.kit.etags import EntityTag, MalformedEntityTags, parse_if_match
from scheduler.models import AppointmentType, Booking
from scheduler.models.enums import BookingStatus
from scheduler.notifications import outbox

# action -> (statuses it may start from, status it leads to)
S = BookingStatus
# action -> (the statuses it may start from, the status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[BookingStatus], BookingStatus]] = {
    "confirm": (frozenset({S.PENDING}), S.BOOKED),
    "check-in": (frozenset({S.BOOKED, S.ARRIVED}), S.CHECKED_IN),
    "complete": (frozenset({S.CHECKED_IN, S.ARRIVED}), S.FULFILLED),
    "no-show": (frozenset({S.BOOKED}), S.NOSHOW),
    "cancel": (frozenset({S.PENDING, S.BOOKED}), S.CANCELLED),
    "reschedule": (frozenset({S.PENDING, S.BOOKED}), S.CANCELLED),
    "entered-in-error": (
        frozenset({S.PENDING, S.BOOKED, S.ARRIVED, S.CHECKED_IN}),
        S.ENTERED_IN_ERROR,
    ),
}
# Statuses a patient or the front desk may still move or cancel.
CHANGEABLE = TRANSITIONS["cancel"][0]
SECRET_FIELDS = frozenset({"manage_token_hash"})


def etag_of(booking: Booking | BookingRead) -> str:
    return f'"{booking.id}.{booking.version}"'


def check_if_match(booking: Booking, if_match: str | None) -> None:
    """Optimistic concurrency: a stale ``If-Match`` is 412; no header means "last write wins".

    RFC 9110: strong comparison, so a weak tag (``W/"7.2"``) never matches; a value that is
    not ``*`` nor a list of quoted tags (``If-Match: 3``) is a 400 saying so.
    """
    if if_match is None:
        return
    try:
        tags = parse_if_match(if_match)
    except MalformedEntityTags:
        raise BadRequest(
            'If-Match must be "*" or quoted entity tags, such as the ETag this API sent '
            f"({etag_of(booking)}); the quotes are part of the tag.",
            code="invalid_if_match",
        ) from None
    current = EntityTag(etag_of(booking))
    if tags is None or any(tag.strongly_matches(current) for tag in tags):
        return
    raise PreconditionFailed(
        f"The booking changed since you read it (now version {booking.version}); reload and retry.",
        extra={"current_etag": etag_of(booking)},
    )


def get_booking(session: Session, booking_id: int, *, for_update: bool = False) -> Booking:
    booking = repository.get_booking(session, booking_id, for_update=for_update)
    if booking is None:
        raise NotFound(f"Booking {booking_id} does not exist.")
    return booking


def patient_flags_of(session: Session, patient_id: int) -> PatientFlags:
    patient = repository.patient_flags(session, patient_id)
    if patient is None:
        raise InvalidInput(f"Patient {patient_id} does not exist.", field="patient_id")
    return patient


def get_booking_for(session: Session, booking_id: int, *, viewer: Actor) -> Booking:
    """The booking as ``viewer`` may see it: providers only their own (else the same 404)."""
    booking = get_booking(session, booking_id)
    if viewer.role == "provider" and booking.provider_id != viewer.provider_id:
        raise NotFound(f"Booking {booking_id} does not exist.")
    return booking


def update_booking(
    session: Session,
    booking_id: int,
    data: BookingUpdate,
    *,
    actor: Actor,
    now: datetime,
    if_match: str | None,
) -> Booking:
    booking, before = open_for_change(session, booking_id, if_match)
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None}
    if not changes:
        return booking
    for key, value in changes.items():
        setattr(booking, key, value)
    return record_change(session, booking, before, actor=actor, now=now, action="update")


def open_for_change(
    session: Session, booking_id: int, if_match: str | None
) -> tuple[Booking, dict[str, Any] | None]:
    """The booking, locked for this transaction and checked against ``If-Match``, and its
    picture before the change (for the audit event)."""
    booking = get_booking(session, booking_id, for_update=True)
    check_if_match(booking, if_match)
    return booking, snapshot(booking, exclude=SECRET_FIELDS)


def record_change(
    session: Session,
    booking: Booking,
    before: dict[str, Any] | None,
    *,
    actor: Actor,
    now: datetime,
    action: str,
    reason: str = "",
) -> Booking:
    """Bump version and sequence, write, and leave the audit event in the same transaction."""
    bump(booking, now)
    audited_write(
        session,
        booking,
        actor=actor,
        now=now,
        action=f"booking.{action}",
        entity_type="booking",
        before=before,
        exclude=SECRET_FIELDS,
        reason=reason,
    )
    outbox.booking_changed(session, booking, action=action, now=now)
    return booking


def bump(booking: Booking, now: datetime) -> None:
    booking.version += 1
    booking.sequence += 1
    booking.updated_at = now


def require_transition(booking: Booking, action: str) -> str:
    allowed, target = TRANSITIONS[action]
    if booking.status not in allowed:
        raise Conflict(
            f"Cannot {action} a booking that is {booking.status}"
            f" (allowed from: {', '.join(sorted(allowed))}).",
            code="invalid_transition",
            extra={"booking_status": booking.status, "action": action},
        )
    return target


def transition(
    session: Session,
    booking_id: int,
    action: str,
    *,
    actor: Actor,
    now: datetime,
    if_match: str | None,
    reason: str = "",
) -> Booking:
    """confirm, check-in, complete, no-show, entered-in-error."""
    booking, before = open_for_change(session, booking_id, if_match)
    target = require_transition(booking, action)
    if action == "no-show" and now < booking.start_at:
        raise Conflict(
            "A patient can only be marked a no-show once the appointment has started.",
            code="invalid_transition",
        )
    booking.status = target
    return record_change(
        session, booking, before, actor=actor, now=now, action=action, reason=reason
    )


def is_late(booking: Booking, appointment_type: AppointmentType, now: datetime) -> bool:
    return booking.start_at - now < timedelta(
        minutes=appointment_type.patient_cancel_cutoff_minutes
    )


def cancel_booking(
    session: Session,
    booking_id: int,
    data: CancelRequest,
    *,
    actor: Actor,
    now: datetime,
    if_match: str | None,
) -> Booking:
    """Cancel with who and why. Inside the type's cut-off the booking is flagged late."""
    booking, before = open_for_change(session, booking_id, if_match)
    booking.status = require_transition(booking, "cancel")
    appointment_type = session.get(AppointmentType, booking.appointment_type_id)
    assert appointment_type is not None
    booking.cancel_reason = data.reason
    booking.cancelled_by = data.cancelled_by
    booking.cancelled_at = now
    booking.late_cancel = is_late(booking, appointment_type, now)
    return record_change(
        session, booking, before, actor=actor, now=now, action="cancel", reason=data.reason
    )
