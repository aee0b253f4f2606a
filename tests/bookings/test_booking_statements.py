"""A booking is the busiest write: its statements are counted so that a change which adds
round trips to every booking (an ORM flush, a lazy load, a lookup per rule) is noticed."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Connection

from tests.bookings.test_bookings_api import book
from tests.clinic_fixture import Clinic
from tests.driver_trace import statements, traced


def test_a_booking_costs_a_fixed_handful_of_statements(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic, connection: Connection
) -> None:
    def book_at(start: str, key: str) -> None:
        headers = {**desk_headers, "Idempotency-Key": key}
        response = book(client, headers, clinic, start=start, provider_id=clinic.nurse.id)
        assert response.status_code == 201, response.text

    book_at("2026-03-03T09:00:00-05:00", "warm-up")  # the auth path's caches
    with traced(connection.connection.dbapi_connection) as sent:
        book_at("2026-03-04T09:00:00-05:00", "measured")
    sql = [s for s in statements(sent) if "user_account" not in s]
    expected = [
        "idempotency_record.request_hash",  # a replay? (on PostgreSQL, also guards the key)
        # PostgreSQL: the key's lock is taken; look again with a snapshot taken after it, in
        # case a twin committed (and released the lock) just before (idempotency.py).
        *(["idempotency_record.request_hash"] if connection.dialect.name == "postgresql" else []),
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
