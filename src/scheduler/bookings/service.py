"""Holds and bookings: create, move, and walk the FHIR status lifecycle. No FastAPI here.

Status lifecycle (HL7 FHIR ``Appointment.status``)::

    pending --confirm--> booked --check-in--> checked-in --complete--> fulfilled
       |                   |  \\--no-show--> noshow
       +--cancel-----------+--cancel--> cancelled     (reschedule = cancel + new booking)
    pending / booked / checked-in --entered-in-error--> entered-in-error

Anything else is 409 ``invalid_transition``. Nothing is deleted. Every change bumps
``version`` (optimistic concurrency, ETag) and ``sequence`` (iCalendar), and writes an audit
event in the same transaction.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from scheduler.audit.service import Actor, record_event, snapshot
from scheduler.availability.engine import local_instant
from scheduler.availability.service import load_subject
from scheduler.bookings import repository
from scheduler.bookings.placement import Placement, place
from scheduler.bookings.repository import PatientFlags
from scheduler.bookings.schemas import (
    BookingCreate,
    BookingRead,
    BookingUpdate,
    CancelRequest,
    HoldCreate,
    RescheduleRequest,
)
from scheduler.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from scheduler.models import AppointmentType, Booking, Hold, Location, Series

# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "confirm": (frozenset({"pending"}), "booked"),
    "check-in": (frozenset({"booked", "arrived"}), "checked-in"),
    "complete": (frozenset({"checked-in", "arrived"}), "fulfilled"),
    "no-show": (frozenset({"booked"}), "noshow"),
    "cancel": (frozenset({"pending", "booked"}), "cancelled"),
    "reschedule": (frozenset({"pending", "booked"}), "cancelled"),
    "entered-in-error": (
        frozenset({"pending", "booked", "arrived", "checked-in"}),
        "entered-in-error",
    ),
}
_SECRET_FIELDS = frozenset({"manage_token_hash"})


def new_ical_uid() -> str:
    return f"{secrets.token_hex(16)}@infusion-scheduler"


def etag_of(booking: Booking | BookingRead) -> str:
    return f'"{booking.id}.{booking.version}"'


def check_if_match(booking: Booking, if_match: str | None) -> None:
    """Optimistic concurrency: a stale ``If-Match`` is 412; no header means "last write wins"."""
    if if_match is None:
        return
    tags = {t.strip().removeprefix("W/") for t in if_match.split(",")}
    if "*" in tags or etag_of(booking) in tags:
        return
    raise PreconditionFailed(
        f"The booking changed since you read it (now version {booking.version}); reload and retry.",
        extra={"current_etag": etag_of(booking)},
    )


def get_booking(session: Session, booking_id: int, *, for_update: bool = False) -> Booking:
    booking = repository.get_booking(session, booking_id, for_update=for_update)
    if booking is None:
        raise NotFound(f"Booking {booking_id} does not exist.")
    return booking


def get_booking_for(session: Session, booking_id: int, *, viewer: Actor) -> Booking:
    """The booking as ``viewer`` may see it: providers only their own (else the same 404)."""
    booking = get_booking(session, booking_id)
    if viewer.role == "provider" and booking.provider_id != viewer.provider_id:
        raise NotFound(f"Booking {booking_id} does not exist.")
    return booking


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
        _patient_flags(session, data.patient_id)
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
    session.add(hold)
    session.flush()
    record_event(
        session,
        actor=actor,
        now=now,
        action="hold.create",
        entity_type="hold",
        entity_id=hold.id,
        after=snapshot(hold, exclude=frozenset({"secret_hash"})),
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
    session.add(hold)
    record_event(
        session,
        actor=actor,
        now=now,
        action="hold.release",
        entity_type="hold",
        entity_id=hold.id,
    )


# --- bookings ------------------------------------------------------------------------------


def _booking_values(
    placement: Placement,
    *,
    patient_id: int,
    source: str,
    now: datetime,
    notes: str = "",
    override_reason: str = "",
    ical_uid: str | None = None,
    sequence: int = 0,
    rescheduled_from_id: int | None = None,
    series_id: int | None = None,
    hold_id: int | None = None,
    driver_confirmed: bool = False,
    fasting_acknowledged: bool = False,
    manage_token_hash: str | None = None,
    manage_token_expires_at: datetime | None = None,
) -> dict[str, Any]:
    """Every column of a new booking row (``Booking``'s fields, in order, but ``id``)."""
    status = "pending" if placement.appointment_type.requires_approval else "booked"
    assert placement.appointment_type.id is not None
    assert placement.location.id is not None
    return {
        "patient_id": patient_id,
        "appointment_type_id": placement.appointment_type.id,
        "location_id": placement.location.id,
        "chair_id": placement.chair_id,
        "provider_id": placement.provider_id,
        "start_at": placement.start_at,
        "end_at": placement.end_at,
        "chair_start_at": placement.chair_start_at,
        "chair_end_at": placement.chair_end_at,
        "phases": placement.phases,
        "turnover_minutes": placement.turnover_minutes,
        "status": status,
        "source": source,
        "version": 1,
        "ical_uid": ical_uid or new_ical_uid(),
        "sequence": sequence,
        "notes": notes,
        "override_reason": override_reason,
        "cancel_reason": "",
        "cancelled_by": "",
        "cancelled_at": None,
        "late_cancel": False,
        "rescheduled_from_id": rescheduled_from_id,
        "series_id": series_id,
        "hold_id": hold_id,
        "driver_confirmed": driver_confirmed,
        "fasting_acknowledged": fasting_acknowledged,
        "manage_token_hash": manage_token_hash,
        "manage_token_expires_at": manage_token_expires_at,
        "created_at": now,
        "updated_at": now,
    }


def _write_booking(
    session: Session,
    values: dict[str, Any],
    *,
    actor: Actor,
    now: datetime,
    action: str,
    reason: str,
) -> BookingRead:
    """Insert a new booking row and its audit event; the booking as written.

    A plain INSERT: a new booking is not changed again in the request that writes it, and
    building and flushing an ORM object cost several times the statement (benchmarks/).
    """
    row = {"id": repository.insert_booking(session, values), **values}
    record_event(
        session,
        actor=actor,
        now=now,
        action=action,
        entity_type="booking",
        entity_id=row["id"],
        after=snapshot(row, exclude=_SECRET_FIELDS),
        reason=reason,
    )
    return BookingRead.model_validate(row)


def _override_note(lifted: Sequence[str], missing: Sequence[str]) -> str:
    parts = [*lifted, *(f"prerequisite:{m}" for m in missing)]
    return ", ".join(parts)


def _patient_flags(session: Session, patient_id: int) -> PatientFlags:
    patient = repository.patient_flags(session, patient_id)
    if patient is None:
        raise InvalidInput(f"Patient {patient_id} does not exist.", field="patient_id")
    return patient


def _subject_and_patient(
    session: Session, location_id: int, appointment_type_id: int, patient_id: int
) -> tuple[tuple[Location, AppointmentType], PatientFlags]:
    """The location, the type and the patient's flags, in one statement when all exist; an
    unknown patient is 422 (a reference in the body), an unknown location or type 404."""
    found = repository.subject_and_patient(
        session,
        location_id=location_id,
        appointment_type_id=appointment_type_id,
        patient_id=patient_id,
    )
    if found is None:
        patient = _patient_flags(session, patient_id)  # say which id is wrong, patient first
        return load_subject(session, location_id, appointment_type_id), patient
    location, appointment_type, flags = found
    if flags is None:
        raise InvalidInput(f"Patient {patient_id} does not exist.", field="patient_id")
    return (location, appointment_type), flags


def create_booking(
    session: Session,
    data: BookingCreate,
    *,
    actor: Actor,
    now: datetime,
    source: str = "front_desk",
    hold_secret_hash: str | None = None,
    manage_token_hash: str | None = None,
    manage_grace: timedelta = timedelta(0),
    same_person_ids: Sequence[int] = (),
) -> BookingRead:
    """Book from a live hold, or directly, enforcing every rule at write time.

    ``manage_token_hash``: the patient's private manage link opens this booking until
    ``manage_grace`` after it ends. ``same_person_ids``: other records of the same person,
    none of which may have an overlapping visit (see ``place``).
    """
    override = data.override is not None
    if override and not actor.is_staff:
        raise InvalidInput("Only staff may override.", field="override")
    hold: Hold | None = None
    chair_id: int | None
    provider_id: int | None
    if data.hold_id is not None:
        hold = get_hold(session, data.hold_id, for_update=True)
        if hold_secret_hash is not None and hold.secret_hash != hold_secret_hash:
            raise NotFound(f"Hold {data.hold_id} does not exist.")
        if hold.patient_id is not None and hold.patient_id != data.patient_id:
            raise Conflict(
                "This hold was placed for another patient.", code="hold_patient_mismatch"
            )
        if not hold_is_live(hold, now):
            raise Conflict(
                "The hold has expired or was released; pick a time again.", code="hold_expired"
            )
        location_id, type_id, start_at = hold.location_id, hold.appointment_type_id, hold.start_at
        chair_id, provider_id = hold.chair_id, hold.provider_id
    else:
        if data.appointment_type_id is None or data.location_id is None or data.start_at is None:
            raise InvalidInput(
                "Give either hold_id, or appointment_type_id, location_id and start_at.",
                field="hold_id",
            )
        location_id, type_id, start_at = data.location_id, data.appointment_type_id, data.start_at
        chair_id, provider_id = data.chair_id, data.provider_id
    subject, patient = _subject_and_patient(session, location_id, type_id, data.patient_id)
    if data.series_id is not None:
        series = session.get(Series, data.series_id)
        if series is None or series.patient_id != patient.id:
            raise InvalidInput(
                f"Series {data.series_id} does not exist for this patient.", field="series_id"
            )
    placement = place(
        session,
        location_id=location_id,
        appointment_type_id=type_id,
        start_at=start_at,
        chair_id=chair_id,
        provider_id=provider_id,
        patient_id=patient.id,
        now=now,
        override=override,
        ignore=("hold", hold.id) if hold is not None and hold.id is not None else None,
        # A live hold keeps the notice and horizon it was placed under.
        notice_from=hold.created_at if hold is not None else None,
        patient=patient,
        subject=subject,
        same_person_ids=same_person_ids,
    )
    lifted = _override_note(placement.overridden, placement.missing)
    override_reason = f"{data.override.reason} [{lifted}]" if data.override and lifted else ""
    values = _booking_values(
        placement,
        patient_id=data.patient_id,
        source=source,
        now=now,
        notes=data.notes,
        override_reason=override_reason,
        series_id=data.series_id,
        hold_id=hold.id if hold else None,
        driver_confirmed=data.driver_confirmed,
        fasting_acknowledged=data.fasting_acknowledged,
        manage_token_hash=manage_token_hash,
        manage_token_expires_at=(
            placement.end_at + manage_grace if manage_token_hash is not None else None
        ),
    )
    if hold is not None:
        hold.consumed_at = now
        session.add(hold)
        session.flush()
    return _write_booking(
        session,
        values,
        actor=actor,
        now=now,
        action="booking.override" if override_reason else "booking.create",
        reason=override_reason,
    )


def update_booking(
    session: Session,
    booking_id: int,
    data: BookingUpdate,
    *,
    actor: Actor,
    now: datetime,
    if_match: str | None,
) -> Booking:
    booking, before = _open_for_change(session, booking_id, if_match)
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None}
    if not changes:
        return booking
    for key, value in changes.items():
        setattr(booking, key, value)
    return _record_change(session, booking, before, actor=actor, now=now, action="update")


