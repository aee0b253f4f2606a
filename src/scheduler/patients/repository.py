"""Queries for patients."""

from __future__ import annotations

from datetime import date

from sqlalchemy import or_
from sqlmodel import Session, col, func, select

from scheduler.models import Booking, Patient

SEARCHED_COLUMNS = (Patient.first_name, Patient.last_name, Patient.email, Patient.phone)


def list_patients(
    session: Session,
    *,
    terms: list[str],
    date_of_birth: date | None,
    booked_with_provider_id: int | None = None,
    limit: int,
    offset: int,
) -> tuple[list[Patient], int]:
    """Patients matching every term (each term in any of name, e-mail or phone, ignoring case),
    and, given ``booked_with_provider_id``, with a booking with that provider; ordered by last
    name, first name, id."""
    query = select(Patient)
    if booked_with_provider_id is not None:
        query = query.where(
            select(Booking.id)
            .where(
                Booking.patient_id == Patient.id,
                Booking.provider_id == booked_with_provider_id,
            )
            .exists()
        )
    for term in terms:
        needle = term.lower()
        query = query.where(
            or_(
                *(
                    func.lower(col(column)).contains(needle, autoescape=True)
                    for column in SEARCHED_COLUMNS
                )
            )
        )
    if date_of_birth is not None:
        query = query.where(Patient.date_of_birth == date_of_birth)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(
        query.order_by(
            func.lower(col(Patient.last_name)),
            func.lower(col(Patient.first_name)),
            col(Patient.id),
        )
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), total


def has_booking_with(session: Session, *, patient_id: int, provider_id: int | None) -> bool:
    if provider_id is None:
        return False
    found = session.exec(
        select(Booking.id).where(
            Booking.patient_id == patient_id, Booking.provider_id == provider_id
        )
    ).first()
    return found is not None
