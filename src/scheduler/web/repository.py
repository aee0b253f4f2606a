"""Queries of the web pages: their own tables (staff sign-in sessions) and the joined reads
the pages show (arrivals, a patient's visits)."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import ColumnElement
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select, update

from scheduler.models import (
    AppointmentType,
    Booking,
    Chair,
    Location,
    Patient,
    Provider,
    User,
    WebSession,
)


def session_with_user(session: Session, token_hash: str) -> tuple[WebSession, User] | None:
    row = session.exec(
        select(WebSession, User)
        .join(User, col(User.id) == col(WebSession.user_id))
        .where(WebSession.token_hash == token_hash)
    ).first()
    return (row[0], row[1]) if row is not None else None


def end_sessions_of_user(session: Session, user_id: int, *, now: datetime) -> int:
    result = session.exec(
        update(WebSession)
        .where(col(WebSession.user_id) == user_id, col(WebSession.ended_at).is_(None))
        .values(ended_at=now)
    )
    return int(result.rowcount or 0)


def location_choices(session: Session) -> list[Location]:
    return list(
        session.exec(
            select(Location).where(col(Location.active)).order_by(col(Location.name))
        ).all()
    )


class VisitRow(NamedTuple):
    """A booking with what the pages show of it: the patient, the visit type, where, with
    whom and in which chair (None when the type needs none)."""

    booking: Booking
    patient: Patient
    appointment_type: AppointmentType
    location: Location
    provider: Provider
    chair: Chair | None


def _visits(session: Session, *conditions: ColumnElement[bool]) -> list[VisitRow]:
    """The bookings that meet ``conditions``, in start order, each with what a page shows of
    it (one statement)."""
    rows = session.execute(
        sa_select(Booking, Patient, AppointmentType, Location, Provider, Chair)
        .join(Patient, col(Patient.id) == col(Booking.patient_id))
        .join(AppointmentType, col(AppointmentType.id) == col(Booking.appointment_type_id))
        .join(Location, col(Location.id) == col(Booking.location_id))
        .join(Provider, col(Provider.id) == col(Booking.provider_id))
        .outerjoin(Chair, col(Chair.id) == col(Booking.chair_id))
        .where(*conditions)
        .order_by(col(Booking.start_at), col(Booking.id))
    ).all()
    return [VisitRow(*row) for row in rows]


def _starting_between(start_at: datetime, end_at: datetime) -> tuple[ColumnElement[bool], ...]:
    """Bookings starting in [start_at, end_at) that still take place (cancelled and
    erroneous ones left out): what the arrivals list and a provider's schedule show."""
    return (
        col(Booking.start_at) >= start_at,
        col(Booking.start_at) < end_at,
        col(Booking.status).not_in(("cancelled", "entered-in-error")),
    )


def arrivals(
    session: Session, location_id: int, start_at: datetime, end_at: datetime
) -> list[VisitRow]:
    """A location's bookings starting in [start_at, end_at), in start order (the arrivals
    list). Cancelled and erroneous ones left out."""
    return _visits(
        session, col(Booking.location_id) == location_id, *_starting_between(start_at, end_at)
    )


def visits_of_patient(session: Session, patient_ids: list[int]) -> list[VisitRow]:
    """Every booking of these patients (any status), in start order (a patient's page)."""
    return _visits(session, col(Booking.patient_id).in_(patient_ids))


def provider_visits(
    session: Session, provider_id: int, start_at: datetime, end_at: datetime
) -> list[VisitRow]:
    """One provider's bookings starting in [start_at, end_at), in start order (their
    schedule). Cancelled and erroneous ones left out."""
    return _visits(
        session, col(Booking.provider_id) == provider_id, *_starting_between(start_at, end_at)
    )


def rescheduled_to(session: Session, booking_id: int) -> int | None:
    """The booking that replaced ``booking_id`` when it was moved, if any."""
    return session.exec(
        select(Booking.id).where(col(Booking.rescheduled_from_id) == booking_id).limit(1)
    ).first()
