"""Locations, their opening hours, chairs and closures (rules; no FastAPI here)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from scheduler.audit.service import audited_delete, audited_write, snapshot
from scheduler.auth.actors import Actor
from scheduler.errors import Conflict, InvalidInput, NotFound
from scheduler.locations import repository
from scheduler.locations.schemas import (
    ChairCreate,
    ChairUpdate,
    ClosureCreate,
    ClosureUpdate,
    LocationCreate,
    LocationRead,
    LocationUpdate,
    OpeningHours,
)
from scheduler.models import AvailabilityException, Chair, Location, LocationHours


def get_location(session: Session, location_id: int) -> Location:
    location = session.get(Location, location_id)
    if location is None:
        raise NotFound(f"Location {location_id} does not exist.")
    return location


def to_read(location: Location, hours: list[LocationHours]) -> LocationRead:
    assert location.id is not None
    return LocationRead(
        id=location.id,
        name=location.name,
        address=location.address,
        timezone=location.timezone,
        phone=location.phone,
        active=location.active,
        opening_hours=[OpeningHours.model_validate(h) for h in hours],
        created_at=location.created_at,
        updated_at=location.updated_at,
    )


def read_location(session: Session, location_id: int) -> LocationRead:
    location = get_location(session, location_id)
    return to_read(location, repository.hours_of(session, [location_id])[location_id])


def list_locations(
    session: Session, *, active: bool | None, limit: int, offset: int
) -> tuple[list[LocationRead], int]:
    rows, total = repository.list_locations(session, active=active, limit=limit, offset=offset)
    hours = repository.hours_of(session, [r.id for r in rows if r.id is not None])
    return [to_read(r, hours[r.id]) for r in rows if r.id is not None], total


def _hours_rows(location_id: int, hours: list[OpeningHours]) -> list[LocationHours]:
    return [
        LocationHours(
            location_id=location_id,
            weekday=h.weekday,
            open_time=h.open_time,
            close_time=h.close_time,
        )
        for h in hours
    ]


def _audit_snapshot(location: Location, hours: list[OpeningHours]) -> dict[str, object]:
    data = snapshot(location) or {}
    data["opening_hours"] = [h.model_dump(mode="json") for h in hours]
    return data


def create_location(
    session: Session, data: LocationCreate, *, actor: Actor, now: datetime
) -> LocationRead:
    if repository.name_taken(session, data.name):
        raise Conflict(f"A location named {data.name!r} already exists.", code="already_exists")
    location = Location(
        name=data.name,
        address=data.address,
        timezone=data.timezone,
        phone=data.phone,
        created_at=now,
        updated_at=now,
    )
    session.add(location)
    session.flush()
    assert location.id is not None
    repository.replace_hours(session, location.id, _hours_rows(location.id, data.opening_hours))
    audited_write(
        session,
        location,
        actor=actor,
        now=now,
        action="location.create",
        entity_type="location",
        after=lambda: _audit_snapshot(location, data.opening_hours),
    )
    return read_location(session, location.id)


def update_location(
    session: Session, location_id: int, data: LocationUpdate, *, actor: Actor, now: datetime
) -> LocationRead:
    current = read_location(session, location_id)
    location = get_location(session, location_id)
    before = _audit_snapshot(location, current.opening_hours)
    changes = data.model_dump(exclude_unset=True, exclude={"opening_hours"})
    if changes.get("name") and repository.name_taken(
        session, changes["name"], except_id=location_id
    ):
        raise Conflict(
            f"A location named {changes['name']!r} already exists.", code="already_exists"
        )
    for key, value in changes.items():
        if value is not None:
            setattr(location, key, value)
    hours = current.opening_hours
    if data.opening_hours is not None:
        hours = data.opening_hours
        repository.replace_hours(session, location_id, _hours_rows(location_id, hours))
    location.updated_at = now
    audited_write(
        session,
        location,
        actor=actor,
        now=now,
        action="location.update",
        entity_type="location",
        before=before,
        after=lambda: _audit_snapshot(location, hours),
    )
    return read_location(session, location_id)


def list_chairs(
    session: Session, location_id: int, *, active: bool | None, limit: int, offset: int
) -> tuple[list[Chair], int]:
    get_location(session, location_id)
    return repository.list_chairs(session, location_id, active=active, limit=limit, offset=offset)


def list_closures(
    session: Session,
    location_id: int,
    *,
    start_at: datetime | None,
    end_at: datetime | None,
    limit: int,
    offset: int,
) -> tuple[list[AvailabilityException], int]:
    get_location(session, location_id)
    return repository.list_closures(
        session, location_id, start_at=start_at, end_at=end_at, limit=limit, offset=offset
    )


def get_chair(session: Session, location_id: int, chair_id: int) -> Chair:
    chair = session.get(Chair, chair_id)
    if chair is None or chair.location_id != location_id:
        raise NotFound(f"Chair {chair_id} does not exist at location {location_id}.")
    return chair


def create_chair(
    session: Session, location_id: int, data: ChairCreate, *, actor: Actor, now: datetime
) -> Chair:
    get_location(session, location_id)
    if repository.chair_name_taken(session, location_id, data.name):
        raise Conflict(f"A chair named {data.name!r} already exists here.", code="already_exists")
    chair = Chair(location_id=location_id, **data.model_dump())
    audited_write(
        session,
        chair,
        actor=actor,
        now=now,
        action="chair.create",
        entity_type="chair",
    )
    return chair


def update_chair(
    session: Session,
    location_id: int,
    chair_id: int,
    data: ChairUpdate,
    *,
    actor: Actor,
    now: datetime,
) -> Chair:
    chair = get_chair(session, location_id, chair_id)
    before = snapshot(chair)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("name") and repository.chair_name_taken(
        session, location_id, changes["name"], except_id=chair_id
    ):
        raise Conflict(
            f"A chair named {changes['name']!r} already exists here.", code="already_exists"
        )
    for key, value in changes.items():
        if value is not None:
            setattr(chair, key, value)
    audited_write(
        session,
        chair,
        actor=actor,
        now=now,
        action="chair.update",
        entity_type="chair",
        before=before,
    )
    return chair


def create_closure(
    session: Session, location_id: int, data: ClosureCreate, *, actor: Actor, now: datetime
) -> AvailabilityException:
    get_location(session, location_id)
    closure = AvailabilityException(
        location_id=location_id,
        provider_id=None,
        kind="unavailable",
        start_at=data.start_at,
        end_at=data.end_at,
        reason=data.reason,
    )
    audited_write(
        session,
        closure,
        actor=actor,
        now=now,
        action="closure.create",
        entity_type="availability_exception",
        reason=data.reason,
    )
    return closure


def get_closure(session: Session, location_id: int, closure_id: int) -> AvailabilityException:
    closure = session.get(AvailabilityException, closure_id)
    if closure is None or closure.location_id != location_id or closure.provider_id is not None:
        raise NotFound(f"Closure {closure_id} does not exist at location {location_id}.")
    return closure


def update_closure(
    session: Session,
    location_id: int,
    closure_id: int,
    data: ClosureUpdate,
    *,
    actor: Actor,
    now: datetime,
) -> AvailabilityException:
    """Move or re-word a closure; the merged span must still end after it starts."""
    closure = get_closure(session, location_id, closure_id)
    before = snapshot(closure)
    changes = data.model_dump(exclude_unset=True)
    start_at = changes.get("start_at", closure.start_at)
    end_at = changes.get("end_at", closure.end_at)
    if end_at <= start_at:
        raise InvalidInput("end_at must be after start_at", field="end_at")
    closure.start_at = start_at
    closure.end_at = end_at
    closure.reason = changes.get("reason", closure.reason)
    audited_write(
        session,
        closure,
        actor=actor,
        now=now,
        action="closure.update",
        entity_type="availability_exception",
        before=before,
        reason=closure.reason,
    )
    return closure


def delete_closure(
    session: Session, location_id: int, closure_id: int, *, actor: Actor, now: datetime
) -> None:
    """Re-opening a closed period removes the closure row; the audit event keeps its record."""
    closure = get_closure(session, location_id, closure_id)
    audited_delete(
        session,
        closure,
        actor=actor,
        now=now,
        action="closure.delete",
        entity_type="availability_exception",
    )
