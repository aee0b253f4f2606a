"""One rule picks the provider: the one slot search offers is the one a booking gets.

Two nurses do consultations. The first (lower id) already has a visit on Tuesday, so slot
search offers the second (fewest visits that day, then lowest id). A booking of that slot that
names no provider, staff or online, must book the second nurse, not the lowest id that fits.
"""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session

from scheduler.models import Booking, Hold, Provider
from tests.bookings.test_bookings_api import book
from tests.clinic_fixture import WEEKDAYS_9_TO_5, Clinic
from tests.factories import make_provider

PUBLIC = "/api/v1/public"
TUESDAY = ("2026-03-03T00:00:00-05:00", "2026-03-04T00:00:00-05:00")
TUESDAY_9 = "2026-03-03T09:00:00-05:00"


def _second_nurse_busy_first(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic, db: Session
) -> Provider:
    clinic.consult.self_schedulable = True
    db.add(clinic.consult)
    db.commit()
    second = make_provider(
        db,
        name="Second Nurse",
        locations=(clinic.location,),
        types=(clinic.consult,),
        max_concurrent_patients=2,
        weekly=WEEKDAYS_9_TO_5,
    )
    assert (clinic.nurse.id or 0) < (second.id or 0)
    # The lowest-id nurse has a visit that day; the second has none.
    busy = book(
        client,
        desk_headers,
        clinic,
        start="2026-03-03T15:00:00-05:00",
        patient_id=clinic.other_patient.id,
        type_id=clinic.consult.id,
        provider_id=clinic.nurse.id,
    )
    assert busy.status_code == 201, busy.text
    return second


def _offered(client: TestClient, clinic: Clinic, headers: dict[str, str]) -> dict[str, object]:
    found = client.get(
        "/api/v1/slots",
        params={
            "appointment_type": clinic.consult.id,
            "location": clinic.location_id,
            "start": TUESDAY[0],
            "end": TUESDAY[1],
        },
        headers=headers,
    )
    assert found.status_code == 200, found.text
    return {s["start_at"]: s["provider"]["id"] for s in found.json()["items"]}


def test_staff_booking_without_a_provider_books_the_offered_one(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic, db: Session
) -> None:
    second = _second_nurse_busy_first(client, desk_headers, clinic, db)
    assert _offered(client, clinic, desk_headers)[TUESDAY_9] == second.id
    booked = book(client, desk_headers, clinic, start=TUESDAY_9, type_id=clinic.consult.id)
    assert booked.status_code == 201, booked.text
    assert booked.json()["provider_id"] == second.id
    stored = db.get(Booking, booked.json()["id"])
    assert stored is not None
    assert stored.provider_id == second.id


def test_staff_hold_reserves_the_offered_provider_and_the_booking_keeps_it(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic, db: Session
) -> None:
    second = _second_nurse_busy_first(client, desk_headers, clinic, db)
    held = client.post(
        "/api/v1/holds",
        json={
            "appointment_type_id": clinic.consult.id,
            "location_id": clinic.location_id,
            "start_at": TUESDAY_9,
        },
        headers=desk_headers,
    )
    assert held.status_code == 201, held.text
    assert held.json()["provider_id"] == second.id
    booked = client.post(
        "/api/v1/bookings",
        json={"patient_id": clinic.patient.id, "hold_id": held.json()["id"]},
        headers=desk_headers,
    )
    assert booked.status_code == 201, booked.text
    assert booked.json()["provider_id"] == second.id


def test_online_confirmation_names_the_clinician_the_page_offered(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic, db: Session
) -> None:
    second = _second_nurse_busy_first(client, desk_headers, clinic, db)
    page = client.get(
        f"{PUBLIC}/slots",
        params={
            "appointment_type": clinic.consult.id,
            "location": clinic.location_id,
            "start": TUESDAY[0],
            "end": TUESDAY[1],
        },
    )
    offered = {s["start_at"]: s["provider_name"] for s in page.json()["items"]}
    assert offered[TUESDAY_9] == "Second Nurse"
    held = client.post(
        f"{PUBLIC}/holds",
        json={
            "appointment_type_id": clinic.consult.id,
            "location_id": clinic.location_id,
            "start_at": TUESDAY_9,
        },
    )
    assert held.status_code == 201, held.text
    hold_row = db.get(Hold, held.json()["hold_id"])
    assert hold_row is not None
    assert hold_row.provider_id == second.id
    booked = client.post(
        f"{PUBLIC}/bookings",
        json={
            "hold_id": held.json()["hold_id"],
            "patient": {
                "first_name": "Rosa",
                "last_name": "Marquez",
                "date_of_birth": "1990-04-12",
                "email": "rosa.marquez@example.org",
                "phone": "+1 555 0199",
            },
        },
        headers={"X-Booking-Session": held.json()["session_token"]},
    )
    assert booked.status_code == 201, booked.text
    assert booked.json()["provider_name"] == "Second Nurse"
