"""Placing a booking: create and reschedule, over one shared path.

Both load the patient's flags, ask ``placement.place`` (the same rules the slot search uses,
checked again under the locks) for where the appointment goes, and write the row with
``write_booking`` and its audit event. Reschedule also cancels the old booking (lifecycle)
in the same transaction. No FastAPI here.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from scheduler.audit.service import audited_write, record_event, snapshot
from scheduler.auth.actors import Actor
from scheduler.availability.service import load_subject
from scheduler.bookings import repository
from scheduler.bookings.holds import get_hold, hold_is_live
from scheduler.bookings.lifecycle import (
    SECRET_FIELDS,
    S,
    bump,
    check_if_match,
    get_booking,
    patient_flags_of,
    require_transition,
)
from scheduler.bookings.placement import Placement, place
from scheduler.bookings.repository import PatientFlags
from scheduler.bookings.schemas import (
    BookingCreate,
    BookingRead,
    RescheduleRequest,
)
from scheduler.errors import Conflict, InvalidInput, NotFound
from scheduler.models import AppointmentType, Hold, Location, Series
from scheduler.notifications import outbox


def new_ical_uid() -> str:
    return f"{secrets.token_hex(16)}@infusion-scheduler"


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
    status = S.PENDING if placement.appointment_type.requires_approval else S.BOOKED
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


def write_booking(
    session: Session,
    values: dict[str, Any],
    placement: Placement,
    *,
    actor: Actor,
    now: datetime,
    action: str,
    reason: str,
) -> BookingRead:
    """Insert a new booking row (``values``, at ``placement``), its messages and its audit
    event; the booking as written.

    A plain INSERT: a new booking is not changed again in the request that writes it, and
    building and flushing an ORM object cost several times the statement (benchmarks/).
    """
    row = {"id": repository.insert_booking(session, values), **values}
    outbox.booking_written(
        session,
        row,
        now=now,
        location=placement.location,
        appointment_type=placement.appointment_type,
    )
    record_event(
        session,
        actor=actor,
        now=now,
        action=action,
        entity_type="booking",
        entity_id=row["id"],
        after=snapshot(row, exclude=SECRET_FIELDS),
        reason=reason,
    )
    return BookingRead.model_validate(row)


def _override_note(lifted: Sequence[str], missing: Sequence[str]) -> str:
    parts = [*lifted, *(f"prerequisite:{m}" for m in missing)]
    return ", ".join(parts)


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
        patient = patient_flags_of(session, patient_id)  # say which id is wrong, patient first
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
    return write_booking(
        session,
        values,
        placement,
        actor=actor,
        now=now,
        action="booking.override" if override_reason else "booking.create",
        reason=override_reason,
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
    target = require_transition(old, "reschedule")
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
        patient=patient_flags_of(session, old.patient_id),
        same_person_ids=same_person_ids,
    )
    before = snapshot(old, exclude=SECRET_FIELDS)
    manage_token_hash = old.manage_token_hash
    manage_grace = (
        None if old.manage_token_expires_at is None else old.manage_token_expires_at - old.end_at
    )
    old.status = target
    old.cancel_reason = data.reason or "rescheduled"
    old.cancelled_by = cancelled_by
    old.cancelled_at = now
    old.manage_token_hash = None  # the link moves to the new booking
    bump(old, now)
    # Written before the new row: frees the old chair time before PostgreSQL checks the new
    # one, and the manage token is unique. Two events, one per row, so each booking's history
    # is complete on its own: the old one was cancelled by this reschedule, the new one
    # created by it.
    audited_write(
        session,
        old,
        actor=actor,
        now=now,
        action="booking.reschedule",
        entity_type="booking",
        before=before,
        exclude=SECRET_FIELDS,
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
    if before and before.get("status") == S.BOOKED:
        values["status"] = S.BOOKED  # already approved: moving it needs no second approval
    return write_booking(
        session,
        values,
        placement,
        actor=actor,
        now=now,
        action="booking.override" if override_reason else "booking.create",
        reason=override_reason or f"rescheduled from booking {old.id}",
    )


def book_placement(
    session: Session,
    placement: Placement,
    *,
    patient_id: int,
    actor: Actor,
    now: datetime,
    source: str,
    notes: str,
    override: str | None,
    series_id: int | None,
) -> BookingRead:
    """Write a booking at a placement ``place`` returned (a series visit): the row, its
    confirmation and its audit event, as ``create_booking`` writes them. ``override``: the
    staff reason, recorded with what it lifted."""
    lifted = _override_note(placement.overridden, placement.missing)
    override_reason = f"{override} [{lifted}]" if override and lifted else ""
    values = _booking_values(
        placement,
        patient_id=patient_id,
        source=source,
        now=now,
        notes=notes,
        override_reason=override_reason,
        series_id=series_id,
    )
    return write_booking(
        session,
        values,
        placement,
        actor=actor,
        now=now,
        action="booking.override" if override_reason else "booking.create",
        reason=override_reason,
    )
