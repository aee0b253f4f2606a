"""The waitlist for staff: add an entry, list the queue with offers in flight, cancel.

An entry waits for a type at a location within a window of dates and, on each day, of
wall-clock times in the clinic's zone; the worker offers it matching freed slots
(``offer_service``). Every change is audited. No FastAPI, no SQL here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from scheduler.audit.service import audited_write
from scheduler.auth.actors import Actor
from scheduler.bookings.holds import release_hold
from scheduler.errors import Conflict, InvalidInput, NotFound
from scheduler.models import (
    AppointmentType,
    Location,
    Patient,
    Provider,
    WaitlistEntry,
    WaitlistOffer,
)
from scheduler.waitlist import repository
from scheduler.waitlist.schemas import WaitlistEntryCreate, WaitlistEntryRead, WaitlistOfferRead

OPEN_STATUSES = ("waiting", "offered")
MAX_AHEAD_DAYS = 366


def _require(session: Session, model: type, ident: int, field: str, what: str) -> None:
    if session.get(model, ident) is None:
        raise InvalidInput(f"{what} {ident} does not exist.", field=field)


def add_entry(
    session: Session, data: WaitlistEntryCreate, *, actor: Actor, now: datetime
) -> WaitlistEntryRead:
    """Put a patient on the waitlist. The window must not have ended in the clinic's zone."""
    _require(session, Patient, data.patient_id, "patient_id", "Patient")
    _require(session, AppointmentType, data.appointment_type_id, "appointment_type_id", "Type")
    if data.provider_id is not None:
        _require(session, Provider, data.provider_id, "provider_id", "Provider")
    location = session.get(Location, data.location_id)
    if location is None:
        raise InvalidInput(f"Location {data.location_id} does not exist.", field="location_id")
    today = now.astimezone(ZoneInfo(location.timezone)).date()
    if data.latest_date < today:
        raise InvalidInput("The window has already ended.", field="latest_date")
    if data.latest_date > today + timedelta(days=MAX_AHEAD_DAYS):
        raise InvalidInput(
            f"The window may end at most {MAX_AHEAD_DAYS} days from today.", field="latest_date"
        )
    entry = WaitlistEntry(
        **data.model_dump(),
        status="waiting",
        created_by_user_id=actor.user_id,
        created_at=now,
        updated_at=now,
    )
    audited_write(
        session, entry, actor=actor, now=now, action="waitlist.add", entity_type="waitlist_entry"
    )
    return read_entries(session, [entry])[0]


def read_entries(session: Session, entries: Sequence[WaitlistEntry]) -> list[WaitlistEntryRead]:
    names, zones = repository.names_and_zones(session, entries)
    offers = repository.offers_in_flight(session, [e.id for e in entries if e.id is not None])
    items = []
    for entry in entries:
        assert entry.id is not None
        offer = offers.get(entry.id)
        items.append(
            WaitlistEntryRead(
                id=entry.id,
                patient_id=entry.patient_id,
                patient_name=names.get(entry.patient_id, ""),
                location_id=entry.location_id,
                appointment_type_id=entry.appointment_type_id,
                provider_id=entry.provider_id,
                earliest_date=entry.earliest_date,
                latest_date=entry.latest_date,
                earliest_time=entry.earliest_time,
                latest_time=entry.latest_time,
                timezone=zones.get(entry.location_id, "UTC"),
                status=entry.status,
                booking_id=entry.booking_id,
                created_at=entry.created_at,
                offer=None if offer is None else WaitlistOfferRead.model_validate(offer),
            )
        )
    return items


def list_entries(
    session: Session,
    *,
    location_id: int | None,
    appointment_type_id: int | None,
    statuses: Sequence[str],
    limit: int,
    offset: int,
) -> tuple[list[WaitlistEntryRead], int]:
    """The queue, first come first (``statuses`` empty: every status)."""
    entries, total = repository.list_entries(
        session,
        location_id=location_id,
        appointment_type_id=appointment_type_id,
        statuses=statuses,
        limit=limit,
        offset=offset,
    )
    return read_entries(session, entries), total


def get_entry(session: Session, entry_id: int) -> WaitlistEntryRead:
    entry = repository.get_entry(session, entry_id)
    if entry is None:
        raise NotFound(f"Waitlist entry {entry_id} does not exist.")
    return read_entries(session, [entry])[0]


def end_offer(
    session: Session, offer: WaitlistOffer, status: str, *, actor: Actor, now: datetime
) -> None:
    """Close an open offer (``passed`` or ``expired``) and release its hold, so the slot is
    free for the next entry."""
    offer.status = status
    offer.responded_at = now if status == "passed" else None
    offer.updated_at = now
    release_hold(session, offer.hold_id, actor=actor, now=now)
    audited_write(
        session,
        offer,
        actor=actor,
        now=now,
        action=f"waitlist.offer_{status}",
        entity_type="waitlist_offer",
        exclude=frozenset({"nonce", "token_hash"}),
    )


def cancel_entry(
    session: Session, entry_id: int, *, actor: Actor, now: datetime, reason: str = ""
) -> WaitlistEntryRead:
    """Take an entry off the list; an offer in flight is withdrawn and its slot freed.
    Cancelling one already cancelled is a no-op; a booked or expired one is a 409."""
    entry = repository.get_entry(session, entry_id, for_update=True)
    if entry is None:
        raise NotFound(f"Waitlist entry {entry_id} does not exist.")
    if entry.status == "cancelled":
        return read_entries(session, [entry])[0]
    if entry.status not in OPEN_STATUSES:
        raise Conflict(
            f"This entry is {entry.status} and can no longer be cancelled.",
            code="invalid_transition",
        )
    offer = repository.offer_for_entry(session, entry_id, for_update=True)
    if offer is not None:
        end_offer(session, offer, "passed", actor=actor, now=now)
    entry.status = "cancelled"
    entry.updated_at = now
    audited_write(
        session,
        entry,
        actor=actor,
        now=now,
        action="waitlist.cancel",
        entity_type="waitlist_entry",
        reason=reason,
    )
    return read_entries(session, [entry])[0]
