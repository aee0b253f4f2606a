"""Patient self-scheduling end to end over HTTP, without an account.

Clock: Monday 2 March 2026, 09:00 in New York. The clinic (tests/clinic_fixture.py) offers a
consultation (anyone) and an infusion (needs a completed consultation and consent, a driver and
fasting) online.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from scheduler.config import Settings
from scheduler.kit.clock import FrozenClock
from scheduler.main import create_app
from scheduler.models import Booking, Hold, Patient
from tests.clinic_fixture import Clinic

PUBLIC = "/api/v1/public"
THURSDAY_9 = "2026-03-05T09:00:00-05:00"
FRIDAY_9 = "2026-03-06T09:00:00-05:00"
NEWCOMER = {
    "first_name": "Rosa",
    "last_name": "Marquez",
    "date_of_birth": "1990-04-12",
    "email": "rosa.marquez@example.org",
    "phone": "+1 555 0199",
}


@pytest.fixture
def online(clinic: Clinic, db: Session) -> Clinic:
    for appointment_type in (clinic.infusion, clinic.consult):
        appointment_type.self_schedulable = True
    clinic.infusion.fasting_hours = 6
    clinic.infusion.clear_liquids_hours = 2
    clinic.infusion.driver_required = True
    clinic.infusion.patient_reschedule_cutoff_minutes = 48 * 60
    db.add_all([clinic.infusion, clinic.consult])
    db.commit()
    return clinic


def details_of(patient: Patient) -> dict[str, str]:
    return {
        "first_name": patient.first_name,
        "last_name": patient.last_name,
        "date_of_birth": patient.date_of_birth.isoformat(),
        "email": patient.email.upper(),  # matching ignores case
        "phone": patient.phone,
    }


def hold(
    client: TestClient, clinic: Clinic, type_id: int, start: str, session: str | None = None
) -> Any:
    headers = {"X-Booking-Session": session} if session else {}
    response = client.post(
        f"{PUBLIC}/holds",
        json={"appointment_type_id": type_id, "location_id": clinic.location_id, "start_at": start},
        headers=headers,
    )
    return response


def hold_and_book(
    client: TestClient,
    clinic: Clinic,
    type_id: int,
    start: str,
    patient: dict[str, str],
    **acks: bool,
) -> Any:
    held = hold(client, clinic, type_id, start)
    assert held.status_code == 201, held.text
    token = held.json()["session_token"]
    return client.post(
        f"{PUBLIC}/bookings",
        json={"hold_id": held.json()["hold_id"], "patient": patient, **acks},
        headers={"X-Booking-Session": token},
    )


def test_first_time_patient_books_a_consultation(
    client: TestClient, online: Clinic, db: Session
) -> None:
    types = client.get(f"{PUBLIC}/locations/{online.location_id}/appointment-types").json()
    by_code = {t["code"]: t for t in types}
    assert by_code["consult"]["new_patients_welcome"] is True
    assert by_code["infusion"]["new_patients_welcome"] is False
    assert by_code["infusion"]["driver_required"] is True

    times = client.get(
        f"{PUBLIC}/slots",
        params={
            "appointment_type": online.consult.id,
            "location": online.location_id,
            "start": "2026-03-05T00:00:00-05:00",
            "end": "2026-03-06T00:00:00-05:00",
        },
    )
    assert times.status_code == 200, times.text
    first = times.json()["items"][0]
    assert set(first) == {"start_at", "end_at", "provider_name"}
    assert first["start_at"] == "2026-03-05T08:00:00-05:00"

    booked = hold_and_book(client, online, online.consult.id or 0, first["start_at"], NEWCOMER)
    assert booked.status_code == 201, booked.text
    body = booked.json()
    assert body["status"] == "booked"
    assert body["start_at"] == "2026-03-05T08:00:00-05:00"
    assert len(body["manage_token"]) >= 43
    assert body["manage_url"].endswith(body["manage_token"])
    assert "chair" not in booked.text.lower()
    created = db.exec(select(Patient).where(Patient.email == "rosa.marquez@example.org")).one()
    assert created.consult_completed is False
    assert (
        client.get(f"{PUBLIC}/manage/{body['manage_token']}").json()["start_at"] == body["start_at"]
    )


def test_an_online_infusion_needs_the_acknowledgements_and_gets_instructions(
    client: TestClient, online: Clinic, db: Session
) -> None:
    online.infusion.prerequisites = []  # a clinic that takes new infusion patients online
    db.add(online.infusion)
    db.commit()
    patients_before = len(db.exec(select(Patient)).all())
    missing_ack = hold_and_book(client, online, online.infusion_id, THURSDAY_9, NEWCOMER)
    assert missing_ack.status_code == 422
    assert missing_ack.json()["code"] == "acknowledgement_required"
    booked = hold_and_book(
        client,
        online,
        online.infusion_id,
        THURSDAY_9,
        NEWCOMER,
        driver_confirmed=True,
        fasting_acknowledged=True,
    )
    assert booked.status_code == 201, booked.text
    body = booked.json()
    assert body["start_at"] == "2026-03-05T09:00:00-05:00"
    text = " ".join(body["instructions"])
    assert "Stop eating at 03:00" in text
    assert "07:00" in text  # clear liquids until two hours before
    assert "driver" in text
    assert len(db.exec(select(Patient)).all()) == patients_before + 1
    rosa = db.exec(select(Patient).where(Patient.email == NEWCOMER["email"])).one()
    stored = db.exec(select(Booking).where(Booking.patient_id == rosa.id)).one()
    assert (stored.source, stored.driver_confirmed) == ("online", True)
    assert stored.manage_token_hash
    assert body["manage_token"] not in stored.manage_token_hash


def test_a_type_with_prerequisites_is_not_bookable_online_for_anyone(
    client: TestClient, online: Clinic
) -> None:
    types = client.get(f"{PUBLIC}/locations/{online.location_id}/appointment-types").json()
    by_code = {t["code"]: t for t in types}
    assert by_code["infusion"]["bookable_online"] is False
    assert by_code["consult"]["bookable_online"] is True
    refused = hold(client, online, online.infusion_id, THURSDAY_9)
    assert refused.status_code == 409
    assert refused.json()["code"] == "not_bookable_online"
    assert "missing" not in refused.json()


def test_cancel_is_bound_by_the_cutoff(
    client: TestClient, online: Clinic, clock: FrozenClock
) -> None:
    tuesday = hold_and_book(
        client, online, online.consult.id or 0, "2026-03-03T09:00:00-05:00", NEWCOMER
    )
    token = tuesday.json()["manage_token"]
    clock.advance(timedelta(minutes=1))  # now less than 24 h before
    late = client.post(f"{PUBLIC}/manage/{token}/cancel", json={"reason": "sick"})
    assert late.status_code == 409
    assert late.json()["code"] == "cutoff_passed"
    assert client.get(f"{PUBLIC}/manage/{token}").json()["status"] == "booked"

    thursday = hold_and_book(client, online, online.consult.id or 0, THURSDAY_9, NEWCOMER)
    ok = client.post(
        f"{PUBLIC}/manage/{thursday.json()['manage_token']}/cancel", json={"reason": "sick"}
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "cancelled"


def test_reschedule_keeps_exactly_one_booking(
    client: TestClient, online: Clinic, db: Session
) -> None:
    booked = hold_and_book(client, online, online.consult.id or 0, THURSDAY_9, NEWCOMER).json()
    token = booked["manage_token"]
    moved = client.post(f"{PUBLIC}/manage/{token}/reschedule", json={"start_at": FRIDAY_9})
    assert moved.status_code == 200, moved.text
    assert moved.json()["start_at"] == FRIDAY_9
    assert client.get(f"{PUBLIC}/manage/{token}").json()["start_at"] == FRIDAY_9
    rosa = db.exec(select(Patient).where(Patient.email == NEWCOMER["email"])).one()
    active = db.exec(
        select(Booking).where(Booking.patient_id == rosa.id, col(Booking.status) == "booked")
    ).all()
    assert [b.start_at.isoformat() for b in active] == ["2026-03-06T14:00:00+00:00"]
    ics = client.get(f"{PUBLIC}/manage/{token}/calendar.ics")
    assert ics.status_code == 200
    assert b"DTSTART;TZID=America/New_York:20260306T090000" in ics.content


def test_a_token_opens_its_own_booking_only(
    client: TestClient, online: Clinic, db: Session
) -> None:
    mine = hold_and_book(client, online, online.consult.id or 0, THURSDAY_9, NEWCOMER).json()
    theirs = hold_and_book(
        client, online, online.consult.id or 0, FRIDAY_9, details_of(online.other_patient)
    ).json()
    assert mine["manage_token"] != theirs["manage_token"]
    unknown = client.get(f"{PUBLIC}/manage/{'x' * 43}")
    assert unknown.status_code == 404
    # A hold can only be booked or released by the session that placed it.
    held = hold(client, online, online.consult.id or 0, "2026-03-09T09:00:00-04:00")
    stolen = client.post(
        f"{PUBLIC}/bookings",
        json={"hold_id": held.json()["hold_id"], "patient": NEWCOMER},
        headers={"X-Booking-Session": "somebody-else"},
    )
    assert stolen.status_code == 404
    assert stolen.json()["detail"] == unknown.json()["detail"]
    gone_hold = client.delete(f"{PUBLIC}/holds/999999", headers={"X-Booking-Session": "x"})
    assert gone_hold.status_code == 404
    assert gone_hold.json()["detail"] == unknown.json()["detail"]


def test_one_active_hold_per_session(client: TestClient, online: Clinic, db: Session) -> None:
    first = hold(client, online, online.consult.id or 0, THURSDAY_9).json()
    second = hold(
        client, online, online.consult.id or 0, FRIDAY_9, session=first["session_token"]
    ).json()
    assert second["session_token"] == first["session_token"]
    first_row = db.exec(select(Hold).where(Hold.id == first["hold_id"])).one()
    db.refresh(first_row)
    assert first_row.released_at is not None
    second_row = db.exec(select(Hold).where(Hold.id == second["hold_id"])).one()
    assert second_row.released_at is None


def test_public_answers_reveal_no_other_patient(
    client: TestClient, online: Clinic, desk_headers: dict[str, str]
) -> None:
    # Other patients hold the clinic's time through the front desk.
    staff = client.post(
        "/api/v1/bookings",
        json={
            "patient_id": online.other_patient.id,
            "appointment_type_id": online.infusion_id,
            "location_id": online.location_id,
            "start_at": THURSDAY_9,
        },
        headers=desk_headers,
    )
    assert staff.status_code == 201
    bodies = [
        client.get(f"{PUBLIC}/locations").text,
        client.get(f"{PUBLIC}/locations/{online.location_id}/appointment-types").text,
        client.get(
            f"{PUBLIC}/slots",
            params={
                "appointment_type": online.infusion_id,
                "location": online.location_id,
                "start": "2026-03-05T00:00:00-05:00",
                "end": "2026-03-07T00:00:00-05:00",
            },
        ).text,
    ]
    booked = hold_and_book(client, online, online.consult.id or 0, FRIDAY_9, NEWCOMER)
    bodies.append(booked.text)
    token = booked.json()["manage_token"]
    bodies.append(client.get(f"{PUBLIC}/manage/{token}").text)
    bodies.append(client.get(f"{PUBLIC}/manage/{token}/calendar.ics").text)
    refused = hold(client, online, online.infusion_id, "2026-03-05T11:00:00-05:00")
    assert refused.status_code == 409
    bodies.append(refused.text)
    for other in (online.patient, online.other_patient, online.new_patient):
        for identifier in (
            other.first_name,
            other.last_name,
            other.email,
            other.phone,
            other.date_of_birth.isoformat(),
        ):
            for body in bodies:
                assert identifier.lower() not in body.lower(), identifier


def test_rate_limited_client_gets_429(
    settings: Settings, clock: FrozenClock, session_factory: sessionmaker[Session], online: Clinic
) -> None:
    limited = settings.model_copy(
        update={"rate_limit_enabled": True, "public_rate_limit": "3/minute"}
    )
    app: FastAPI = create_app(limited, clock=clock, session_factory=session_factory)
    with TestClient(app) as client:
        codes = [client.get(f"{PUBLIC}/locations").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        refused = client.get(f"{PUBLIC}/locations")
        assert refused.json()["code"] == "rate_limited"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert client.get("/healthz").status_code == 200  # staff and probes are not limited


def test_a_retried_submit_with_the_same_key_gets_the_same_confirmation(
    client: TestClient, online: Clinic, db: Session
) -> None:
    held = hold(client, online, online.consult.id or 0, THURSDAY_9).json()
    headers = {"X-Booking-Session": held["session_token"], "Idempotency-Key": "submit-1"}
    body = {"hold_id": held["hold_id"], "patient": NEWCOMER}
    first = client.post(f"{PUBLIC}/bookings", json=body, headers=headers)
    again = client.post(f"{PUBLIC}/bookings", json=body, headers=headers)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json()["manage_token"] == first.json()["manage_token"]
    rosa = db.exec(select(Patient).where(Patient.email == NEWCOMER["email"])).one()
    assert len(db.exec(select(Booking).where(Booking.patient_id == rosa.id)).all()) == 1


def test_a_patients_other_visit_is_not_revealed(
    client: TestClient, online: Clinic, db: Session
) -> None:
    from tests.clinic_fixture import WEEKDAYS_9_TO_5
    from tests.factories import make_provider

    make_provider(
        db,
        name="Second Nurse",
        locations=(online.location,),
        types=(online.consult,),
        weekly=WEEKDAYS_9_TO_5,
    )
    first = hold_and_book(client, online, online.consult.id or 0, THURSDAY_9, NEWCOMER)
    assert first.status_code == 201
    # Somebody typing the same e-mail and date of birth for an overlapping time learns only
    # that the time is not available, not that this person has a visit then.
    overlapping = hold_and_book(
        client, online, online.consult.id or 0, "2026-03-05T09:30:00-05:00", NEWCOMER
    )
    if overlapping.status_code == 201:
        pytest.fail("an overlapping second visit for one patient was booked")
    assert overlapping.json()["code"] == "slot_unavailable"
    assert "patient" not in overlapping.json()["detail"].lower()
