"""Holds: a slot reserved for a few minutes while a booking is completed. No FastAPI here."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from scheduler.audit.service import audited_write
from scheduler.auth.actors import Actor
from scheduler.bookings import repository
from scheduler.bookings.lifecycle import patient_flags_of
from scheduler.bookings.placement import place
from scheduler.bookings.schemas import (
    HoldCreate,
)
from scheduler.errors import Conflict, NotFound
from scheduler.models import Hold


def get_hold_for(session: Session, hold_id: int, *, viewer: Actor) -> Hold:
    hold = get_hold(session, hold_id)
    if viewer.role == "provider" and hold.provider_id != viewer.provider_id:
        raise NotFound(f"Hold {hold_id} does not exist.")
    return hold


def get_hold(session: Session, hold_id: int, *, for_update: bool = False) -> Hold:
    hold = repository.get_hold(session, hold_id, for_update=for_update)
    if hold is None:
        raise NotFound(f"Hold {hold_id} does not exist.")
    return hold


def hold_is_live(hold: Hold, now: datetime) -> bool:
    return hold.released_at is None and hold.consumed_at is None and hold.expires_at > now


# --- holds ---------------------------------------------------------------------------------


def create_hold(
    session: Session,
    data: HoldCreate,
    *,
    actor: Actor,
    now: datetime,
    ttl: timedelta,
    source: str = "front_desk",
    secret_hash: str | None = None,
) -> Hold:
    """Reserve a slot for ``ttl``. It blocks others until it expires, is released or booked."""
    if data.patient_id is not None:
        patient_flags_of(session, data.patient_id)
    placement = place(
        session,
        location_id=data.location_id,
        appointment_type_id=data.appointment_type_id,
        start_at=data.start_at,
        chair_id=data.chair_id,
        provider_id=data.provider_id,
        patient_id=data.patient_id,
        now=now,
    )
    hold = Hold(
        appointment_type_id=data.appointment_type_id,
        location_id=data.location_id,
        chair_id=placement.chair_id,
        provider_id=placement.provider_id,
        patient_id=data.patient_id,
        start_at=placement.start_at,
        end_at=placement.end_at,
        chair_start_at=placement.chair_start_at,
        chair_end_at=placement.chair_end_at,
        phases=placement.phases,
        turnover_minutes=placement.turnover_minutes,
        expires_at=now + ttl,
        source=source,
        secret_hash=secret_hash,
        created_by_user_id=actor.user_id,
        created_at=now,
    )
    audited_write(
        session,
        hold,
        actor=actor,
        now=now,
        action="hold.create",
        entity_type="hold",
        exclude=frozenset({"secret_hash"}),
    )
    return hold


def release_hold(session: Session, hold_id: int, *, actor: Actor, now: datetime) -> None:
    """Release a hold. Releasing one that already ended is a harmless no-op (idempotent)."""
    hold = get_hold(session, hold_id, for_update=True)
    if hold.consumed_at is not None:
        raise Conflict("This hold was already turned into a booking.", code="hold_consumed")
    if hold.released_at is not None:
        return
    hold.released_at = now
    audited_write(
        session,
        hold,
        actor=actor,
        now=now,
        action="hold.release",
        entity_type="hold",
        after=lambda: None,
    )