def _open_for_change(
    session: Session, booking_id: int, if_match: str | None
) -> tuple[Booking, dict[str, Any] | None]:
    """The booking, locked for this transaction and checked against ``If-Match``, and its
    picture before the change (for the audit event)."""
    booking = get_booking(session, booking_id, for_update=True)
    check_if_match(booking, if_match)
    return booking, snapshot(booking, exclude=_SECRET_FIELDS)


def _record_change(
    session: Session,
    booking: Booking,
    before: dict[str, Any] | None,
    *,
    actor: Actor,
    now: datetime,
    action: str,
    reason: str = "",
) -> Booking:
    """Bump version and sequence, write, and leave the audit event in the same transaction."""
    _bump(booking, now)
    session.add(booking)
    session.flush()
    record_event(
        session,
        actor=actor,
        now=now,
        action=f"booking.{action}",
        entity_type="booking",
        entity_id=booking.id,
        before=before,
        after=snapshot(booking, exclude=_SECRET_FIELDS),
        reason=reason,
    )
    return booking


def _bump(booking: Booking, now: datetime) -> None:
    booking.version += 1
    booking.sequence += 1
    booking.updated_at = now


def _require_transition(booking: Booking, action: str) -> str:
    allowed, target = TRANSITIONS[action]
    if booking.status not in allowed:
        raise Conflict(
            f"Cannot {action} a booking that is {booking.status}"
            f" (allowed from: {', '.join(sorted(allowed))}).",
            code="invalid_transition",
            extra={"status": booking.status, "action": action},
        )
    return target


