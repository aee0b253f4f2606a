"""Rows for board tests, written straight through the ORM (the booking rules are not under test)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, event
from sqlmodel import Session

from scheduler.models import AppointmentType, Booking, Chair, Hold, Patient, Provider
from tests.factories import EPOCH


def add_booking(
    db: Session,
    *,
    patient: Patient,
    appointment_type: AppointmentType,
    provider: Provider,
    start_at: datetime,
    chair: Chair | None,
    status: str = "booked",
) -> Booking:
    phases: list[dict[str, Any]] = list(appointment_type.phases)
    end_at = start_at + timedelta(minutes=sum(int(p["minutes"]) for p in phases))
    turnover = appointment_type.turnover_minutes if chair is not None else 0
    assert patient.id
    assert appointment_type.id
    assert provider.id
    booking = Booking(
        patient_id=patient.id,
        appointment_type_id=appointment_type.id,
        location_id=chair.location_id if chair else _location_of(db, provider),
        chair_id=chair.id if chair else None,
        provider_id=provider.id,
        start_at=start_at,
        end_at=end_at,
        chair_start_at=start_at if chair else None,
        chair_end_at=end_at + timedelta(minutes=turnover) if chair else None,
        phases=phases,
        turnover_minutes=turnover,
        status=status,
        ical_uid=f"{uuid.uuid4()}@test",
        created_at=EPOCH,
        updated_at=EPOCH,
    )
    db.add(booking)
    db.commit()
    db.refresh(booking)
    return booking


def add_hold(
    db: Session,
    *,
    appointment_type: AppointmentType,
    provider: Provider,
    chair: Chair,
    start_at: datetime,
    expires_at: datetime,
) -> Hold:
    phases: list[dict[str, Any]] = list(appointment_type.phases)
    end_at = start_at + timedelta(minutes=sum(int(p["minutes"]) for p in phases))
    assert appointment_type.id
    assert provider.id
    assert chair.id
    hold = Hold(
        appointment_type_id=appointment_type.id,
        location_id=chair.location_id,
        chair_id=chair.id,
        provider_id=provider.id,
        start_at=start_at,
        end_at=end_at,
        chair_start_at=start_at,
        chair_end_at=end_at + timedelta(minutes=appointment_type.turnover_minutes),
        phases=phases,
        turnover_minutes=appointment_type.turnover_minutes,
        expires_at=expires_at,
        created_at=EPOCH,
    )
    db.add(hold)
    db.commit()
    db.refresh(hold)
    return hold


def _location_of(db: Session, provider: Provider) -> int:
    from sqlmodel import select

    from scheduler.models import ProviderLocation

    link = db.exec(
        select(ProviderLocation).where(ProviderLocation.provider_id == provider.id)
    ).first()
    assert link is not None
    return link.location_id


@contextmanager
def counted(connection: Connection) -> Iterator[list[str]]:
    """The SQL statements SQLAlchemy sends on ``connection`` (savepoints excluded)."""
    sent: list[str] = []

    def record(*args: Any) -> None:
        statement = str(args[2])
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            sent.append(statement)

    event.listen(connection, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(connection, "before_cursor_execute", record)
