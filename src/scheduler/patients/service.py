"""Patients: the people being treated (rules; no FastAPI here).

Patients are never deleted: bookings, series and the audit trail refer to them.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlmodel import Session

from scheduler.audit.service import audited_write, snapshot
from scheduler.auth.actors import Actor
from scheduler.bookings import repository as bookings_repository
from scheduler.errors import Conflict, InvalidInput, NotFound
from scheduler.models import Patient
from scheduler.patients import repository
from scheduler.patients.schemas import PatientCreate, PatientMerge, PatientUpdate

MAX_SEARCH_TERMS = 5
_BOOKING_SECRETS = frozenset({"manage_token_hash"})
# The last time zones to leave a date (UTC+14) are the first to enter it: a birth date is in the
# future only once it is in the future everywhere, whatever zone the clinic is in.
_EARLIEST_OFFSET = timedelta(hours=14)


def _check_birth_date(date_of_birth: date, now: datetime) -> None:
    if date_of_birth > (now + _EARLIEST_OFFSET).date():
        raise InvalidInput("date_of_birth cannot be in the future.", field="date_of_birth")


def search_terms(q: str | None) -> list[str]:
    """Whitespace-separated terms of a search; "jane doe" finds Jane Doe and Doe, Jane."""
    if not q:
        return []
    return q.split()[:MAX_SEARCH_TERMS]


def get_patient(session: Session, patient_id: int) -> Patient:
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFound(f"Patient {patient_id} does not exist.")
    return patient


def get_patient_for(session: Session, patient_id: int, *, viewer: Actor) -> Patient:
    """The patient, as far as ``viewer`` may see: a provider sees only their own patients
    (anyone with a booking with them); anyone else gets the same 404 as for a missing id."""
    patient = get_patient(session, patient_id)
    if viewer.role == "provider" and not repository.has_booking_with(
        session, patient_id=patient_id, provider_id=viewer.provider_id
    ):
        raise NotFound(f"Patient {patient_id} does not exist.")
    return patient


def list_patients(
    session: Session,
    *,
    q: str | None,
    date_of_birth: date | None,
    viewer: Actor,
    limit: int,
    offset: int,
    probable_duplicate: bool | None = None,
) -> tuple[list[Patient], int]:
    """The patients ``viewer`` may see that match: a provider's own patients only (anyone
    with a booking with them, as ``get_patient_for``), anyone else's all of them."""
    own_provider = None
    if viewer.role == "provider":
        if viewer.provider_id is None:
            return [], 0
        own_provider = viewer.provider_id
    return repository.list_patients(
        session,
        terms=search_terms(q),
        date_of_birth=date_of_birth,
        booked_with_provider_id=own_provider,
        limit=limit,
        offset=offset,
        probable_duplicate=probable_duplicate,
    )


def create_patient(
    session: Session, data: PatientCreate, *, actor: Actor, now: datetime
) -> Patient:
    _check_birth_date(data.date_of_birth, now)
    patient = Patient(
        **data.model_dump(exclude={"email"}),
        email=data.email or "",
        created_at=now,
        updated_at=now,
    )
    audited_write(
        session,
        patient,
        actor=actor,
        now=now,
        action="patient.create",
        entity_type="patient",
    )
    return patient


def update_patient(
    session: Session, patient_id: int, data: PatientUpdate, *, actor: Actor, now: datetime
) -> Patient:
    patient = get_patient(session, patient_id)
    before = snapshot(patient)
    changes = data.model_dump(exclude_unset=True)
    if "date_of_birth" in changes:
        _check_birth_date(changes["date_of_birth"], now)
    if "email" in changes:
        changes["email"] = changes["email"] or ""
    for key, value in changes.items():
        setattr(patient, key, value)
    patient.updated_at = now
    audited_write(
        session,
        patient,
        actor=actor,
        now=now,
        action="patient.update",
        entity_type="patient",
        before=before,
    )
    return patient


# The largest id an integer primary key holds (PostgreSQL's ``integer``).
MAX_ROW_ID = 2**31 - 1


