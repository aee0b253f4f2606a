"""A booking is the busiest write: its statements are counted so that a change which adds
round trips to every booking (an ORM flush, a lazy load, a lookup per rule) is noticed."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Connection

from tests.clinic_fixture import Clinic
from tests.driver_trace import statements, traced


def test_a_booking_costs_a_fixed_handful_of_statements(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic, connection: Connection
) -> None:
    def book(start: str, key: str) -> int:
        response = client.post(
            "/api/v1/bookings",
            json={
                "patient_id": clinic.patient.id,
                "appointment_type_id": clinic.infusion_id,
                "location_id": clinic.location_id,
                "provider_id": clinic.nurse.id,
                "start_at": start,
            },
            headers={**desk_headers, "Idempotency-Key": key},
        )
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    book("2026-03-03T09:00:00-05:00", "warm-up")  # the auth path's caches
    with traced(connection.connection.dbapi_connection) as sent:
        book("2026-03-04T09:00:00-05:00", "measured")
    sql = [s for s in statements(sent) if "user_account" not in s]
    expected = [
        "idempotency_record.request_hash",  # a replay? (on PostgreSQL, also guards the key)
        "FROM location",  # the location, the type and the patient's flags
        *(["pg_advisory_xact_lock"] if connection.dialect.name == "postgresql" else []),
        "location_hours",  # the calendar and what is booked around the start, in one
        "INSERT INTO booking",
        "INSERT INTO audit_event",
        "INSERT INTO idempotency_record",
    ]
    assert len(sql) == len(expected), sql
    for statement, marker in zip(sql, expected, strict=True):
        assert marker in statement, (marker, statement)
