"""Booking a visit online: hold a time for a browser session, then book it for the person
who typed their details (a new patient record, see ``create_online_patient``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from scheduler.auth.actors import Actor
from scheduler.bookings import service as bookings
from scheduler.bookings.schemas import BookingCreate, HoldCreate
from scheduler.config import Settings
from scheduler.db.locks import lock_person
from scheduler.errors import InvalidInput, NotFound
from scheduler.kit.secrets import hash_token, new_token
from scheduler.models import Hold, Location, Patient
from scheduler.public import repository
from scheduler.public.common import (
    MANAGE_GRACE,
    NOT_FOUND,
    active_location,
    bookable_online,
    bookable_type,
    booking_view,
    manage_url,
    public_refusals,
    same_person_ids,
)
from scheduler.public.schemas import (
    PatientDetails,
    PublicBookingConfirmation,
    PublicBookingCreate,
    PublicHoldCreate,
    PublicHoldRead,
)


def place_hold(
    session: Session,
    data: PublicHoldCreate,
    *,
    session_token: str,
    actor: Actor,
    now: datetime,
    settings: Settings,
    patient: Patient | None = None,
    provider_id: int | None = None,
) -> PublicHoldRead:
    """``patient``: the signed-in patient (``/me``), who may hold types they are eligible
    for; ``provider_id``: the provider the patient chose (only where providers are shown)."""
    active_location(session, data.location_id)
    bookable_online(bookable_type(session, data.appointment_type_id), patient)
    secret_hash = hash_token(session_token)
    for previous in repository.live_holds_of_session(session, secret_hash, now):
        bookings.release_hold(session, previous.id or 0, actor=actor, now=now)
    with public_refusals():
        hold = bookings.create_hold(
            session,
            HoldCreate(
                appointment_type_id=data.appointment_type_id,
                location_id=data.location_id,
                start_at=data.start_at,
                provider_id=provider_id if settings.show_provider_to_patients else None,
            ),
            actor=actor,
            now=now,
            ttl=timedelta(minutes=settings.hold_minutes),
            source="online",
            secret_hash=secret_hash,
        )
    location = session.get(Location, data.location_id)
    assert location is not None
    assert hold.id is not None
    tz = ZoneInfo(location.timezone)
    return PublicHoldRead(
        hold_id=hold.id,
        session_token=session_token,
        start_at=hold.start_at.astimezone(tz),
        end_at=hold.end_at.astimezone(tz),
        expires_at=hold.expires_at,
    )


def release_hold(
    session: Session, hold_id: int, *, session_token: str | None, actor: Actor, now: datetime
) -> None:
    hold = session.get(Hold, hold_id)
    if hold is None or not session_token or hold.secret_hash != hash_token(session_token):
        raise NotFound(NOT_FOUND)
    bookings.release_hold(session, hold_id, actor=actor, now=now)


def create_online_patient(
    session: Session, details: PatientDetails, now: datetime
) -> tuple[Patient, list[int]]:
    """A new patient record for an online booking, and the ids of the records it matched.

    Never attaches to an existing record (e-mail and date of birth prove nothing about who
    types them): the new record points at the lowest-id match as a probable duplicate, for
    staff to merge. The caller must hold ``lock_person`` for this identity, so that two
    concurrent bookings by one person see each other's record.
    """
    email = str(details.email).strip().lower()
    matched = same_person_ids(session, email, details.date_of_birth)
    patient = Patient(
        first_name=details.first_name.strip(),
        last_name=details.last_name.strip(),
        date_of_birth=details.date_of_birth,
        email=email,
        phone=details.phone.strip(),
        probable_duplicate_of_id=matched[0] if matched else None,
        created_at=now,
        updated_at=now,
    )
    session.add(patient)
    session.flush()
    return patient, matched


def book(
    session: Session,
    data: PublicBookingCreate,
    *,
    session_token: str | None,
    request_id: str,
    now: datetime,
    settings: Settings,
    manage_token: str | None = None,
    signed_in: Patient | None = None,
) -> PublicBookingConfirmation:
    """Book the session's live hold for the person in ``data``, or for the ``signed_in``
    patient (``/me``: their own record, whose eligibility counts; ``data.patient`` is then
    ignored). ``manage_token``: the secret of the booking's manage link (a new random one
    when not given)."""
    hold = session.get(Hold, data.hold_id)
    if hold is None or not session_token or hold.secret_hash != hash_token(session_token):
        raise NotFound(NOT_FOUND)
    appointment_type = bookable_type(session, hold.appointment_type_id)
    bookable_online(appointment_type, signed_in)
    missing_acks = []
    if appointment_type.driver_required and not data.driver_confirmed:
        missing_acks.append("driver_confirmed")
    if (appointment_type.fasting_hours or appointment_type.clear_liquids_hours) and not (
        data.fasting_acknowledged
    ):
        missing_acks.append("fasting_acknowledged")
    if missing_acks:
        raise InvalidInput(
            "Please confirm you have read the day-of instructions: "
            + ", ".join(missing_acks).replace("_", " ")
            + ".",
            field=missing_acks[0],
            code="acknowledgement_required",
        )
    if signed_in is not None:
        patient = signed_in
        email = patient.email.strip().lower()
        lock_person(session, email, patient.date_of_birth)
        same_person = same_person_ids(session, email, patient.date_of_birth, besides=patient.id)
    else:
        lock_person(session, str(data.patient.email).strip().lower(), data.patient.date_of_birth)
        patient, same_person = create_online_patient(session, data.patient, now)
    assert patient.id is not None
    actor = Actor(kind="patient", label=f"patient:{patient.id}", request_id=request_id)
    manage_token = manage_token or new_token()
    with public_refusals():
        booking = bookings.create_booking(
            session,
            BookingCreate(
                patient_id=patient.id,
                hold_id=hold.id,
                driver_confirmed=data.driver_confirmed,
                fasting_acknowledged=data.fasting_acknowledged,
            ),
            actor=actor,
            now=now,
            source="online",
            hold_secret_hash=hold.secret_hash,
            manage_token_hash=hash_token(manage_token),
            manage_grace=MANAGE_GRACE,
            same_person_ids=same_person,
        )
    view = booking_view(session, booking, manage_token=manage_token, settings=settings)
    return PublicBookingConfirmation(
        **view.model_dump(),
        manage_token=manage_token,
        manage_url=manage_url(settings, manage_token),
    )


@dataclass(frozen=True)
class HeldTime:
    """A session's hold as the booking pages show it (times in the location's zone)."""

    hold_id: int
    location_id: int
    appointment_type_id: int
    start_at: datetime
    end_at: datetime
    expires_at: datetime
    timezone: str
    live: bool
    booked: bool  # turned into a booking (a form sent twice lands here)


def held_time(
    session: Session, hold_id: int, *, session_token: str | None, now: datetime
) -> HeldTime:
    """The session's hold ``hold_id``, live or not (expired, released, booked); any other
    session's hold, or none, is the usual 404."""
    hold = session.get(Hold, hold_id)
    if hold is None or not session_token or hold.secret_hash != hash_token(session_token):
        raise NotFound(NOT_FOUND)
    location = active_location(session, hold.location_id)
    tz = ZoneInfo(location.timezone)
    live = hold.released_at is None and hold.consumed_at is None and hold.expires_at > now
    assert hold.id is not None
    return HeldTime(
        hold_id=hold.id,
        location_id=hold.location_id,
        appointment_type_id=hold.appointment_type_id,
        start_at=hold.start_at.astimezone(tz),
        end_at=hold.end_at.astimezone(tz),
        expires_at=hold.expires_at.astimezone(tz),
        timezone=location.timezone,
        live=live,
        booked=hold.consumed_at is not None,
    )
