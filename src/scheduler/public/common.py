"""What every patient self-scheduling step shares: the bookable locations and types, the
free times, the one public answer for a refused time, and a visit as the patient sees it.

The rules themselves are described in ``public/service.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from scheduler.availability.service import search_slots
from scheduler.bookings.placement import missing_prerequisites
from scheduler.bookings.repository import PatientFlags
from scheduler.bookings.schemas import BookingRead
from scheduler.config import Settings
from scheduler.errors import Conflict, InvalidInput, NotFound
from scheduler.feeds.service import patient_instructions
from scheduler.models import AppointmentType, Booking, Location, Patient, Provider
from scheduler.public import repository
from scheduler.public.schemas import (
    PublicAppointmentType,
    PublicBookingRead,
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


def location_view(location: Location) -> PublicLocation:
    assert location.id is not None
    return PublicLocation(
        id=location.id,
        name=location.name,
        address=location.address,
        phone=location.phone,
        timezone=location.timezone,
    )


def list_locations(session: Session) -> list[PublicLocation]:
    return [location_view(r) for r in repository.active_locations(session)]


def active_location(session: Session, location_id: int) -> Location:
    location = session.get(Location, location_id)
    if location is None or not location.active:
        raise NotFound(NOT_FOUND)
    return location


def bookable_type(session: Session, type_id: int) -> AppointmentType:
    row = session.get(AppointmentType, type_id)
    if row is None or not row.active or not row.self_schedulable:
        raise NotFound(NOT_FOUND)
    return row


def flags_of(patient: Patient) -> PatientFlags:
    return PatientFlags(
        patient.id or 0, patient.consult_completed, patient.consent_signed, patient.rems_enrolled
    )


def bookable_online(appointment_type: AppointmentType, patient: Patient | None = None) -> None:
    """An anonymous online booking makes a new patient record, which meets no prerequisite:
    a type that has any is refused, the same way for everyone (nobody's records are
    consulted). A signed-in patient (``/me``) may book it when their record meets them."""
    if appointment_type.prerequisites and (
        patient is None or missing_prerequisites(flags_of(patient), appointment_type)
    ):
        raise Conflict(
            f"{appointment_type.name} cannot be booked online: it follows an earlier visit. "
            "Please call the clinic to book it.",
            code="not_bookable_online",
        )


def list_types(
    session: Session, location_id: int, patient: Patient | None = None
) -> list[PublicAppointmentType]:
    """Self-schedulable types that at least one active provider does at this location
    (``bookable_online`` false: shown, but booked through the clinic; with a signed-in
    ``patient``, the types whose prerequisites their record meets are bookable too)."""
    active_location(session, location_id)
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
            bookable_online=not r.prerequisites
            or (patient is not None and not missing_prerequisites(flags_of(patient), r)),
            fasting_hours=r.fasting_hours,
            clear_liquids_hours=r.clear_liquids_hours,
            driver_required=r.driver_required,
            patient_instructions=r.patient_instructions,
        )
        for r in rows
    ]


def check_search(
    session: Session,
    *,
    location_id: int,
    appointment_type_id: int,
    start_at: datetime,
    end_at: datetime,
    settings: Settings,
) -> tuple[Location, AppointmentType]:
    """What a patient's search for times must meet (``find_times``, ``free_days``): an active
    location, a type patients may book, at most ``public_search_max_days`` days. Returns
    both rows, which the search then need not load again."""
    subject = active_location(session, location_id), bookable_type(session, appointment_type_id)
    if end_at - start_at > timedelta(days=settings.public_search_max_days):
        raise InvalidInput(
            f"Search at most {settings.public_search_max_days} days at a time.", field="end"
        )
    return subject


def find_times(
    session: Session,
    *,
    location_id: int,
    appointment_type_id: int,
    start_at: datetime,
    end_at: datetime,
    now: datetime,
    settings: Settings,
    provider_id: int | None = None,
) -> PublicSlotList:
    """Free start times only: no chair, no other patient, provider name only if allowed.
    ``provider_id``: one provider's times, where the clinic shows providers (else ignored)."""
    subject = check_search(
        session,
        location_id=location_id,
        appointment_type_id=appointment_type_id,
        start_at=start_at,
        end_at=end_at,
        settings=settings,
    )
    found = search_slots(
        session,
        location_id=location_id,
        appointment_type_id=appointment_type_id,
        provider_id=provider_id if settings.show_provider_to_patients else None,
        start_at=start_at,
        end_at=end_at,
        now=now,
        subject=subject,
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


def same_person_ids(
    session: Session, email: str, date_of_birth: date, *, besides: int | None = None
) -> list[int]:
    """Ids of the unmerged records with this (lower-case) e-mail and date of birth."""
    return [r for r in repository.same_person_ids(session, email, date_of_birth) if r != besides]


def manage_url(settings: Settings, token: str) -> str:
    """The patient's manage page (``/manage/{token}``; the API answers under
    ``/api/v1/public/manage/{token}`` for the same token)."""
    return f"{settings.public_base_url.rstrip('/')}/manage/{token}"


def manage_links(settings: Settings, token: str) -> dict[str, str]:
    """The members of a confirmation that carry the manage token (never stored for replay)."""
    url = manage_url(settings, token)
    return {"manage_token": token, "manage_url": url, "ics_url": f"{url}/calendar.ics"}


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
        location=location_view(location),
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


def public_type(
    session: Session, location_id: int, type_id: int, patient: Patient | None = None
) -> PublicAppointmentType:
    """One of ``list_types(location_id, patient)``; any other id is the usual 404."""
    for each in list_types(session, location_id, patient):
        if each.id == type_id:
            return each
    raise NotFound(NOT_FOUND)


def provider_choices(
    session: Session, location_id: int, appointment_type_id: int, settings: Settings
) -> list[tuple[int, str]]:
    """``(id, name)`` of the providers a patient may choose between for this visit: none
    where the clinic does not show providers to patients, or when only one does it."""
    if not settings.show_provider_to_patients:
        return []
    rows = repository.providers_for(session, location_id, appointment_type_id)
    choices = [(p.id or 0, p.display_name or p.name) for p in rows]
    return choices if len(choices) > 1 else []


def public_location(session: Session, location_id: int) -> PublicLocation:
    return location_view(active_location(session, location_id))


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
