"""The public side never lets a caller observe whether a person is on file (issue 13 items 8,
9): an online booking makes its own record (flagged for staff as a probable duplicate), and
answers are the same for known and unknown people; refusals never name providers when the
clinic hides them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from scheduler.config import Settings
from scheduler.kit.clock import FrozenClock
from scheduler.main import create_app
from scheduler.models import Booking, Patient
from scheduler.public.service import TIME_TAKEN
from tests.bookings.test_bookings_api import book
from tests.clinic_fixture import WEEKDAYS_9_TO_5, Clinic
from tests.factories import make_provider
from tests.public.test_public_api import NEWCOMER, PUBLIC, details_of, hold, hold_and_book

THURSDAY_9 = "2026-03-05T09:00:00-05:00"
THURSDAY_930 = "2026-03-05T09:30:00-05:00"
FRIDAY_9 = "2026-03-06T09:00:00-05:00"


@pytest.fixture
def consult_online(clinic: Clinic, db: Session) -> Clinic:
    clinic.consult.self_schedulable = True
    db.add(clinic.consult)
    db.commit()
    return clinic


def _public_shape(response: Any) -> tuple[int, list[str]]:
    return response.status_code, sorted(response.json())


def test_an_online_booking_never_attaches_to_an_existing_record(
    client: TestClient, consult_online: Clinic, db: Session, desk_headers: dict[str, str]
) -> None:
    known = consult_online.patient  # consult completed, consent signed, on file
    known_booking = hold_and_book(
        client, consult_online, consult_online.consult.id or 0, THURSDAY_9, details_of(known)
    )
    unknown_booking = hold_and_book(
        client, consult_online, consult_online.consult.id or 0, FRIDAY_9, NEWCOMER
    )
    assert known_booking.status_code == unknown_booking.status_code == 201
    assert _public_shape(known_booking) == _public_shape(unknown_booking)

    # The person on file got no booking: a new record did, flagged for staff.
    assert db.exec(select(Booking).where(Booking.patient_id == known.id)).all() == []
    twins = db.exec(
        select(Patient).where(Patient.email == known.email, col(Patient.id) != known.id)
    ).all()
    assert len(twins) == 1
    twin = twins[0]
    assert twin.probable_duplicate_of_id == known.id
    assert (twin.consult_completed, twin.consent_signed) == (False, False)
    stranger = db.exec(select(Patient).where(Patient.email == NEWCOMER["email"])).one()
    assert stranger.probable_duplicate_of_id is None

    listed = client.get(
        "/api/v1/patients", params={"probable_duplicate": "true"}, headers=desk_headers
    )
    assert listed.status_code == 200, listed.text
    assert [p["id"] for p in listed.json()["items"]] == [twin.id]
    assert listed.json()["items"][0]["probable_duplicate_of_id"] == known.id


def test_a_persons_overlapping_visit_is_refused_like_a_taken_time(
    client: TestClient, consult_online: Clinic, db: Session, desk_headers: dict[str, str]
) -> None:
    make_provider(
        db,
        name="Second Nurse",
        locations=(consult_online.location,),
        types=(consult_online.consult,),
        weekly=WEEKDAYS_9_TO_5,
    )
    # The person on file has a consultation at 09:00 (booked by the desk) ...
    staff = book(
        client,
        desk_headers,
        consult_online,
        start=THURSDAY_9,
        type_id=consult_online.consult.id,
        patient_id=consult_online.patient.id,
    )
    assert staff.status_code == 201, staff.text
    # ... so an online booking with their e-mail and date of birth at 09:30 is refused,
    overlapping = hold_and_book(
        client,
        consult_online,
        consult_online.consult.id or 0,
        THURSDAY_930,
        details_of(consult_online.patient),
    )
    # exactly as a time somebody else took is: same status, code and message.
    taken_by_other = hold_and_book(
        client, consult_online, consult_online.consult.id or 0, THURSDAY_930, NEWCOMER
    )
    assert taken_by_other.status_code == 201, taken_by_other.text
    taken = hold(client, consult_online, consult_online.consult.id or 0, THURSDAY_930)
    assert overlapping.status_code == taken.status_code == 409, overlapping.text
    for member in ("code", "detail", "title", "status"):
        assert overlapping.json()[member] == taken.json()[member], member
    assert set(overlapping.json()) == set(taken.json())


@pytest.fixture
def hidden_providers(
    settings: Settings, clock: FrozenClock, session_factory: sessionmaker[Session]
) -> Iterator[TestClient]:
    hidden = settings.model_copy(update={"show_provider_to_patients": False})
    app: FastAPI = create_app(hidden, clock=clock, session_factory=session_factory)
    with TestClient(app) as client:
        yield client


def test_public_refusals_never_name_a_hidden_provider(
    hidden_providers: TestClient,
    client: TestClient,
    consult_online: Clinic,
    desk_headers: dict[str, str],
) -> None:
    nurse = consult_online.nurse
    taken = book(
        client,
        desk_headers,
        consult_online,
        start=THURSDAY_9,
        type_id=consult_online.consult.id,
        patient_id=consult_online.other_patient.id,
    )
    assert taken.status_code == 201, taken.text
    refusals = [
        hold(hidden_providers, consult_online, consult_online.consult.id or 0, THURSDAY_9),
        hold(hidden_providers, consult_online, consult_online.consult.id or 0, THURSDAY_930),
        # Outside the nurse's hours (18:00), and off the grid.
        hold(
            hidden_providers,
            consult_online,
            consult_online.consult.id or 0,
            "2026-03-05T18:00:00-05:00",
        ),
    ]
    booked = hold_and_book(
        hidden_providers, consult_online, consult_online.consult.id or 0, FRIDAY_9, NEWCOMER
    )
    assert booked.status_code == 201
    assert booked.json()["provider_name"] is None
    moved = hidden_providers.post(
        f"{PUBLIC}/manage/{booked.json()['manage_token']}/reschedule",
        json={"start_at": THURSDAY_9},
    )
    refusals.append(moved)
    for refused in refusals:
        assert refused.status_code == 409, refused.text
        body = refused.text
        for name in (nurse.name, nurse.display_name):
            assert name not in body
        assert "provider" not in body.lower()


def test_rescheduling_onto_the_persons_other_visit_is_refused_like_a_taken_time(
    client: TestClient, consult_online: Clinic, db: Session, desk_headers: dict[str, str]
) -> None:
    make_provider(
        db,
        name="Second Nurse",
        locations=(consult_online.location,),
        types=(consult_online.consult,),
        weekly=WEEKDAYS_9_TO_5,
    )
    on_file = consult_online.patient
    staff = book(
        client,
        desk_headers,
        consult_online,
        start=THURSDAY_9,
        type_id=consult_online.consult.id,
        patient_id=on_file.id,
    )
    assert staff.status_code == 201, staff.text
    online = hold_and_book(
        client, consult_online, consult_online.consult.id or 0, FRIDAY_9, details_of(on_file)
    )
    assert online.status_code == 201, online.text
    moved = client.post(
        f"{PUBLIC}/manage/{online.json()['manage_token']}/reschedule",
        json={"start_at": THURSDAY_930},
    )
    assert moved.status_code == 409, moved.text
    assert moved.json()["code"] == "slot_unavailable"
    assert moved.json()["detail"] == TIME_TAKEN
    # A time free for the person still moves.
    ok = client.post(
        f"{PUBLIC}/manage/{online.json()['manage_token']}/reschedule",
        json={"start_at": "2026-03-05T11:00:00-05:00"},
    )
    assert ok.status_code == 200, ok.text
