"""Queries for providers, their location/type links, weekly rules and exceptions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, delete, func, select

from scheduler.models import (
    AppointmentType,
    AvailabilityException,
    AvailabilityRule,
    Booking,
    Location,
    Patient,
    Provider,
    ProviderAppointmentType,
    ProviderLocation,
)


def lock_provider(session: Session, provider_id: int) -> Provider | None:
    """The provider row, locked until the transaction ends (PostgreSQL; SQLite is serialized).

    Availability writes take this lock so that two concurrent requests cannot both pass the
    overlap check, and so they queue with bookings that lock the same provider.
    """
    return session.exec(
        select(Provider).where(Provider.id == provider_id).with_for_update()
    ).first()


def list_providers(
    session: Session,
    *,
    location_id: int | None,
    appointment_type_id: int | None,
    active: bool | None,
    limit: int,
    offset: int,
) -> tuple[list[Provider], int]:
    query = select(Provider)
    if active is not None:
        query = query.where(Provider.active == active)
    if location_id is not None:
        query = query.where(
            col(Provider.id).in_(
                select(ProviderLocation.provider_id).where(
                    ProviderLocation.location_id == location_id
                )
            )
        )
    if appointment_type_id is not None:
        query = query.where(
            col(Provider.id).in_(
                select(ProviderAppointmentType.provider_id).where(
                    ProviderAppointmentType.appointment_type_id == appointment_type_id
                )
            )
        )
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(Provider.id)).limit(limit).offset(offset)).all()
    return list(rows), total


def location_ids_of(session: Session, provider_ids: Sequence[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {i: [] for i in provider_ids}
    if not provider_ids:
        return out
    # Plain columns, not entities: replace_locations deletes and re-adds rows with the same
    # primary keys, which must not collide with instances held in the identity map.
    rows = session.exec(
        select(ProviderLocation.provider_id, ProviderLocation.location_id)
        .where(col(ProviderLocation.provider_id).in_(provider_ids))
        .order_by(col(ProviderLocation.location_id))
    ).all()
    for provider_id, location_id in rows:
        out[provider_id].append(location_id)
    return out


def appointment_type_ids_of(session: Session, provider_ids: Sequence[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {i: [] for i in provider_ids}
    if not provider_ids:
        return out
    rows = session.exec(
        select(ProviderAppointmentType.provider_id, ProviderAppointmentType.appointment_type_id)
        .where(col(ProviderAppointmentType.provider_id).in_(provider_ids))
        .order_by(col(ProviderAppointmentType.appointment_type_id))
    ).all()
    for provider_id, type_id in rows:
        out[provider_id].append(type_id)
    return out


def missing_location_ids(session: Session, ids: Sequence[int]) -> list[int]:
    if not ids:
        return []
    found = set(session.exec(select(Location.id).where(col(Location.id).in_(ids))).all())
    return [i for i in ids if i not in found]


def missing_appointment_type_ids(session: Session, ids: Sequence[int]) -> list[int]:
    if not ids:
        return []
    found = set(
        session.exec(select(AppointmentType.id).where(col(AppointmentType.id).in_(ids))).all()
    )
    return [i for i in ids if i not in found]


def replace_locations(session: Session, provider_id: int, location_ids: Iterable[int]) -> None:
    session.exec(delete(ProviderLocation).where(col(ProviderLocation.provider_id) == provider_id))
    for location_id in location_ids:
        session.add(ProviderLocation(provider_id=provider_id, location_id=location_id))


def replace_appointment_types(
    session: Session, provider_id: int, appointment_type_ids: Iterable[int]
) -> None:
    session.exec(
        delete(ProviderAppointmentType).where(
            col(ProviderAppointmentType.provider_id) == provider_id
        )
    )
    for type_id in appointment_type_ids:
        session.add(ProviderAppointmentType(provider_id=provider_id, appointment_type_id=type_id))


def availability_at(
    session: Session, provider_id: int, location_ids: Sequence[int]
) -> tuple[list[AvailabilityRule], list[AvailabilityException]]:
    """The provider's weekly rules and exceptions that name one of ``location_ids``."""
    if not location_ids:
        return [], []
    rules = session.exec(
        select(AvailabilityRule)
        .where(
            AvailabilityRule.provider_id == provider_id,
            col(AvailabilityRule.location_id).in_(location_ids),
        )
        .order_by(col(AvailabilityRule.id))
    ).all()
    exceptions = session.exec(
        select(AvailabilityException)
        .where(
            AvailabilityException.provider_id == provider_id,
            col(AvailabilityException.location_id).in_(location_ids),
        )
        .order_by(col(AvailabilityException.id))
    ).all()
    return list(rules), list(exceptions)


