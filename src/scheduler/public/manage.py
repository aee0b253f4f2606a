"""Managing a visit by its private link: see it, download it, cancel or move it under the
type's patient cut-offs (staff are not bound by them)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from scheduler.auth.actors import Actor
from scheduler.bookings import service as bookings
from scheduler.bookings.schemas import CancelRequest, RescheduleRequest
from scheduler.config import Settings
from scheduler.db.locks import lock_person
from scheduler.errors import Conflict, NotFound
from scheduler.feeds.service import render_booking_ics
from scheduler.kit.secrets import hash_token
from scheduler.models import AppointmentType, Booking, Patient
from scheduler.notifications import service as notifications
from scheduler.public import repository
from scheduler.public.common import (
    NOT_FOUND,
    bookable_type,
    booking_view,
    public_refusals,
    same_person_ids,
)
from scheduler.public.schemas import PublicBookingRead


def booking_by_token(session: Session, token: str, now: datetime) -> Booking:
    booking = repository.booking_by_manage_hash(
        session, hash_token(token)
    ) or notifications.booking_for_link(session, token, now)
    if booking is not None and booking.manage_token_hash is None:
        return booking  # a message's link: its own expiry was checked
    if (
        booking is None
        or booking.manage_token_expires_at is None
        or booking.manage_token_expires_at <= now
    ):
        raise NotFound(NOT_FOUND)
    return booking


def view_booking(
    session: Session, token: str, *, now: datetime, settings: Settings
) -> PublicBookingRead:
    return booking_view(
        session, booking_by_token(session, token, now), manage_token=token, settings=settings
    )


def booking_ics(session: Session, token: str, *, now: datetime, settings: Settings) -> bytes:
    return render_booking_ics(session, booking_by_token(session, token, now), settings=settings)


def _patient_actor(booking: Booking, request_id: str) -> Actor:
    return Actor(kind="patient", label=f"patient-link:booking:{booking.id}", request_id=request_id)


def _check_cutoff(booking: Booking, minutes: int, now: datetime, what: str) -> None:
    deadline = booking.start_at - timedelta(minutes=minutes)
    if now > deadline:
        hours = minutes / 60
        raise Conflict(
            f"Online {what} closes {hours:g} hours before the appointment; please call the clinic.",
            code="cutoff_passed",
            extra={"deadline": deadline.isoformat()},
        )


def cancel(
    session: Session,
    token: str,
    reason: str,
    *,
    request_id: str,
    now: datetime,
    settings: Settings,
) -> PublicBookingRead:
    booking = booking_by_token(session, token, now)
    appointment_type = session.get(AppointmentType, booking.appointment_type_id)
    assert appointment_type is not None
    if booking.status in bookings.CHANGEABLE:
        _check_cutoff(booking, appointment_type.patient_cancel_cutoff_minutes, now, "cancellation")
    cancelled = bookings.cancel_booking(
        session,
        booking.id or 0,
        CancelRequest(reason=reason or "cancelled online by the patient", cancelled_by="patient"),
        actor=_patient_actor(booking, request_id),
        now=now,
        if_match=None,
    )
    return booking_view(session, cancelled, manage_token=token, settings=settings)


def reschedule(
    session: Session,
    token: str,
    start_at: datetime,
    *,
    request_id: str,
    now: datetime,
    settings: Settings,
) -> PublicBookingRead:
    """Move to a new time under the same rules as a new online booking; one booking remains.
    Like a booking, it may not overlap a visit on another record of the same person."""
    booking = booking_by_token(session, token, now)
    patient = session.get(Patient, booking.patient_id)
    assert patient is not None
    email = patient.email.strip().lower()
    lock_person(session, email, patient.date_of_birth)
    same_person = same_person_ids(session, email, patient.date_of_birth, besides=patient.id)
    appointment_type = bookable_type(session, booking.appointment_type_id)
    if booking.status in bookings.CHANGEABLE:
        _check_cutoff(
            booking, appointment_type.patient_reschedule_cutoff_minutes, now, "rescheduling"
        )
    with public_refusals():
        moved = bookings.reschedule_booking(
            session,
            booking.id or 0,
            RescheduleRequest(start_at=start_at, reason="rescheduled online by the patient"),
            actor=_patient_actor(booking, request_id),
            now=now,
            if_match=None,
            cancelled_by="patient",
            same_person_ids=same_person,
        )
    return booking_view(session, moved, manage_token=token, settings=settings)