def transition(
    session: Session,
    booking_id: int,
    action: str,
    *,
    actor: Actor,
    now: datetime,
    if_match: str | None,
    reason: str = "",
) -> Booking:
    """confirm, check-in, complete, no-show, entered-in-error."""
    booking, before = _open_for_change(session, booking_id, if_match)
    target = _require_transition(booking, action)
    if action == "no-show" and now < booking.start_at:
        raise Conflict(
            "A patient can only be marked a no-show once the appointment has started.",
            code="invalid_transition",
        )
    booking.status = target
    return _record_change(
        session, booking, before, actor=actor, now=now, action=action, reason=reason
    )


def is_late(booking: Booking, appointment_type: AppointmentType, now: datetime) -> bool:
    return booking.start_at - now < timedelta(
        minutes=appointment_type.patient_cancel_cutoff_minutes
    )


def cancel_booking(
    session: Session,
    booking_id: int,
    data: CancelRequest,
    *,
    actor: Actor,
    now: datetime,
    if_match: str | None,
) -> Booking:
    """Cancel with who and why. Inside the type's cut-off the booking is flagged late."""
    booking, before = _open_for_change(session, booking_id, if_match)
    booking.status = _require_transition(booking, "cancel")
    appointment_type = session.get(AppointmentType, booking.appointment_type_id)
    assert appointment_type is not None
    booking.cancel_reason = data.reason
    booking.cancelled_by = data.cancelled_by
    booking.cancelled_at = now
    booking.late_cancel = is_late(booking, appointment_type, now)
    return _record_change(
        session, booking, before, actor=actor, now=now, action="cancel", reason=data.reason
    )