def list_rules(
    session: Session,
    provider_id: int,
    *,
    location_id: int | None,
    weekday: int | None,
    limit: int,
    offset: int,
) -> tuple[list[AvailabilityRule], int]:
    query = select(AvailabilityRule).where(AvailabilityRule.provider_id == provider_id)
    if location_id is not None:
        query = query.where(AvailabilityRule.location_id == location_id)
    if weekday is not None:
        query = query.where(AvailabilityRule.weekday == weekday)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(
        query.order_by(
            col(AvailabilityRule.weekday),
            col(AvailabilityRule.start_time),
            col(AvailabilityRule.location_id),
            col(AvailabilityRule.id),
        )
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), total


def rules_on(
    session: Session, provider_id: int, location_id: int, weekday: int
) -> list[AvailabilityRule]:
    """Every rule of the provider at the location on the weekday, earliest first."""
    rows = session.exec(
        select(AvailabilityRule)
        .where(
            AvailabilityRule.provider_id == provider_id,
            AvailabilityRule.location_id == location_id,
            AvailabilityRule.weekday == weekday,
        )
        .order_by(col(AvailabilityRule.start_time), col(AvailabilityRule.id))
    ).all()
    return list(rows)


def list_exceptions(
    session: Session,
    provider_id: int,
    *,
    start_at: datetime | None,
    end_at: datetime | None,
    kind: str | None,
    limit: int,
    offset: int,
) -> tuple[list[AvailabilityException], int]:
    query = select(AvailabilityException).where(AvailabilityException.provider_id == provider_id)
    if start_at is not None:
        query = query.where(AvailabilityException.end_at > start_at)
    if end_at is not None:
        query = query.where(AvailabilityException.start_at < end_at)
    if kind is not None:
        query = query.where(AvailabilityException.kind == kind)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(
        query.order_by(col(AvailabilityException.start_at), col(AvailabilityException.id))
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), total


class VisitRow(NamedTuple):
    """A booked visit as the availability editor's warning names it."""

    id: int
    start_at: datetime
    end_at: datetime
    provider_id: int
    location_id: int
    timezone: str
    first_name: str
    last_name: str
    type_name: str
    provider_name: str


def booked_visits(
    session: Session,
    *,
    provider_id: int | None,
    location_id: int | None,
    after: datetime,
    statuses: Sequence[str],
    limit: int,
) -> list[VisitRow]:
    """Visits in ``statuses`` ending after ``after``, of the provider and/or at the location,
    earliest first."""
    query = (
        sa_select(
            col(Booking.id),
            col(Booking.start_at),
            col(Booking.end_at),
            col(Booking.provider_id),
            col(Booking.location_id),
            col(Location.timezone),
            col(Patient.first_name),
            col(Patient.last_name),
            col(AppointmentType.name),
            col(Provider.display_name),
        )
        .join(Location, col(Location.id) == Booking.location_id)
        .join(Patient, col(Patient.id) == Booking.patient_id)
        .join(AppointmentType, col(AppointmentType.id) == Booking.appointment_type_id)
        .join(Provider, col(Provider.id) == Booking.provider_id)
        .where(col(Booking.end_at) > after, col(Booking.status).in_(statuses))
    )
    if provider_id is not None:
        query = query.where(col(Booking.provider_id) == provider_id)
    if location_id is not None:
        query = query.where(col(Booking.location_id) == location_id)
    rows = session.execute(query.order_by(col(Booking.start_at), col(Booking.id)).limit(limit))
    return [VisitRow(*row) for row in rows]
