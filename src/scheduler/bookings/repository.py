"""Queries and locks for holds and bookings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import bindparam, func, insert, true
from sqlalchemy import select as sa_select
from sqlalchemy.engine import CursorResult
from sqlmodel import Session, col, select

from scheduler.models import (
    ACTIVE_STATUSES,
    AppointmentType,
    Booking,
    Hold,
    Location,
    Patient,
    Provider,
    ProviderAppointmentType,
    ProviderLocation,
    metadata,
)


def person_busy(
    session: Session,
    patient_ids: Sequence[int],
    *,
    start_at: datetime,
    end_at: datetime,
    now: datetime,
) -> bool:
    """Whether any of these patient records has an active booking, or a live hold placed for
    it, overlapping [start_at, end_at) (visit times, without chair turnover)."""
    if not patient_ids:
        return False
    booking = session.exec(
        select(Booking.id).where(
            col(Booking.patient_id).in_(patient_ids),
            col(Booking.status).in_(ACTIVE_STATUSES),
            Booking.start_at < end_at,
            Booking.end_at > start_at,
        )
    ).first()
    if booking is not None:
        return True
    hold = session.exec(
        select(Hold.id).where(
            col(Hold.patient_id).in_(patient_ids),
            col(Hold.released_at).is_(None),
            col(Hold.consumed_at).is_(None),
            Hold.expires_at > now,
            Hold.start_at < end_at,
            Hold.end_at > start_at,
        )
    ).first()
    return hold is not None


class PatientFlags(NamedTuple):
    """What a booking needs to know about its patient: that they exist, and their
    eligibility (the names match the prerequisites an appointment type lists)."""

    id: int
    consult_completed: bool
    consent_signed: bool
    rems_enrolled: bool


# Core statements, built once: a booking is written and checked without the ORM's loading
# and unit of work, which cost several times the statements themselves.
_patient = metadata.tables[Patient.__tablename__]
_PATIENT_FLAGS = sa_select(
    _patient.c.id, _patient.c.consult_completed, _patient.c.consent_signed, _patient.c.rems_enrolled
).where(_patient.c.id == bindparam("id"))
_booking = metadata.tables[Booking.__tablename__]
# No RETURNING of its own: the new id is SQLite's last row id, or PostgreSQL's implicit
# RETURNING of the primary key (a result set to build and read cost SQLite ~6 % more).
_INSERT_BOOKING = insert(_booking)


# The location, the type and the patient's flags in one row (None when the location or the
# type is unknown; NULL flags when the patient is): what a booking needs before its locks.
_SUBJECT_AND_PATIENT = (
    select(Location, AppointmentType, *_PATIENT_FLAGS.selected_columns)
    .select_from(Location)
    .join(AppointmentType, true())  # one row of each: a deliberate 1 x 1 cross join
    .outerjoin(_patient, _patient.c.id == bindparam("id"))
    .where(
        col(Location.id) == bindparam("location_id"),
        col(AppointmentType.id) == bindparam("appointment_type_id"),
    )
)


def subject_and_patient(
    session: Session, *, location_id: int, appointment_type_id: int, patient_id: int
) -> tuple[Location, AppointmentType, PatientFlags | None] | None:
    row = session.execute(
        _SUBJECT_AND_PATIENT,
        {"location_id": location_id, "appointment_type_id": appointment_type_id, "id": patient_id},
    ).first()
    if row is None:
        return None
    location, appointment_type, *flags = row
    return location, appointment_type, None if flags[0] is None else PatientFlags(*flags)


def patient_flags(session: Session, patient_id: int) -> PatientFlags | None:
    row = session.execute(_PATIENT_FLAGS, {"id": patient_id}).first()
    return None if row is None else PatientFlags(*row)


def insert_booking(session: Session, values: Mapping[str, Any]) -> int:
    """Write a new booking row (every column given) and return its id."""
    result = cast("CursorResult[Any]", session.execute(_INSERT_BOOKING, values))
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def eligible_provider_ids(
    session: Session, *, location_id: int, appointment_type_id: int
) -> list[int]:
    rows = session.exec(
        select(Provider.id)
        .join(ProviderLocation, col(ProviderLocation.provider_id) == col(Provider.id))
        .join(ProviderAppointmentType, col(ProviderAppointmentType.provider_id) == col(Provider.id))
        .where(
            col(Provider.active).is_(True),
            ProviderLocation.location_id == location_id,
            ProviderAppointmentType.appointment_type_id == appointment_type_id,
        )
        .order_by(col(Provider.id))
    ).all()
    return [r for r in rows if r is not None]


# Built once (composing a statement costs more than running it). populate_existing: an object
# this session already loaded is refreshed from the locked row, so rules run on what another
# transaction may just have committed.
_BOOKING_BY_ID = select(Booking).where(col(Booking.id) == bindparam("id"))
_BOOKING_FOR_UPDATE = _BOOKING_BY_ID.with_for_update().execution_options(populate_existing=True)
_HOLD_BY_ID = select(Hold).where(col(Hold.id) == bindparam("id"))
_HOLD_FOR_UPDATE = _HOLD_BY_ID.with_for_update().execution_options(populate_existing=True)


def get_booking(session: Session, booking_id: int, *, for_update: bool = False) -> Booking | None:
    query = _BOOKING_FOR_UPDATE if for_update else _BOOKING_BY_ID
    return session.exec(query, params={"id": booking_id}).first()


def get_hold(session: Session, hold_id: int, *, for_update: bool = False) -> Hold | None:
    query = _HOLD_FOR_UPDATE if for_update else _HOLD_BY_ID
    return session.exec(query, params={"id": hold_id}).first()


def list_bookings(
    session: Session,
    *,
    start_at: datetime | None,
    end_at: datetime | None,
    location_id: int | None,
    chair_id: int | None,
    provider_id: int | None,
    patient_id: int | None,
    statuses: Sequence[str],
    limit: int,
    offset: int,
) -> tuple[list[Booking], int]:
    query = select(Booking)
    if start_at is not None:
        query = query.where(Booking.end_at > start_at)
    if end_at is not None:
        query = query.where(Booking.start_at < end_at)
    if location_id is not None:
        query = query.where(Booking.location_id == location_id)
    if chair_id is not None:
        query = query.where(Booking.chair_id == chair_id)
    if provider_id is not None:
        query = query.where(Booking.provider_id == provider_id)
    if patient_id is not None:
        query = query.where(Booking.patient_id == patient_id)
    if statuses:
        query = query.where(col(Booking.status).in_(statuses))
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(
        query.order_by(col(Booking.start_at), col(Booking.id)).limit(limit).offset(offset)
    ).all()
    return list(rows), total


def release_expired_holds(session: Session, now: datetime) -> int:
    """Mark released the holds past ``expires_at`` that were neither booked nor released (at
    ``expires_at``: they stopped blocking then); how many."""
    table = metadata.tables[Hold.__tablename__]
    result = session.execute(
        table.update()
        .where(
            table.c.released_at.is_(None),
            table.c.consumed_at.is_(None),
            table.c.expires_at <= now,
        )
        .values(released_at=table.c.expires_at)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def ended_booked_visits(
    session: Session, now: datetime, *, limit: int
) -> list[tuple[int, datetime, str]]:
    """``booked`` visits (never checked in) that ended by ``now``, oldest first: (id, end,
    the location's time zone)."""
    rows = session.exec(
        select(Booking.id, Booking.end_at, Location.timezone)
        .join(Location, col(Location.id) == col(Booking.location_id))
        .where(Booking.status == "booked", col(Booking.end_at) <= now)
        .order_by(col(Booking.end_at))
        .limit(limit)
    ).all()
    return [(i, end_at, zone) for i, end_at, zone in rows if i is not None]
