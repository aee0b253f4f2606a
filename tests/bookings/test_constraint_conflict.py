"""PostgreSQL's exclusion constraint is the last line against a double-booked chair. When it,
and not the app's own checks, finds the conflict, the front desk must still get a 409
``slot_unavailable`` and nothing of the booking may be left behind."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text
from sqlmodel import Session

from tests.bookings.test_bookings_api import TUESDAY_9, book
from tests.clinic_fixture import Clinic
from tests.factories import make_location, make_patient, make_provider


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_chair_conflict_only_the_database_sees_is_a_409_that_writes_nothing(
    client: TestClient,
    desk_headers: dict[str, str],
    clinic: Clinic,
    db: Session,
    connection: Connection,
) -> None:
    # A row the app's checks cannot see (as if written by a buggy import): chair 1 of
    # Downtown, filed under another location, provider and patient, over the same hour.
    elsewhere = make_location(db, name="Uptown")
    stranger = make_provider(db, name="Sam Stranger", locations=(elsewhere,))
    someone = make_patient(db, first_name="Ida", last_name="Imported", email="ida@example.org")
    connection.execute(
        text(
            """INSERT INTO booking (patient_id, appointment_type_id, location_id, chair_id,
                provider_id, start_at, end_at, chair_start_at, chair_end_at, phases,
                turnover_minutes, status, source, version, ical_uid, sequence, notes,
                override_reason, cancel_reason, cancelled_by, late_cancel, driver_confirmed,
                fasting_acknowledged, created_at, updated_at)
            VALUES (:patient, :type, :location, :chair, :provider, :start, :end, :start,
                :end, '[]', 0,
                'booked', 'api', 1, 'imported@test', 0, '', '', '', '', false, false, false,
                now(), now())"""
        ),
        {
            "patient": someone.id,
            "type": clinic.infusion_id,
            "location": elsewhere.id,
            "chair": clinic.chairs[0].id,
            "provider": stranger.id,
            "start": datetime(2026, 3, 3, 14, 30, tzinfo=UTC),  # 09:30 in New York
            "end": datetime(2026, 3, 3, 15, 30, tzinfo=UTC),
        },
    )
    audit_before = connection.execute(text("SELECT count(*) FROM audit_event")).scalar_one()

    def book_chair(chair: int, key: str) -> Any:
        headers = {**desk_headers, "Idempotency-Key": key}
        return book(client, headers, clinic, start=TUESDAY_9, chair_id=chair)

    response = book_chair(clinic.chairs[0].id, "desk-1")

    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "slot_unavailable"
    # The constraint's own message (the app's checks say "That time cannot be booked: ...").
    assert response.json()["detail"] == (
        "That chair is already taken at that time (including its turnover buffer)."
    )
    stored = connection.execute(
        text("SELECT count(*) FROM booking WHERE patient_id = :p"), {"p": clinic.patient.id}
    ).scalar_one()
    assert stored == 0
    audit_after = connection.execute(text("SELECT count(*) FROM audit_event")).scalar_one()
    assert audit_after == audit_before
    keys = connection.execute(
        text("SELECT count(*) FROM idempotency_record WHERE key = 'desk-1'")
    ).scalar_one()
    assert keys == 0  # a retry with the same key is decided anew, not replayed as a 409

    # The other chair is free: the same request for it books (the service is not wedged).
    retry = book_chair(clinic.chairs[1].id, "desk-2")
    assert retry.status_code == 201, retry.text
