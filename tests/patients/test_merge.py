"""Merging two patient records: the duplicate's bookings and holds move to the kept record,
which keeps its own eligibility; audited; refused (writing nothing) when the person would end
up with overlapping visits."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from scheduler.models import AuditEvent, Booking, Hold, Patient
from tests.bookings.test_bookings_api import book
from tests.clinic_fixture import Clinic
from tests.factories import make_patient

TUESDAY_9 = "2026-03-03T09:00:00-05:00"
TUESDAY_10 = "2026-03-03T10:00:00-05:00"
WEDNESDAY_9 = "2026-03-04T09:00:00-05:00"


def _duplicate_of(db: Session, kept: Patient) -> Patient:
    duplicate = make_patient(
        db,
        first_name=kept.first_name,
        last_name=kept.last_name,
        date_of_birth=kept.date_of_birth,
        email=kept.email,
        consult_completed=False,
    )
    duplicate.probable_duplicate_of_id = kept.id
    db.add(duplicate)
    db.commit()
    return duplicate


def test_merge_moves_bookings_and_holds_and_keeps_the_kept_records_flags(
    client: TestClient, clinic: Clinic, db: Session, desk_headers: dict[str, str]
) -> None:
    kept = clinic.patient  # eligible for infusions
    duplicate = _duplicate_of(db, kept)
    theirs = book(
        client,
        desk_headers,
        clinic,
        start=WEDNESDAY_9,
        type_id=clinic.consult.id,
        patient_id=duplicate.id,
    )
    assert theirs.status_code == 201, theirs.text
    held = client.post(
        "/api/v1/holds",
        json={
            "appointment_type_id": clinic.consult.id,
            "location_id": clinic.location_id,
            "start_at": TUESDAY_10,
            "patient_id": duplicate.id,
        },
        headers=desk_headers,
    )
    assert held.status_code == 201, held.text
    mine = book(client, desk_headers, clinic, start=TUESDAY_9, patient_id=kept.id)
    assert mine.status_code == 201, mine.text

    merged = client.post(
        f"/api/v1/patients/{kept.id}/merge",
        json={"duplicate_id": duplicate.id},
        headers=desk_headers,
    )
    assert merged.status_code == 200, merged.text
    assert merged.json()["id"] == kept.id
    assert merged.json()["consult_completed"] is True
    assert merged.json()["consent_signed"] is True

    moved = db.get(Booking, theirs.json()["id"])
    assert moved is not None
    db.refresh(moved)
    assert moved.patient_id == kept.id
    assert moved.version == theirs.json()["version"] + 1
    hold_row = db.get(Hold, held.json()["id"])
    assert hold_row is not None
    db.refresh(hold_row)
    assert hold_row.patient_id == kept.id
    db.refresh(duplicate)
    assert duplicate.merged_into_id == kept.id
    assert duplicate.probable_duplicate_of_id is None
    flagged = client.get(
        "/api/v1/patients", params={"probable_duplicate": "true"}, headers=desk_headers
    )
    assert flagged.json()["items"] == []
    actions = {
        (e.action, e.entity_type, e.entity_id)
        for e in db.exec(
            select(AuditEvent).where(
                col(AuditEvent.action).in_(
                    ["patient.merge", "patient.merged_into", "booking.patient_merged"]
                )
            )
        ).all()
    }
    assert actions == {
        ("patient.merge", "patient", kept.id),
        ("patient.merged_into", "patient", duplicate.id),
        ("booking.patient_merged", "booking", moved.id),
    }
    again = client.post(
        f"/api/v1/patients/{kept.id}/merge",
        json={"duplicate_id": duplicate.id},
        headers=desk_headers,
    )
    assert again.status_code == 409
    assert again.json()["code"] == "already_merged"


def test_a_merge_that_would_overlap_visits_is_refused_and_writes_nothing(
    client: TestClient, clinic: Clinic, db: Session, desk_headers: dict[str, str]
) -> None:
    kept = clinic.patient
    duplicate = _duplicate_of(db, kept)
    clinic.nurse.max_concurrent_patients = 3
    db.add(clinic.nurse)
    db.commit()
    mine = book(client, desk_headers, clinic, start=TUESDAY_9, patient_id=kept.id)
    theirs = book(
        client,
        desk_headers,
        clinic,
        start="2026-03-03T09:30:00-05:00",
        patient_id=duplicate.id,
        override={"reason": "test: duplicate record"},
    )
    assert mine.status_code == theirs.status_code == 201, theirs.text
    refused = client.post(
        f"/api/v1/patients/{kept.id}/merge",
        json={"duplicate_id": duplicate.id},
        headers=desk_headers,
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "patient_conflict"
    row = db.get(Booking, theirs.json()["id"])
    assert row is not None
    db.refresh(row)
    assert row.patient_id == duplicate.id
    db.refresh(duplicate)
    assert duplicate.merged_into_id is None


def test_merge_input_errors(
    client: TestClient, clinic: Clinic, desk_headers: dict[str, str]
) -> None:
    url = f"/api/v1/patients/{clinic.patient.id}/merge"
    itself = client.post(url, json={"duplicate_id": clinic.patient.id}, headers=desk_headers)
    assert itself.status_code == 422
    missing = client.post(url, json={"duplicate_id": 999999}, headers=desk_headers)
    assert missing.status_code == 422
    assert (
        client.post(
            "/api/v1/patients/999999/merge",
            json={"duplicate_id": clinic.patient.id},
            headers=desk_headers,
        ).status_code
        == 404
    )
    # Ids no integer column can hold name nobody: the same answers, never a 500.
    huge = -10401121410524838447022080
    beyond = client.post(url, json={"duplicate_id": huge}, headers=desk_headers)
    assert beyond.status_code == 422, beyond.text
    assert beyond.json()["errors"][0]["field"] == "duplicate_id"
    outside = client.post(
        f"/api/v1/patients/{2**40}/merge",
        json={"duplicate_id": clinic.patient.id},
        headers=desk_headers,
    )
    assert outside.status_code == 422, outside.text  # like every id parameter of the API
    assert outside.json()["errors"][0]["field"] == "path.patient_id"
