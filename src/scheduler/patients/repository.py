"""Queries for patients."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import and_, not_, or_, update
from sqlmodel import Session, col, func, select

from scheduler.models import ACTIVE_STATUSES, Booking, Hold, Patient, Series

SEARCHED_COLUMNS = (Patient.first_name, Patient.last_name, Patient.email, Patient.phone)
# The separators a stored phone number may contain (``schemas.Phone``): removed to compare digits.
PHONE_SEPARATORS = (" ", "(", ")", "-", ".", "+")


def _phone_digits() -> Any:
    """The stored phone number as digits only (the same SQL on SQLite and PostgreSQL)."""
    expression: Any = col(Patient.phone)
    for separator in PHONE_SEPARATORS:
        expression = func.replace(expression, separator, "")
    return expression


def list_patients(
    session: Session,
    *,
    terms: list[str],
    date_of_birth: date | None,
    booked_with_provider_id: int | None = None,
    limit: int,
    offset: int,
    probable_duplicate: bool | None = None,
    phone_digits: list[str] | None = None,
    include_merged: bool = True,
) -> tuple[list[Patient], int]:
    """Patients matching every term (each term in any of name, e-mail or phone, ignoring case),
    and, given ``booked_with_provider_id``, with a booking with that provider; ordered by last
    name, first name, id. ``probable_duplicate``: True keeps only records flagged as a probable
    duplicate and not merged yet; False only the others. ``phone_digits``: each found among
    the digits of the stored phone number, whatever separators either was written with.
    ``include_merged=False`` leaves out records merged into another."""
    query = select(Patient)
    if not include_merged:
        query = query.where(col(Patient.merged_into_id).is_(None))
    for digits in phone_digits or ():
        query = query.where(_phone_digits().contains(digits, autoescape=True))
    if booked_with_provider_id is not None:
        query = query.where(
            select(Booking.id)
            .where(
                Booking.patient_id == Patient.id,
                Booking.provider_id == booked_with_provider_id,
            )
            .exists()
        )
    if probable_duplicate is not None:
        flagged = and_(
            col(Patient.probable_duplicate_of_id).is_not(None),
            col(Patient.merged_into_id).is_(None),
        )
        query = query.where(flagged if probable_duplicate else not_(flagged))
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


def lock_patients(session: Session, patient_ids: list[int]) -> list[Patient]:
    """The patients, row-locked in id order (refreshed from the locked rows)."""
    return list(
        session.exec(
            select(Patient)
            .where(col(Patient.id).in_(patient_ids))
            .order_by(col(Patient.id))
            .with_for_update()
            .execution_options(populate_existing=True)
        ).all()
    )


def active_bookings_of(session: Session, patient_id: int) -> list[Booking]:
    return list(
        session.exec(
            select(Booking)
            .where(Booking.patient_id == patient_id, col(Booking.status).in_(ACTIVE_STATUSES))
            .order_by(col(Booking.start_at), col(Booking.id))
        ).all()
    )


def bookings_of(session: Session, patient_id: int) -> list[Booking]:
    return list(
        session.exec(
            select(Booking).where(Booking.patient_id == patient_id).order_by(col(Booking.id))
        ).all()
    )


def move_holds_and_series(session: Session, *, from_id: int, to_id: int) -> tuple[int, int]:
    """Re-point holds and series from one patient to another; how many of each moved."""
    holds = session.execute(
        update(Hold).where(col(Hold.patient_id) == from_id).values(patient_id=to_id)
    )
    series = session.execute(
        update(Series).where(col(Series.patient_id) == from_id).values(patient_id=to_id)
    )
    return int(getattr(holds, "rowcount", 0) or 0), int(getattr(series, "rowcount", 0) or 0)


def repoint_duplicates(session: Session, *, from_id: int, to_id: int) -> None:
    """Records flagged as probable duplicates of ``from_id`` now point at ``to_id``."""
    session.execute(
        update(Patient)
        .where(col(Patient.probable_duplicate_of_id) == from_id)
        .values(probable_duplicate_of_id=to_id)
    )


def similar_patients(
    session: Session,
    *,
    first_name: str,
    last_name: str,
    date_of_birth: date,
    email: str,
    phone_digits: str,
    limit: int,
) -> list[Patient]:
    """Records (not merged) that may be the same person: the same e-mail; or the same date of
    birth and first or last name (ignoring case); or the same phone digits and last name."""
    same_dob_and_name = and_(
        col(Patient.date_of_birth) == date_of_birth,
        or_(
            func.lower(col(Patient.first_name)) == first_name.lower(),
            func.lower(col(Patient.last_name)) == last_name.lower(),
        ),
    )
    alike = [same_dob_and_name]
    if email:
        alike.append(func.lower(col(Patient.email)) == email.lower())
    if phone_digits:
        alike.append(
            and_(
                _phone_digits() == phone_digits,
                func.lower(col(Patient.last_name)) == last_name.lower(),
            )
        )
    rows = session.exec(
        select(Patient)
        .where(col(Patient.merged_into_id).is_(None), or_(*alike))
        .order_by(col(Patient.id))
        .limit(limit)
    ).all()
    return list(rows)


def count_holds_and_series(session: Session, patient_id: int) -> tuple[int, int]:
    """How many holds and series name the patient (what a merge would move)."""
    holds = session.exec(
        select(func.count()).select_from(Hold).where(Hold.patient_id == patient_id)
    ).one()
    series = session.exec(
        select(func.count()).select_from(Series).where(Series.patient_id == patient_id)
    ).one()
    return int(holds), int(series)