def reschedule_booking(
    session: Session,
    booking_id: int,
    data: RescheduleRequest,
    *,
    actor: Actor,
    now: datetime,
    if_match: str | None,
    cancelled_by: str = "clinic",
    same_person_ids: Sequence[int] = (),
) -> BookingRead:
    """Move a booking atomically: a new booking linked by ``rescheduled_from``, the old one
    cancelled, in one transaction — the patient never has both or neither.

    The new booking keeps the old ``ical_uid`` with a higher ``sequence``, so calendar apps
    move the event, and the patient's manage link (valid as long after the new time as it was
    after the old one). The old one does not compete with its replacement for chair or patient.
    ``same_person_ids``: other records of the same person (see ``place``).
    """
    override = data.override is not None
    if override and not actor.is_staff:
        raise InvalidInput("Only staff may override.", field="override")
    old = get_booking(session, booking_id, for_update=True)
    check_if_match(old, if_match)
    target = _require_transition(old, "reschedule")
    placement = place(
        session,
        location_id=old.location_id,
        appointment_type_id=old.appointment_type_id,
        start_at=data.start_at,
        chair_id=data.chair_id,
        provider_id=data.provider_id,
        patient_id=old.patient_id,
        now=now,
        override=override,
        ignore=("booking", old.id) if old.id is not None else None,
        patient=_patient_flags(session, old.patient_id),
        same_person_ids=same_person_ids,
    )
    before = snapshot(old, exclude=_SECRET_FIELDS)
    manage_token_hash = old.manage_token_hash
    manage_grace = (
        None if old.manage_token_expires_at is None else old.manage_token_expires_at - old.end_at
    )
    old.status = target
    old.cancel_reason = data.reason or "rescheduled"
    old.cancelled_by = cancelled_by
    old.cancelled_at = now
    old.manage_token_hash = None  # the link moves to the new booking
    _bump(old, now)
    session.add(old)
    # Written before the new row: frees the old chair time before PostgreSQL checks the new
    # one, and the manage token is unique.
    session.flush()
    # Two events, one per row, so each booking's history is complete on its own: the old one
    # was cancelled by this reschedule, the new one created by it.
    record_event(
        session,
        actor=actor,
        now=now,
        action="booking.reschedule",
        entity_type="booking",
        entity_id=old.id,
        before=before,
        after=snapshot(old, exclude=_SECRET_FIELDS),
        reason=data.reason,
    )
    lifted = _override_note(placement.overridden, placement.missing)
    override_reason = f"{data.override.reason} [{lifted}]" if data.override and lifted else ""
    values = _booking_values(
        placement,
        patient_id=old.patient_id,
        source=old.source,
        now=now,
        notes=old.notes,
        override_reason=override_reason,
        ical_uid=old.ical_uid,
        sequence=old.sequence + 1,
        rescheduled_from_id=old.id,
        series_id=old.series_id,
        driver_confirmed=old.driver_confirmed,
        fasting_acknowledged=old.fasting_acknowledged,
        manage_token_hash=manage_token_hash,
        manage_token_expires_at=(None if manage_grace is None else placement.end_at + manage_grace),
    )
    if before and before.get("status") == "booked":
        values["status"] = "booked"  # already approved: moving it needs no second approval
    return _write_booking(
        session,
        values,
        actor=actor,
        now=now,
        action="booking.override" if override_reason else "booking.create",
        reason=override_reason or f"rescheduled from booking {old.id}",
    )


def local_day_window(
    session: Session, day: date, location_id: int | None
) -> tuple[datetime, datetime]:
    """[local midnight, next local midnight) of ``day`` at the location (23 or 25 hours on
    DST-change days)."""
    if location_id is None:
        raise InvalidInput(
            "Filtering by date needs location_id (for its time zone).", field="location_id"
        )
    location = session.get(Location, location_id)
    if location is None:
        raise NotFound(f"Location {location_id} does not exist.")
    tz = ZoneInfo(location.timezone)
    return local_instant(day, time(0), tz), local_instant(day + timedelta(days=1), time(0), tz)


def list_bookings(
    session: Session,
    *,
    start_at: datetime | None,
    end_at: datetime | None,
    location_id: int | None,
    chair_id: int | None,
    provider_id: int | None,
    patient_id: int | None,
    statuses: Sequence[str],
    limit: int,
    offset: int,
) -> tuple[list[Booking], int]:
    return repository.list_bookings(
        session,
        start_at=start_at,
        end_at=end_at,
        location_id=location_id,
        chair_id=chair_id,
        provider_id=provider_id,
        patient_id=patient_id,
        statuses=statuses,
        limit=limit,
        offset=offset,
    )
