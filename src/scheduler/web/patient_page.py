"""What a patient's page shows: details, visits in each location's wall-clock time, the
eligibility flags with who recorded them, the probable duplicate side by side, and the
latest messages to the patient (sign-in links and waitlist offers included).

Reads only; every change goes through ``patients.service``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from scheduler.auth.actors import Actor
from scheduler.kit.timeutil import to_local
from scheduler.kit.zones import zone_label
from scheduler.models import Patient
from scheduler.patients import service as patients_service
from scheduler.patients.service import FlagRecord
from scheduler.web import repository
from scheduler.web.messages_view import MessageLine, patient_messages
from scheduler.web.today import STATUS_LABELS

# Visits that no longer take place: listed with the past ones, never as upcoming.
_CALLED_OFF = frozenset({"cancelled", "entered-in-error"})


@dataclass(frozen=True)
class Visit:
    booking_id: int
    start_local: datetime
    end_local: datetime
    zone_label: str
    type_name: str
    location_name: str
    provider_name: str
    chair_name: str | None
    status: str
    status_label: str


@dataclass(frozen=True)
class Candidate:
    """The record a flagged patient may duplicate, with its visits."""

    patient: Patient
    upcoming: list[Visit]
    past: list[Visit]


@dataclass(frozen=True)
class PatientPage:
    patient: Patient
    upcoming: list[Visit]
    past: list[Visit]
    flags: list[FlagRecord]
    candidate: Candidate | None
    merged_into: Patient | None
    # When each flag last changed, in the clinic's zone (the first active location's).
    flag_times: dict[str, datetime]
    zone_label: str
    messages: list[MessageLine]


def visits(session: Session, patient_id: int, *, now: datetime) -> tuple[list[Visit], list[Visit]]:
    """(upcoming in start order, past newest first). Upcoming: not over yet and not called
    off; a visit in progress counts as upcoming."""
    upcoming: list[Visit] = []
    past: list[Visit] = []
    for booking, _, kind, location, provider, chair in repository.visits_of_patient(
        session, [patient_id]
    ):
        assert booking.id is not None
        visit = Visit(
            booking_id=booking.id,
            start_local=to_local(booking.start_at, location.timezone),
            end_local=to_local(booking.end_at, location.timezone),
            zone_label=zone_label(location.timezone, booking.start_at),
            type_name=kind.name,
            location_name=location.name,
            provider_name=provider.display_name or provider.name,
            chair_name=chair.name if chair else None,
            status=booking.status,
            status_label=STATUS_LABELS.get(booking.status, booking.status),
        )
        if booking.end_at > now and booking.status not in _CALLED_OFF:
            upcoming.append(visit)
        else:
            past.append(visit)
    past.reverse()
    return upcoming, past


def patient_page(session: Session, patient_id: int, *, viewer: Actor, now: datetime) -> PatientPage:
    patient = patients_service.get_patient_for(session, patient_id, viewer=viewer)
    upcoming, past = visits(session, patient_id, now=now)
    candidate = None
    if patient.probable_duplicate_of_id is not None and patient.merged_into_id is None:
        other = patients_service.get_patient(session, patient.probable_duplicate_of_id)
        other_upcoming, other_past = visits(session, patient.probable_duplicate_of_id, now=now)
        candidate = Candidate(other, other_upcoming, other_past)
    merged_into = None
    if patient.merged_into_id is not None:
        merged_into = patients_service.get_patient(session, patient.merged_into_id)
    flags = patients_service.eligibility(session, patient)
    locations = repository.location_choices(session)
    zone = locations[0].timezone if locations else "UTC"
    flag_times = {f.flag: to_local(f.changed_at, zone) for f in flags if f.changed_at}
    return PatientPage(
        patient=patient,
        upcoming=upcoming,
        past=past,
        flags=flags,
        candidate=candidate,
        merged_into=merged_into,
        flag_times=flag_times,
        zone_label=zone_label(zone, now),
        messages=patient_messages(session, patient_id, now=now),
    )


@dataclass(frozen=True)
class FlaggedPair:
    """A record an online booking flagged, and the record it probably duplicates."""

    flagged: Patient
    candidate: Patient


def flagged_duplicates(session: Session, *, viewer: Actor, limit: int) -> list[FlaggedPair]:
    rows, _ = patients_service.list_patients(
        session,
        q=None,
        date_of_birth=None,
        viewer=viewer,
        limit=limit,
        offset=0,
        probable_duplicate=True,
    )
    pairs = []
    for row in rows:
        assert row.probable_duplicate_of_id is not None
        candidate = patients_service.get_patient(session, row.probable_duplicate_of_id)
        pairs.append(FlaggedPair(row, candidate))
    return pairs
