"""Queries of patient self-scheduling (public/service.py builds none itself)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlmodel import Session, col, func, select

from scheduler.models import (
    AppointmentType,
    Booking,
    Hold,
    Location,
    Patient,
    Provider,
    ProviderAppointmentType,
    ProviderLocation,
)


def active_locations(session: Session) -> Sequence[Location]:
    return session.exec(
        select(Location).where(col(Location.active).is_(True)).order_by(col(Location.id))
    ).all()


def self_schedulable_types_at(session: Session, location_id: int) -> Sequence[AppointmentType]:
    """Active self-schedulable types that at least one active provider does at the location."""
    offered = (
        select(ProviderAppointmentType.appointment_type_id)
        .join(Provider, col(Provider.id) == col(ProviderAppointmentType.provider_id))
        .join(ProviderLocation, col(ProviderLocation.provider_id) == col(Provider.id))
        .where(col(Provider.active).is_(True), ProviderLocation.location_id == location_id)
    )
    return session.exec(
        select(AppointmentType)
        .where(
            col(AppointmentType.active).is_(True),
            col(AppointmentType.self_schedulable).is_(True),
            col(AppointmentType.id).in_(offered),
        )
        .order_by(col(AppointmentType.id))
    ).all()


def live_holds_of_session(session: Session, secret_hash: str, now: datetime) -> Sequence[Hold]:
    return session.exec(
        select(Hold).where(
            Hold.secret_hash == secret_hash,
            col(Hold.released_at).is_(None),
            col(Hold.consumed_at).is_(None),
            col(Hold.expires_at) > now,
        )
    ).all()


def same_person_ids(session: Session, email: str, date_of_birth: date) -> list[int]:
    """Ids of the unmerged records with this (lower-case) e-mail and date of birth."""
    rows = session.exec(
        select(Patient.id)
        .where(
            func.lower(Patient.email) == email,
            Patient.date_of_birth == date_of_birth,
            col(Patient.merged_into_id).is_(None),
        )
        .order_by(col(Patient.id))
    ).all()
    return [r for r in rows if r is not None]


def booking_by_manage_hash(session: Session, token_hash: str) -> Booking | None:
    return session.exec(select(Booking).where(Booking.manage_token_hash == token_hash)).first()


def providers_for(
    session: Session, location_id: int, appointment_type_id: int
) -> Sequence[Provider]:
    """Active providers who do the type at the location, by name."""
    return session.exec(
        select(Provider)
        .join(ProviderLocation, col(ProviderLocation.provider_id) == col(Provider.id))
        .join(
            ProviderAppointmentType,
            col(ProviderAppointmentType.provider_id) == col(Provider.id),
        )
        .where(
            col(Provider.active).is_(True),
            ProviderLocation.location_id == location_id,
            ProviderAppointmentType.appointment_type_id == appointment_type_id,
        )
        .order_by(col(Provider.name), col(Provider.id))
    ).all()
