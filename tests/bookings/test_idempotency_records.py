"""What an Idempotency-Key keeps: only what a replay needs, no secret, and not forever."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from scheduler.config import Settings
from scheduler.idempotency.service import purge_expired
from scheduler.kit.clock import FrozenClock
from scheduler.models import IdempotencyRecord
from tests.clinic_fixture import Clinic
from tests.factories import auth_headers, make_user

PUBLIC = "/api/v1/public"
THURSDAY_9 = "2026-03-05T09:00:00-05:00"
ROSA = {
    "first_name": "Rosa",
    "last_name": "Marquez",
    "date_of_birth": "1990-04-12",
    "email": "rosa.marquez@example.org",
    "phone": "+1 555 0199",
}


def _online(clinic: Clinic, db: Session) -> None:
    clinic.consult.self_schedulable = True
    db.add(clinic.consult)
    db.commit()


def test_records_hold_no_secret_and_a_replay_still_opens_the_booking(
    client: TestClient, clinic: Clinic, db: Session
) -> None:
    _online(clinic, db)
    hold_body = {
        "appointment_type_id": clinic.consult.id,
        "location_id": clinic.location_id,
        "start_at": THURSDAY_9,
    }
    session_token = "my-browser-session-" + "x" * 30
    hold_headers = {"X-Booking-Session": session_token, "Idempotency-Key": "hold-1"}
    held = client.post(f"{PUBLIC}/holds", json=hold_body, headers=hold_headers)
    assert held.status_code == 201, held.text
    held_again = client.post(f"{PUBLIC}/holds", json=hold_body, headers=hold_headers)
    assert held_again.text == held.text

    headers = {"X-Booking-Session": session_token, "Idempotency-Key": "submit-1"}
    body = {"hold_id": held.json()["hold_id"], "patient": ROSA}
    first = client.post(f"{PUBLIC}/bookings", json=body, headers=headers)
    assert first.status_code == 201, first.text
    token = first.json()["manage_token"]

    records = db.exec(select(IdempotencyRecord)).all()
    assert len(records) == 2
    for record in records:
        stored = str(record.response_body)
        assert session_token not in stored
        assert token not in stored
        assert "manage_url" not in record.response_body
        assert record.expires_at == record.created_at + timedelta(hours=24)

    again = client.post(f"{PUBLIC}/bookings", json=body, headers=headers)
    assert again.status_code == 201
    assert again.text == first.text  # the same confirmation, manage link included
    assert client.get(f"{PUBLIC}/manage/{token}").status_code == 200
    assert client.get(again.json()["ics_url"].split("127.0.0.1:8000")[1]).status_code == 200


def test_an_expired_key_counts_as_new_and_is_purged(
    client: TestClient,
    clinic: Clinic,
    db: Session,
    settings: Settings,
    clock: FrozenClock,
) -> None:
    desk = make_user(db, role="front_desk")

    def headers_now() -> dict[str, str]:  # access tokens are short-lived
        return {**auth_headers(desk, settings, clock.now()), "Idempotency-Key": "desk-hold"}

    headers = headers_now()
    body = {
        "appointment_type_id": clinic.infusion_id,
        "location_id": clinic.location_id,
        "start_at": THURSDAY_9,
    }
    first = client.post("/api/v1/holds", json=body, headers=headers)
    assert first.status_code == 201, first.text
    clock.advance(timedelta(hours=23))
    headers = headers_now()
    replayed = client.post("/api/v1/holds", json=body, headers=headers)
    assert replayed.headers.get("Idempotent-Replayed") == "true"
    assert replayed.json()["id"] == first.json()["id"]

    clock.advance(timedelta(hours=2))  # 25 h after the first: the key is new again
    headers = headers_now()
    fresh = client.post("/api/v1/holds", json=body, headers=headers)
    assert fresh.status_code == 201, fresh.text
    assert "Idempotent-Replayed" not in fresh.headers
    assert fresh.json()["id"] != first.json()["id"]

    assert purge_expired(db, clock.now()) == 0  # the only record was just written
    assert purge_expired(db, clock.now() + timedelta(hours=24)) == 1
    assert db.exec(select(IdempotencyRecord)).all() == []
