"""Queries of the returning patients' sign-in: links, sessions, a patient's visits."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, update
from sqlmodel import Session, SQLModel, col, select

from scheduler.models import (
    AppointmentType,
    Booking,
    Location,
    Notification,
    Patient,
    PatientLink,
    PatientSession,
)

_LINKS = SQLModel.metadata.tables[PatientLink.__tablename__]


def sign_in_mails_since(session: Session, patient_id: int, since: datetime) -> int:
    """How many sign-in messages were queued for the patient since ``since``."""
    count = session.exec(
        select(func.count())
        .select_from(Notification)
        .where(
            Notification.patient_id == patient_id,
            Notification.kind == "sign_in",
            col(Notification.created_at) >= since,
        )
    ).one()
    return int(count)


def link_by_hash(session: Session, token_hash: str) -> PatientLink | None:
    return session.exec(select(PatientLink).where(PatientLink.token_hash == token_hash)).first()


def link_of_notification(session: Session, notification_id: int) -> PatientLink | None:
    return session.exec(
        select(PatientLink).where(PatientLink.notification_id == notification_id)
    ).first()


def use_link(session: Session, link_id: int, now: datetime) -> bool:
    """Mark the link used, if nobody did first (two tabs, a double tap): True if this call
    did."""
    result = session.execute(
        update(_LINKS)
        .where(_LINKS.c.id == link_id, _LINKS.c.used_at.is_(None), _LINKS.c.expires_at > now)
        .values(used_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


def live_session(session: Session, token_hash: str, now: datetime) -> PatientSession | None:
    return session.exec(
        select(PatientSession).where(
            PatientSession.token_hash == token_hash,
            col(PatientSession.ended_at).is_(None),
            col(PatientSession.expires_at) > now,
        )
    ).first()


def visits_of(
    session: Session, patient_ids: list[int]
) -> list[tuple[Booking, AppointmentType, Location]]:
    """The patients' bookings with their type and location, in start order."""
    rows = session.exec(
        select(Booking, AppointmentType, Location)
        .join(AppointmentType, col(AppointmentType.id) == Booking.appointment_type_id)
        .join(Location, col(Location.id) == Booking.location_id)
        .where(col(Booking.patient_id).in_(patient_ids))
        .order_by(col(Booking.start_at), col(Booking.id))
    ).all()
    return [(b, t, loc) for b, t, loc in rows]


def records_of_person(session: Session, email: str, date_of_birth: date) -> list[Patient]:
    """The unmerged records with this (lower-case) e-mail and date of birth, by id."""
    rows = session.exec(
        select(Patient)
        .where(
            func.lower(Patient.email) == email,
            Patient.date_of_birth == date_of_birth,
            col(Patient.merged_into_id).is_(None),
        )
        .order_by(col(Patient.id))
    ).all()
    return list(rows)