def merge_patients(
    session: Session, patient_id: int, data: PatientMerge, *, actor: Actor, now: datetime
) -> Patient:
    """Fold the record ``data.duplicate_id`` into ``patient_id`` (the record kept).

    The duplicate's bookings (every status: history stays with the person), holds and series
    move to the kept record; the kept record's own details and eligibility flags stay as they
    are (the duplicate's, typed by someone online, prove nothing). The duplicate is not
    deleted: it is marked ``merged_into_id`` and no longer flagged. Refused with 409
    ``patient_conflict``, writing nothing, when an active booking of one overlaps an active
    booking of the other; 409 ``already_merged`` when either record was merged before.
    Audited: one event per record and one per moved booking.
    """
    duplicate_id = data.duplicate_id
    if duplicate_id == patient_id:
        raise InvalidInput("A patient cannot be merged into itself.", field="duplicate_id")
    # Ids beyond the id column's range name nobody; checked before they reach the locks
    # (an advisory lock's key is an integer too, and PostgreSQL refuses a larger one).
    if not 1 <= patient_id <= MAX_ROW_ID:
        raise NotFound(f"Patient {patient_id} does not exist.")
    if not 1 <= duplicate_id <= MAX_ROW_ID:
        raise InvalidInput(f"Patient {duplicate_id} does not exist.", field="duplicate_id")
    # The patient advisory locks every booking takes, then the rows: no booking for either
    # record can be written while they are compared and moved.
    bookings_repository.lock_resources(
        session, location_ids=[], provider_ids=[], patient_ids=[patient_id, duplicate_id]
    )
    rows = {p.id: p for p in repository.lock_patients(session, [patient_id, duplicate_id])}
    kept, duplicate = rows.get(patient_id), rows.get(duplicate_id)
    if kept is None:
        raise NotFound(f"Patient {patient_id} does not exist.")
    if duplicate is None:
        raise InvalidInput(f"Patient {duplicate_id} does not exist.", field="duplicate_id")
    for row in (kept, duplicate):
        if row.merged_into_id is not None:
            raise Conflict(
                f"Patient {row.id} was already merged into patient {row.merged_into_id}.",
                code="already_merged",
            )
    mine = repository.active_bookings_of(session, patient_id)
    for theirs in repository.active_bookings_of(session, duplicate_id):
        for booking in mine:
            if booking.start_at < theirs.end_at and theirs.start_at < booking.end_at:
                raise Conflict(
                    f"Merging would give the patient overlapping visits (bookings {booking.id} "
                    f"and {theirs.id}); cancel or move one first.",
                    code="patient_conflict",
                    extra={"booking_ids": [booking.id, theirs.id]},
                )
    kept_before, duplicate_before = snapshot(kept), snapshot(duplicate)
    moved: list[int] = []
    for booking in repository.bookings_of(session, duplicate_id):
        before = snapshot(booking, exclude=_BOOKING_SECRETS)
        booking.patient_id = patient_id
        booking.version += 1
        booking.sequence += 1
        booking.updated_at = now
        audited_write(
            session,
            booking,
            actor=actor,
            now=now,
            action="booking.patient_merged",
            entity_type="booking",
            before=before,
            exclude=_BOOKING_SECRETS,
            reason=f"patient {duplicate_id} merged into patient {patient_id}",
        )
        moved.append(booking.id or 0)
    holds, series = repository.move_holds_and_series(
        session, from_id=duplicate_id, to_id=patient_id
    )
    repository.repoint_duplicates(session, from_id=duplicate_id, to_id=patient_id)
    duplicate.merged_into_id = patient_id
    duplicate.probable_duplicate_of_id = None
    duplicate.updated_at = now
    if kept.probable_duplicate_of_id == duplicate_id:
        kept.probable_duplicate_of_id = None
    kept.updated_at = now
    summary = {"bookings": moved, "holds": holds, "series": series}
    audited_write(
        session,
        kept,
        actor=actor,
        now=now,
        action="patient.merge",
        entity_type="patient",
        before=kept_before,
        after=lambda: {**(snapshot(kept) or {}), "merged_from": duplicate_id, "moved": summary},
    )
    audited_write(
        session,
        duplicate,
        actor=actor,
        now=now,
        action="patient.merged_into",
        entity_type="patient",
        before=duplicate_before,
    )
    return kept
