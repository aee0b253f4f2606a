"""The patient's side of an offer: see it through its private link, then take it or let it go.

The link's token is looked up by its hash; an unknown token and a wrong one read the same
("not found"), and nothing about other people is shown. Taking the offer books the visit from
the offer's hold (``bookings.create_booking``, every rule checked again under the locks) in
one transaction with the offer ``accepted`` and the entry ``booked``; the usual confirmation
goes through the outbox. Too late (the link expired, the time is gone, the offer was passed
on or cancelled) is a ``Conflict`` that says so plainly. No FastAPI, no SQL here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlmodel import Session

from scheduler.audit.service import audited_write
from scheduler.auth.actors import Actor
from scheduler.bookings.book import create_booking
from scheduler.bookings.schemas import BookingCreate
from scheduler.errors import Conflict, NotFound
from scheduler.kit.secrets import hash_token
from scheduler.models import AppointmentType, Hold, Location, WaitlistEntry, WaitlistOffer
from scheduler.public.schemas import PublicLocation
from scheduler.waitlist import repository
from scheduler.waitlist.service import end_offer

NOT_FOUND = "This link is not valid. It may have been mistyped or replaced by a newer one."
MAX_TOKEN = 200
OfferState = Literal["open", "booked", "expired", "passed", "closed"]


@dataclass(frozen=True)
class OfferView:
    state: OfferState
    location: PublicLocation
    appointment_type: str
    start_at: datetime
    end_at: datetime
    expires_at: datetime


def _offer(session: Session, token: str, *, for_update: bool = False) -> WaitlistOffer:
    if not token or len(token) > MAX_TOKEN:
        raise NotFound(NOT_FOUND)
    offer = repository.offer_by_token_hash(session, hash_token(token), for_update=for_update)
    if offer is None:
        raise NotFound(NOT_FOUND)
    return offer


def _actor(offer: WaitlistOffer, request_id: str) -> Actor:
    return Actor(
        kind="patient", label=f"patient-link:waitlist-offer:{offer.id}", request_id=request_id
    )


def state_of(offer: WaitlistOffer, now: datetime) -> OfferState:
    if offer.status == "accepted":
        return "booked"
    if offer.status == "offered":
        return "open" if offer.expires_at > now else "expired"
    if offer.status == "expired":
        return "expired"
    return "passed"


def view_offer(session: Session, token: str, *, now: datetime) -> OfferView:
    offer = _offer(session, token)
    hold = session.get(Hold, offer.hold_id)
    assert hold is not None
    location = session.get(Location, hold.location_id)
    appointment_type = session.get(AppointmentType, hold.appointment_type_id)
    assert location is not None
    assert appointment_type is not None
    assert location.id is not None
    return OfferView(
        state=state_of(offer, now),
        location=PublicLocation(
            id=location.id,
            name=location.name,
            address=location.address,
            phone=location.phone,
            timezone=location.timezone,
        ),
        appointment_type=appointment_type.name,
        start_at=offer.start_at,
        end_at=offer.end_at,
        expires_at=offer.expires_at,
    )


def _still_open(offer: WaitlistOffer, now: datetime) -> None:
    state = state_of(offer, now)
    if state == "booked":
        raise Conflict("You have already taken this time.", code="offer_accepted")
    if state != "open":
        raise Conflict(
            "Sorry, this offer has ended and the time is no longer held for you. "
            "You are still on the list if your window is open.",
            code="offer_closed",
        )


def accept_offer(session: Session, token: str, *, now: datetime, request_id: str = "") -> int:
    """Book the offered time from its hold; the booking's id."""
    offer = _offer(session, token, for_update=True)
    _still_open(offer, now)
    entry = session.get(WaitlistEntry, offer.entry_id)
    assert entry is not None
    actor = _actor(offer, request_id)
    try:
        booking = create_booking(
            session,
            BookingCreate(patient_id=entry.patient_id, hold_id=offer.hold_id),
            actor=actor,
            now=now,
            source="waitlist",
        )
    except Conflict as exc:
        raise Conflict(
            "Sorry, this time can no longer be booked. You are still on the list.",
            code="offer_closed",
        ) from exc
    offer.status = "accepted"
    offer.booking_id = booking.id
    offer.responded_at = now
    offer.updated_at = now
    audited_write(
        session,
        offer,
        actor=actor,
        now=now,
        action="waitlist.offer_accepted",
        entity_type="waitlist_offer",
        exclude=frozenset({"nonce", "token_hash"}),
    )
    entry.status = "booked"
    entry.booking_id = booking.id
    entry.updated_at = now
    audited_write(
        session, entry, actor=actor, now=now, action="waitlist.booked", entity_type="waitlist_entry"
    )
    return booking.id


def decline_offer(session: Session, token: str, *, now: datetime, request_id: str = "") -> None:
    """Let the time go at once (to the next entry); the entry waits for another time."""
    offer = _offer(session, token, for_update=True)
    _still_open(offer, now)
    actor = _actor(offer, request_id)
    end_offer(session, offer, "passed", actor=actor, now=now)
    entry = session.get(WaitlistEntry, offer.entry_id)
    if entry is not None and entry.status == "offered":
        entry.status = "waiting"
        entry.updated_at = now
        audited_write(
            session,
            entry,
            actor=actor,
            now=now,
            action="waitlist.offer_passed_on",
            entity_type="waitlist_entry",
        )
