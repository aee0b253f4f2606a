"""Patient self-scheduling: find a time, hold it, book it, manage it by a private link.

Rules on top of the staff booking service:
- only active, self-schedulable types; no overrides, ever;
- a booking needs a live hold placed by the same browser/app session (X-Booking-Session);
  placing a new hold releases the session's previous one (one active hold per session);
- an online booking never attaches to an existing patient record on e-mail and date of birth
  alone: it makes its own record, flagged ``probable_duplicate_of_id`` (the lowest-id record
  with the same e-mail and date of birth) for staff to review and merge. So every answer is
  the same whether or not the person is on file, and a stranger who knows someone's e-mail
  and birthday learns nothing about them. A new record meets no prerequisite, so types with
  prerequisites are not bookable online at all (refused the same way for everyone);
- one person (same e-mail and date of birth) never gets overlapping visits, however their
  requests race: bookings by one identity are serialized (``lock_person``) and checked
  against every record of that identity; the loser is refused like any taken time;
- refusals of a time say only that the time cannot be booked (one message per code), never
  why in terms of providers or other patients;
- the manage token (256-bit random, stored hashed) opens that booking only, until a day after
  the appointment; patients are bound by the type's cancel/reschedule cut-offs (staff are not);
- every "not yours / not there / expired" is the same 404.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from scheduler.auth.actors import Actor
from scheduler.availability.service import search_slots
from scheduler.bookings import service as bookings
from scheduler.bookings.repository import lock_person
from scheduler.bookings.schemas import (
    BookingCreate,
    BookingRead,
    CancelRequest,
    HoldCreate,
    RescheduleRequest,
)
from scheduler.config import Settings
from scheduler.errors import Conflict, InvalidInput, NotFound
from scheduler.feeds.service import patient_instructions, render_booking_ics
from scheduler.kit.secrets import hash_token, new_token
from scheduler.models import AppointmentType, Booking, Hold, Location, Patient, Provider
from scheduler.notifications import service as notifications
from scheduler.public import repository
from scheduler.public.schemas import (
    PatientDetails,
    PublicAppointmentType,
    PublicBookingConfirmation,
    PublicBookingCreate,
    PublicBookingRead,
    PublicHoldCreate,
    PublicHoldRead,
    PublicLocation,
    PublicSlot,
    PublicSlotList,
)

NOT_FOUND = "Not found."
MANAGE_GRACE = timedelta(days=1)
TIME_TAKEN = "That time can no longer be booked online; please choose another or call the clinic."
TIME_OUTSIDE = (
    "That time cannot be booked online; please choose one of the offered times or call the clinic."
)
# Refusals of a time, as staff see them -> as the public does (the code and one fixed message).
_PUBLIC_REFUSALS = {
    "slot_unavailable": ("slot_unavailable", TIME_TAKEN),
    # Another record of the same person has a visit then: saying so would tell whoever typed
    # the e-mail and date of birth about somebody's treatment.
    "patient_conflict": ("slot_unavailable", TIME_TAKEN),
    "outside_availability": ("outside_availability", TIME_OUTSIDE),
}


@contextmanager
def public_refusals() -> Iterator[None]:
    """Turn a refused time into the public answer: the same status, code and message whatever
    the cause, with no reasons attached (they name providers, whom the clinic may hide, and
    tell a taken time from a patient's own visit)."""
    try:
        yield
    except Conflict as exc:
        public = _PUBLIC_REFUSALS.get(exc.code)
        if public is None:
            raise
        raise Conflict(public[1], code=public[0]) from exc


def _public_location(location: Location) -> PublicLocation:
    assert location.id is not None
    return PublicLocation(
        id=location.id,
        name=location.name,
        address=location.address,
        phone=location.phone,
        timezone=location.timezone,
    )


def list_locations(session: Session) -> list[PublicLocation]:
    return [_public_location(r) for r in repository.active_locations(session)]


def _active_location(session: Session, location_id: int) -> Location:
    location = session.get(Location, location_id)
    if location is None or not location.active:
        raise NotFound(NOT_FOUND)
    return location


def _bookable_type(session: Session, type_id: int) -> AppointmentType:
    row = session.get(AppointmentType, type_id)
    if row is None or not row.active or not row.self_schedulable:
        raise NotFound(NOT_FOUND)
    return row


def _bookable_online(appointment_type: AppointmentType) -> None:
    """An online booking makes a new patient record, which meets no prerequisite: a type
    that has any is refused, the same way for everyone (nobody's records are consulted)."""
    if appointment_type.prerequisites:
        raise Conflict(
            f"{appointment_type.name} cannot be booked online: it follows an earlier visit. "
            "Please call the clinic to book it.",
            code="not_bookable_online",
        )


def list_types(session: Session, location_id: int) -> list[PublicAppointmentType]:
    """Self-schedulable types that at least one active provider does at this location
    (``bookable_online`` false: shown, but booked through the clinic)."""
    _active_location(session, location_id)
    rows = repository.self_schedulable_types_at(session, location_id)
    return [
        PublicAppointmentType(
            id=r.id or 0,
            code=r.code,
            name=r.name,
            description=r.description,
            duration_minutes=r.duration_minutes,
            requires_approval=r.requires_approval,
            new_patients_welcome=not r.prerequisites,
            bookable_online=not r.prerequisites,
            fasting_hours=r.fasting_hours,
            clear_liquids_hours=r.clear_liquids_hours,
            driver_required=r.driver_required,
            patient_instructions=r.patient_instructions,
        )
        for r in rows
    ]


def find_times(
    session: Session,
    *,
    location_id: int,
    appointment_type_id: int,
    start_at: datetime,
    end_at: datetime,
    now: datetime,
    settings: Settings,
) -> PublicSlotList:
    """Free start times only: no chair, no other patient, provider name only if allowed."""
    _active_location(session, location_id)
    _bookable_type(session, appointment_type_id)
    if end_at - start_at > timedelta(days=settings.public_search_max_days):
        raise InvalidInput(
            f"Search at most {settings.public_search_max_days} days at a time.", field="end"
        )
    found = search_slots(
        session,
        location_id=location_id,
        appointment_type_id=appointment_type_id,
        provider_id=None,
        start_at=start_at,
        end_at=end_at,
        now=now,
    )
    show = settings.show_provider_to_patients
    return PublicSlotList(
        timezone=found.timezone,
        items=[
            PublicSlot(
                start_at=s.start_at,
                end_at=s.end_at,
                provider_name=s.provider.name if show else None,
            )
            for s in found.items
        ],
    )


def place_hold(
    session: Session,
    data: PublicHoldCreate,
    *,
    session_token: str,
    actor: Actor,
    now: datetime,
    settings: Settings,
) -> PublicHoldRead:
    _active_location(session, data.location_id)
    _bookable_online(_bookable_type(session, data.appointment_type_id))
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


def _same_person_ids(
    session: Session, email: str, date_of_birth: date, *, besides: int | None = None
) -> list[int]:
    """Ids of the unmerged records with this (lower-case) e-mail and date of birth."""
    return [r for r in repository.same_person_ids(session, email, date_of_birth) if r != besides]


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
    matched = _same_person_ids(session, email, details.date_of_birth)
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
) -> PublicBookingConfirmation:
    """Book the session's live hold for the person in ``data``. ``manage_token``: the secret
    of the booking's manage link (a new random one when not given)."""
    hold = session.get(Hold, data.hold_id)
    if hold is None or not session_token or hold.secret_hash != hash_token(session_token):
        raise NotFound(NOT_FOUND)
    appointment_type = _bookable_type(session, hold.appointment_type_id)
    _bookable_online(appointment_type)
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


