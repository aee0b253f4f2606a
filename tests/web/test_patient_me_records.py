"""A signed-in patient with several records (issue 17): an anonymous online booking makes its
own record until staff merge it, and the record staff keep (with the eligibility flags) is
the one the person signs in, books and waits as. In process, on SQLite and PostgreSQL.

Clock: Monday 2 March 2026, 09:00 in New York. The infusion needs a completed consultation and
consent; the consultation does not.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from scheduler.config import Settings
from scheduler.models import Booking, Patient, WaitlistEntry
from scheduler.patient_access.service import chosen_record
from tests.clinic_fixture import Clinic
from tests.conftest import make_settings
from tests.public.test_public_api import FRIDAY_9, NEWCOMER, details_of, hold_and_book
from tests.web.test_patient_me import JANE, NOBODY, ask, csrf, sign_in_as

ROSA = {"email": NEWCOMER["email"], "date_of_birth": NEWCOMER["date_of_birth"]}


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, sign_in_answer_seconds=0.01)


def _record(
    record_id: int, *, flagged: bool = False, eligible: bool = False, email: str = "a@b.org"
) -> Patient:
    return Patient(
        id=record_id,
        first_name="A",
        last_name="B",
        date_of_birth=date(1980, 1, 1),
        email=email,
        consult_completed=eligible,
        probable_duplicate_of_id=99 if flagged else None,
    )


@pytest.mark.parametrize(
    ("records", "chosen"),
    [
        pytest.param([], None, id="nobody"),
        pytest.param([_record(1), _record(2)], 1, id="lowest_id_when_alike"),
        pytest.param([_record(1, flagged=True), _record(2)], 2, id="unflagged_before_lower_id"),
        pytest.param([_record(1), _record(2, eligible=True)], 2, id="eligible_before_lower_id"),
        pytest.param(
            [_record(1, eligible=True, flagged=True), _record(2)], 2, id="unflagged_before_eligible"
        ),
        pytest.param(
            [_record(3, flagged=True), _record(2, eligible=True), _record(1)],
            2,
            id="staff_record_among_three",
        ),
    ],
)
def test_the_record_a_person_is(records: list[Patient], chosen: int | None) -> None:
    found = chosen_record(records)
    assert (found.id if found else None) == chosen


def _self_schedulable(clinic: Clinic, db: Session) -> None:
    for kind in (clinic.infusion, clinic.consult):
        kind.self_schedulable = True
        db.add(kind)
    db.commit()


def _book_infusion_as_signed_in(browser: TestClient, clinic: Clinic, name: str) -> None:
    """Thursday's first infusion time, through the pages, as the signed-in patient."""
    location, infusion = clinic.location_id, clinic.infusion_id
    day = browser.get(f"/book/times?location={location}&type={infusion}&day=2026-03-05")
    assert day.status_code == 200, day.text
    start = re.findall(r'name="start" value="([^"]+)"', day.text)[0]
    held = browser.post(
        "/book/hold",
        data={"location": location, "type": infusion, "start": start, "csrftoken": csrf(day.text)},
    )
    assert held.status_code == 303, held.text
    details = browser.get(held.headers["location"])
    assert f"Booking for <strong>{name}</strong>" in details.text
    hold_id = held.headers["location"].rsplit("=", 1)[1]
    acks = {"hold": hold_id, "driver_confirmed": "yes", "fasting_acknowledged": "yes"}
    review = browser.post("/book/details", data={**acks, "csrftoken": csrf(details.text)})
    assert review.status_code == 200, review.text
    done = browser.post("/book/confirm", data={**acks, "csrftoken": csrf(review.text)})
    assert done.status_code == 303, done.text


def _join_waitlist(browser: TestClient, clinic: Clinic) -> None:
    form = browser.get("/me/waitlist")
    assert form.status_code == 200, form.text
    joined = browser.post(
        "/me/waitlist",
        data={
            "location_id": str(clinic.location_id),
            "appointment_type_id": str(clinic.infusion_id),
            "earliest_date": "2026-03-03",
            "latest_date": "2026-03-20",
            "csrftoken": csrf(form.text),
        },
    )
    assert joined.status_code == 303, joined.text


def test_staff_record_first_then_an_anonymous_duplicate(
    browser: TestClient, client: TestClient, clinic: Clinic, db: Session, settings: Settings
) -> None:
    """Jane's staff record (eligible) is older; her anonymous consultation booking made a newer
    record flagged against it. Signed in, she books the infusion on the staff record."""
    _self_schedulable(clinic, db)
    consult = hold_and_book(
        client, clinic, clinic.consult.id or 0, FRIDAY_9, details_of(clinic.patient)
    )
    assert consult.status_code == 201, consult.text
    duplicate = db.exec(
        select(Patient).where(col(Patient.probable_duplicate_of_id) == clinic.patient.id)
    ).one()
    assert duplicate.id is not None
    assert duplicate.id > (clinic.patient.id or 0)

    sign_in_as(browser, db, settings, JANE)
    types = browser.get(f"/book/types?location={clinic.location_id}")
    assert f"type={clinic.infusion_id}" in types.text  # bookable: the staff record's flags
    _book_infusion_as_signed_in(browser, clinic, "Jane Doe")
    infusion = db.exec(
        select(Booking).where(Booking.appointment_type_id == clinic.infusion_id)
    ).one()
    assert infusion.patient_id == clinic.patient.id
    _join_waitlist(browser, clinic)
    [entry] = db.exec(select(WaitlistEntry)).all()
    assert entry.patient_id == clinic.patient.id
    visits = browser.get("/me/visits")  # both records' visits are hers
    assert clinic.infusion.name in visits.text
    assert clinic.consult.name in visits.text


def test_anonymous_record_first_then_a_staff_record(
    browser: TestClient,
    client: TestClient,
    clinic: Clinic,
    db: Session,
    settings: Settings,
    desk_headers: dict[str, str],
) -> None:
    """Rosa booked a consultation online first (the lower id, not flagged: nothing matched);
    the desk then made her a record with the consultation and consent recorded, without
    merging. Signed in, she is the desk's record: the infusion is bookable and lands there."""
    _self_schedulable(clinic, db)
    consult = hold_and_book(client, clinic, clinic.consult.id or 0, FRIDAY_9, NEWCOMER)
    assert consult.status_code == 201, consult.text
    made = client.post(
        "/api/v1/patients",
        json={**NEWCOMER, "consult_completed": True, "consent_signed": True},
        headers=desk_headers,
    )
    assert made.status_code == 201, made.text
    staff_id = made.json()["id"]
    online_id = db.exec(select(Booking.patient_id).where(col(Booking.source) == "online")).one()
    assert online_id < staff_id

    # Asking for the link answers exactly as for someone not on file.
    assert ask(browser, ROSA) == ask(browser, NOBODY)
    sign_in_as(browser, db, settings, ROSA)
    types = browser.get(f"/book/types?location={clinic.location_id}")
    assert "Signed in as Rosa Marquez" in types.text
    assert f"type={clinic.infusion_id}" in types.text
    _book_infusion_as_signed_in(browser, clinic, "Rosa Marquez")
    infusion = db.exec(
        select(Booking).where(Booking.appointment_type_id == clinic.infusion_id)
    ).one()
    assert infusion.patient_id == staff_id
    _join_waitlist(browser, clinic)
    [entry] = db.exec(select(WaitlistEntry)).all()
    assert entry.patient_id == staff_id
