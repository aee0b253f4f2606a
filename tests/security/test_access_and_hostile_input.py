"""Who may see what, and hostile input: always a 4xx problem+json, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from scheduler.config import Settings
from scheduler.kit.clock import FrozenClock
from scheduler.models import Patient
from tests.clinic_fixture import Clinic
from tests.factories import auth_headers, make_provider, make_user

TUESDAY_9 = "2026-03-03T09:00:00-05:00"


def book(client: TestClient, headers: dict[str, str], clinic: Clinic) -> dict[str, Any]:
    response = client.post(
        "/api/v1/bookings",
        json={
            "patient_id": clinic.patient.id,
            "appointment_type_id": clinic.infusion_id,
            "location_id": clinic.location_id,
            "start_at": TUESDAY_9,
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_provider_sees_only_their_own_bookings_patients_and_holds(
    client: TestClient,
    desk_headers: dict[str, str],
    clinic: Clinic,
    db: Session,
    settings: Settings,
    clock: FrozenClock,
) -> None:
    booking = book(client, desk_headers, clinic)
    hold = client.post(
        "/api/v1/holds",
        json={
            "appointment_type_id": clinic.infusion_id,
            "location_id": clinic.location_id,
            "start_at": "2026-03-03T13:00:00-05:00",
        },
        headers=desk_headers,
    ).json()
    other = make_provider(db, name="Other", locations=(clinic.location,))
    stranger = auth_headers(
        make_user(db, role="provider", email="other@clinic.example", provider_id=other.id),
        settings,
        clock.now(),
    )
    nurse = auth_headers(
        make_user(db, role="provider", email="nurse@clinic.example", provider_id=clinic.nurse.id),
        settings,
        clock.now(),
    )
    for path in (
        f"/api/v1/bookings/{booking['id']}",
        f"/api/v1/bookings/{booking['id']}/calendar.ics",
        f"/api/v1/holds/{hold['id']}",
        f"/api/v1/patients/{clinic.patient.id}",
    ):
        assert client.get(path, headers=stranger).status_code == 404, path
        assert client.get(path, headers=nurse).status_code == 200, path
    listed = client.get("/api/v1/bookings", headers=stranger).json()
    assert listed["total"] == 0


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/v1/locations", {"name": "X", "timezone": "UTC"}),
        ("post", "/api/v1/providers", {"name": "X"}),
        ("post", "/api/v1/appointment-types", {"code": "x", "name": "X", "duration_minutes": 30}),
        ("post", "/api/v1/users", {"email": "a@b.org", "password": "x" * 12, "role": "admin"}),
        ("get", "/api/v1/audit-events", None),
    ],
    ids=["location", "provider", "appointment-type", "user", "audit"],
)
def test_clinic_settings_are_for_admins(
    client: TestClient,
    desk_headers: dict[str, str],
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    response = getattr(client, method)(
        path, headers=desk_headers, **({"json": body} if body else {})
    )
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


HOSTILE_GETS = [
    "/api/v1/patients/2147483648",
    "/api/v1/patients/99999999999999999999999",
    "/api/v1/bookings/9223372036854775808",
    "/api/v1/public/locations/99999999999999999999/appointment-types",
    "/api/v1/slots?appointment_type=1&location=1&start=0001-01-01T00:00:00%2B05:00"
    "&end=0001-01-02T00:00:00%2B05:00",
    "/api/v1/slots/explain?appointment_type=1&location=1&date=9999-12-31",
    "/api/v1/bookings?date=9999-12-31&location_id=1",
    "/api/v1/patients?q=%00",
]


@pytest.mark.parametrize("path", HOSTILE_GETS)
def test_hostile_queries_are_4xx(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic, path: str
) -> None:
    response = client.get(path, headers=desk_headers)
    assert 400 <= response.status_code < 500, (path, response.status_code, response.text)
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Nul\x00Clinic", "timezone": "UTC"},
        {"name": "X" * 5000, "timezone": "UTC"},
        {"name": "Far", "timezone": "UTC", "opening_hours": [{"weekday": 9}]},
        [],
        None,
    ],
    ids=["nul", "overlong", "bad-hours", "list", "null"],
)
def test_hostile_bodies_are_4xx(
    client: TestClient, admin_headers: dict[str, str], body: Any
) -> None:
    response = client.post("/api/v1/locations", json=body, headers=admin_headers)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_hostile_public_booking_is_4xx_and_keeps_no_patient(
    client: TestClient, clinic: Clinic, db: Session
) -> None:
    clinic.consult.self_schedulable = True
    db.add(clinic.consult)
    db.commit()
    far = client.post(
        "/api/v1/public/holds",
        json={
            "appointment_type_id": clinic.consult.id,
            "location_id": clinic.location_id,
            "start_at": "9999-12-31T23:00:00+00:00",
        },
    )
    assert far.status_code == 422
    hold = client.post(
        "/api/v1/public/holds",
        json={
            "appointment_type_id": clinic.consult.id,
            "location_id": clinic.location_id,
            "start_at": "2026-03-05T09:00:00-05:00",
        },
    ).json()
    response = client.post(
        "/api/v1/public/bookings",
        json={
            "hold_id": hold["hold_id"],
            "patient": {
                "first_name": "Alice\x00",
                "last_name": "Smith",
                "date_of_birth": "1990-04-03",
                "email": "alice.smith@example.org",
                "phone": "+1 303 555 0199",
            },
        },
        headers={"X-Booking-Session": hold["session_token"]},
    )
    assert 400 <= response.status_code < 500, response.text

    assert (
        db.exec(select(Patient).where(Patient.email == "alice.smith@example.org")).first() is None
    )