def manage_url(settings: Settings, token: str) -> str:
    """The patient's manage page (``/manage/{token}``; the API answers under
    ``/api/v1/public/manage/{token}`` for the same token)."""
    return f"{settings.public_base_url.rstrip('/')}/manage/{token}"


def manage_links(settings: Settings, token: str) -> dict[str, str]:
    """The members of a confirmation that carry the manage token (never stored for replay)."""
    url = manage_url(settings, token)
    return {"manage_token": token, "manage_url": url, "ics_url": f"{url}/calendar.ics"}


def booking_by_token(session: Session, token: str, now: datetime) -> Booking:
    booking = repository.booking_by_manage_hash(
        session, hash_token(token)
    ) or notifications.booking_for_link(session, token, now)
    if booking is not None and booking.manage_token_hash is None:
        return booking  # a message's link: its own expiry was checked
    if (
        booking is None
        or booking.manage_token_expires_at is None
        or booking.manage_token_expires_at <= now
    ):
        raise NotFound(NOT_FOUND)
    return booking


def booking_view(
    session: Session, booking: Booking | BookingRead, *, manage_token: str, settings: Settings
) -> PublicBookingRead:
    appointment_type = session.get(AppointmentType, booking.appointment_type_id)
    location = session.get(Location, booking.location_id)
    provider = session.get(Provider, booking.provider_id)
    assert appointment_type is not None
    assert location is not None
    assert provider is not None
    tz = ZoneInfo(location.timezone)
    return PublicBookingRead(
        status=booking.status,
        start_at=booking.start_at.astimezone(tz),
        end_at=booking.end_at.astimezone(tz),
        timezone=location.timezone,
        appointment_type=appointment_type.name,
        location=_public_location(location),
        provider_name=provider.display_name if settings.show_provider_to_patients else None,
        instructions=list(patient_instructions(appointment_type, booking.start_at, tz)),
        cancel_allowed_until=(
            booking.start_at - timedelta(minutes=appointment_type.patient_cancel_cutoff_minutes)
        ).astimezone(tz),
        reschedule_allowed_until=(
            booking.start_at - timedelta(minutes=appointment_type.patient_reschedule_cutoff_minutes)
        ).astimezone(tz),
        ics_url=manage_links(settings, manage_token)["ics_url"],
    )


