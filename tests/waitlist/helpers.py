"""A taken Tuesday 10:00 and two patients waiting for just that start (the clinic fixture's
nurse places one IV at a time, so one visit fills a start). Clock: Monday 2 March 2026, 09:00
in New York."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from scheduler.models import Patient, WaitlistEntry, WaitlistOffer
from tests.bookings.test_bookings_api import book
from tests.clinic_fixture import Clinic
from tests.factories import make_patient
from tests.notifications.helpers import text_of

TUESDAY_10 = "2026-03-03T10:00:00-05:00"


@dataclass
class FullTuesday:
    cancel_me: int  # the booking whose cancellation frees a chair
    first: int  # entry ids, first come first
    second: int
    first_patient: Patient
    second_patient: Patient


def add_entry(
    client: TestClient, headers: dict[str, str], clinic: Clinic, patient_id: int, **fields: Any
) -> int:
    body = {
        "patient_id": patient_id,
        "location_id": clinic.location_id,
        "appointment_type_id": clinic.infusion_id,
        "earliest_date": "2026-03-03",
        "latest_date": "2026-03-03",
        "earliest_time": "10:00",
        "latest_time": "10:10",
        **fields,
    }
    response = client.post("/api/v1/waitlist", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def full_tuesday(
    client: TestClient, headers: dict[str, str], clinic: Clinic, db: Session
) -> FullTuesday:
    fourth = make_patient(
        db,
        first_name="Finn",
        last_name="Fourth",
        email="finn@example.org",
        consult_completed=True,
        consent_signed=True,
    )
    taken = book(client, headers, clinic, start=TUESDAY_10)
    assert taken.status_code == 201, taken.text
    assert clinic.other_patient.id is not None
    assert fourth.id is not None
    first = add_entry(client, headers, clinic, clinic.other_patient.id)
    second = add_entry(client, headers, clinic, fourth.id)
    return FullTuesday(taken.json()["id"], first, second, clinic.other_patient, fourth)


def cancel(client: TestClient, headers: dict[str, str], booking_id: int) -> None:
    response = client.post(
        f"/api/v1/bookings/{booking_id}/cancel",
        json={"reason": "called", "cancelled_by": "patient"},
        headers=headers,
    )
    assert response.status_code == 200, response.text


def offers(db: Session) -> list[WaitlistOffer]:
    db.expire_all()
    return list(db.exec(select(WaitlistOffer).order_by(col(WaitlistOffer.id))))


def entry_status(db: Session, entry_id: int) -> str:
    db.expire_all()
    entry = db.get(WaitlistEntry, entry_id)
    assert entry is not None
    return entry.status


def offer_token(message: EmailMessage) -> str:
    found = re.search(r"/waitlist/offer/([A-Za-z0-9_\-]+)", text_of(message))
    assert found is not None, text_of(message)
    return found.group(1)
