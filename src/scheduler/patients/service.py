"""Patients: the people being treated (rules; no FastAPI here).

Patients are never deleted: bookings, series and the audit trail refer to them.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlmodel import Session

from scheduler.audit.service import Actor, record_event, snapshot
from scheduler.errors import InvalidInput, NotFound
from scheduler.models import Patient
from scheduler.patients import repository
from scheduler.patients.schemas import PatientCreate, PatientUpdate

MAX_SEARCH_TERMS = 5
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
    session.add(patient)
    session.flush()
    record_event(
        session,
        actor=actor,
        now=now,
        action="patient.create",
        entity_type="patient",
        entity_id=patient.id,
        after=snapshot(patient),
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
    session.add(patient)
    session.flush()
    record_event(
        session,
        actor=actor,
        now=now,
        action="patient.update",
        entity_type="patient",
        entity_id=patient_id,
        before=before,
        after=snapshot(patient),
    )
    return patient
