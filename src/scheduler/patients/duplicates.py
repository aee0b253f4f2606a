"""Probable duplicates: staff dismiss a flag, or preview and merge two records of one person
(rules; no FastAPI here). The rest of a patient's record is ``patients.service``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from scheduler.audit.service import audited_write, snapshot
from scheduler.auth.actors import Actor
from scheduler.db.locks import lock_resources
from scheduler.errors import Conflict, InvalidInput, NotFound
from scheduler.kit.ids import MAX_ROW_ID
from scheduler.models import Booking, Patient
from scheduler.patients import repository
from scheduler.patients.schemas import PatientMerge
from scheduler.patients.service import get_patient, refuse_if_merged

_BOOKING_SECRETS = frozenset({"manage_token_hash"})


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
    lock_resources(
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


def dismiss_duplicate(session: Session, patient_id: int, *, actor: Actor, now: datetime) -> Patient:
    """Staff looked and this record is not the same person as the one it was flagged
    against: the flag is cleared (audited ``patient.not_duplicate``), both records stay."""
    patient = get_patient(session, patient_id)
    refuse_if_merged(patient)
    if patient.probable_duplicate_of_id is None:
        raise Conflict(
            f"Patient {patient_id} is not flagged as a probable duplicate.", code="not_flagged"
        )
    before = snapshot(patient)
    flagged_against = patient.probable_duplicate_of_id
    patient.probable_duplicate_of_id = None
    patient.updated_at = now
    audited_write(
        session,
        patient,
        actor=actor,
        now=now,
        action="patient.not_duplicate",
        entity_type="patient",
        before=before,
        reason=f"not the same person as patient {flagged_against}",
    )
    return patient


@dataclass(frozen=True)
class MergePreview:
    """What merging ``duplicate`` into ``kept`` would do: the bookings, holds and series that
    move; ``kept`` keeps its details and flags."""

    kept: Patient
    duplicate: Patient
    bookings: list[Booking]
    holds: int
    series: int


def merge_preview(session: Session, kept_id: int, duplicate_id: int) -> MergePreview:
    """The confirm step of a merge (reads only; the merge itself checks again)."""
    kept = get_patient(session, kept_id)
    duplicate = get_patient(session, duplicate_id)
    if kept_id == duplicate_id:
        raise InvalidInput("A patient cannot be merged into itself.", field="duplicate_id")
    refuse_if_merged(kept)
    refuse_if_merged(duplicate)
    holds, series = repository.count_holds_and_series(session, duplicate_id)
    bookings = repository.bookings_of(session, duplicate_id)
    return MergePreview(kept, duplicate, bookings, holds, series)