def view_booking(
    session: Session, token: str, *, now: datetime, settings: Settings
) -> PublicBookingRead:
    return booking_view(
        session, booking_by_token(session, token, now), manage_token=token, settings=settings
    )


def booking_ics(session: Session, token: str, *, now: datetime, settings: Settings) -> bytes:
    return render_booking_ics(session, booking_by_token(session, token, now), settings=settings)


def _patient_actor(booking: Booking, request_id: str) -> Actor:
    return Actor(kind="patient", label=f"patient-link:booking:{booking.id}", request_id=request_id)


def _check_cutoff(booking: Booking, minutes: int, now: datetime, what: str) -> None:
    deadline = booking.start_at - timedelta(minutes=minutes)
    if now > deadline:
        hours = minutes / 60
        raise Conflict(
            f"Online {what} closes {hours:g} hours before the appointment; please call the clinic.",
            code="cutoff_passed",
            extra={"deadline": deadline.isoformat()},
        )


def cancel(
    session: Session,
    token: str,
    reason: str,
    *,
    request_id: str,
    now: datetime,
    settings: Settings,
) -> PublicBookingRead:
    booking = booking_by_token(session, token, now)
    appointment_type = session.get(AppointmentType, booking.appointment_type_id)
    assert appointment_type is not None
    if booking.status in bookings.CHANGEABLE:
        _check_cutoff(booking, appointment_type.patient_cancel_cutoff_minutes, now, "cancellation")
    cancelled = bookings.cancel_booking(
        session,
        booking.id or 0,
        CancelRequest(reason=reason or "cancelled online by the patient", cancelled_by="patient"),
        actor=_patient_actor(booking, request_id),
        now=now,
        if_match=None,
    )
    return booking_view(session, cancelled, manage_token=token, settings=settings)


def reschedule(
    session: Session,
    token: str,
    start_at: datetime,
    *,
    request_id: str,
    now: datetime,
    settings: Settings,
) -> PublicBookingRead:
    """Move to a new time under the same rules as a new online booking; one booking remains.
    Like a booking, it may not overlap a visit on another record of the same person."""
    booking = booking_by_token(session, token, now)
    patient = session.get(Patient, booking.patient_id)
    assert patient is not None
    email = patient.email.strip().lower()
    lock_person(session, email, patient.date_of_birth)
    same_person = _same_person_ids(session, email, patient.date_of_birth, besides=patient.id)
    appointment_type = _bookable_type(session, booking.appointment_type_id)
    if booking.status in bookings.CHANGEABLE:
        _check_cutoff(
            booking, appointment_type.patient_reschedule_cutoff_minutes, now, "rescheduling"
        )
    with public_refusals():
        moved = bookings.reschedule_booking(
            session,
            booking.id or 0,
            RescheduleRequest(start_at=start_at, reason="rescheduled online by the patient"),
            actor=_patient_actor(booking, request_id),
            now=now,
            if_match=None,
            cancelled_by="patient",
            same_person_ids=same_person,
        )
    return booking_view(session, moved, manage_token=token, settings=settings)


# --- What the patient web pages (/book, /manage) need besides the API's answers ---------


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
    location = _active_location(session, hold.location_id)
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


def public_type(session: Session, location_id: int, type_id: int) -> PublicAppointmentType:
    """One of ``list_types(location_id)``; any other id is the usual 404."""
    for each in list_types(session, location_id):
        if each.id == type_id:
            return each
    raise NotFound(NOT_FOUND)


def public_location(session: Session, location_id: int) -> PublicLocation:
    return _public_location(_active_location(session, location_id))


NEAREST_BEFORE = timedelta(days=3)
NEAREST_AFTER = timedelta(days=14)


def nearest_times(
    session: Session,
    *,
    location_id: int,
    appointment_type_id: int,
    around: datetime,
    now: datetime,
    settings: Settings,
    count: int = 4,
) -> PublicSlotList:
    """The ``count`` free times nearest to ``around`` (a taken or expired time's
    alternatives), earliest first."""
    start = max(now, around - NEAREST_BEFORE)
    end = max(start, around) + NEAREST_AFTER
    end = min(end, start + timedelta(days=settings.public_search_max_days))
    found = find_times(
        session,
        location_id=location_id,
        appointment_type_id=appointment_type_id,
        start_at=start,
        end_at=end,
        now=now,
        settings=settings,
    )
    nearest = sorted(found.items, key=lambda s: abs((s.start_at - around).total_seconds()))
    return PublicSlotList(
        timezone=found.timezone, items=sorted(nearest[:count], key=lambda s: s.start_at)
    )
