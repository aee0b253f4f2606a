"""Queries for locations, their hours, chairs and closures."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, delete, func, select

from scheduler.models import AvailabilityException, Chair, Location, LocationHours


def hours_of(session: Session, location_ids: Sequence[int]) -> dict[int, list[LocationHours]]:
    out: dict[int, list[LocationHours]] = {i: [] for i in location_ids}
    if not location_ids:
        return out
    rows = session.exec(
        select(LocationHours)
        .where(col(LocationHours.location_id).in_(location_ids))
        .order_by(col(LocationHours.weekday), col(LocationHours.open_time))
    ).all()
    for row in rows:
        out[row.location_id].append(row)
    return out


def replace_hours(session: Session, location_id: int, hours: Sequence[LocationHours]) -> None:
    session.exec(delete(LocationHours).where(col(LocationHours.location_id) == location_id))
    for row in hours:
        session.add(row)


def list_locations(
    session: Session, *, active: bool | None, limit: int, offset: int
) -> tuple[list[Location], int]:
    query = select(Location)
    if active is not None:
        query = query.where(Location.active == active)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(Location.id)).limit(limit).offset(offset)).all()
    return list(rows), total


def name_taken(session: Session, name: str, *, except_id: int | None = None) -> bool:
    query = select(Location.id).where(func.lower(Location.name) == name.lower())
    if except_id is not None:
        query = query.where(Location.id != except_id)
    return session.exec(query).first() is not None


def list_chairs(
    session: Session, location_id: int, *, active: bool | None, limit: int, offset: int
) -> tuple[list[Chair], int]:
    query = select(Chair).where(Chair.location_id == location_id)
    if active is not None:
        query = query.where(Chair.active == active)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(
        query.order_by(col(Chair.position), col(Chair.id)).limit(limit).offset(offset)
    ).all()
    return list(rows), total


def chair_name_taken(
    session: Session, location_id: int, name: str, *, except_id: int | None = None
) -> bool:
    query = select(Chair.id).where(
        Chair.location_id == location_id, func.lower(Chair.name) == name.lower()
    )
    if except_id is not None:
        query = query.where(Chair.id != except_id)
    return session.exec(query).first() is not None


def list_closures(
    session: Session,
    location_id: int,
    *,
    start_at: datetime | None,
    end_at: datetime | None,
    limit: int,
    offset: int,
) -> tuple[list[AvailabilityException], int]:
    query = select(AvailabilityException).where(
        AvailabilityException.location_id == location_id,
        col(AvailabilityException.provider_id).is_(None),
    )
    if start_at is not None:
        query = query.where(AvailabilityException.end_at > start_at)
    if end_at is not None:
        query = query.where(AvailabilityException.start_at < end_at)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(
        query.order_by(col(AvailabilityException.start_at)).limit(limit).offset(offset)
    ).all()
    return list(rows), total
