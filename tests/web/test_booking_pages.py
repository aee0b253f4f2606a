"""The booking pages in process (frozen clock): patient search in the body, inline patient
creation with errors next to the fields, "why no slots" in words, a bad date range, roles."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from scheduler.kit.clock import FrozenClock
from scheduler.models import Booking, Patient
from tests.bookings.test_bookings_api import book
from tests.clinic_fixture import Clinic
from tests.factories import make_user
from tests.web.inprocess import csrf_of, sign_in

# Tuesday 3 March 2026, 09:10 in New York (UTC-5).
TUESDAY_9_10 = datetime(2026, 3, 3, 14, 10, tzinfo=UTC)


def _desk(browser: TestClient, db: Session, clock: FrozenClock) -> None:
    make_user(db, role="front_desk", email="desk@clinic.example")
    clock.set(TUESDAY_9_10)
    sign_in(browser, "desk@clinic.example")


def test_a_patient_is_found_by_date_of_birth_from_a_post(
    browser: TestClient, clinic: Clinic, clock: FrozenClock, db: Session
) -> None:
    _desk(browser, db, clock)
    born = clinic.patient.date_of_birth
    token = csrf_of(browser, "/admin/book")
    page = browser.post(
        "/admin/book/find",
        data={"csrftoken": token, "q": f"{clinic.patient.last_name} {born:%m/%d/%Y}"},
    )
    assert page.status_code == 200
    name = f"{clinic.patient.first_name} {clinic.patient.last_name}"
    assert f'patient_id={clinic.patient.id}">{name}</a>' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "Okafor" not in page.text  # another name
    empty = browser.post("/admin/book/find", data={"csrftoken": token, "q": "  "})
    assert empty.status_code == 422
    assert "Type a name, date of birth, phone number or e-mail address." in empty.text


def test_a_new_patient_is_added_inline_errors_next_to_fields_and_input_kept(
    browser: TestClient, clinic: Clinic, clock: FrozenClock, db: Session
) -> None:
    _desk(browser, db, clock)
    token = csrf_of(browser, "/admin/book")
    form = {
        "csrftoken": token,
        "first_name": "Mara",
        "last_name": "",
        "date_of_birth": "1980-14-03",  # no 14th month
        "email": "not-an-address",
        "type_id": str(clinic.infusion_id),
    }
    page = browser.post("/admin/book/patient", data=form)
    assert page.status_code == 422
    assert 'id="error-last_name"' in page.text
    assert 'id="error-date_of_birth"' in page.text
    assert 'id="error-email"' in page.text
    assert 'value="Mara"' in page.text
    assert 'value="not-an-address"' in page.text
    form |= {"last_name": "Lind", "date_of_birth": "03/14/1980", "email": "mara@example.org"}
    done = browser.post("/admin/book/patient", data=form)
    assert done.status_code == 303, done.text
    patient = db.exec(select(Patient).where(Patient.last_name == "Lind")).one()
    assert done.headers["location"] == (
        f"/admin/book?patient_id={patient.id}&type_id={clinic.infusion_id}"
    )
    assert str(patient.date_of_birth) == "1980-03-14"
    chosen = browser.get(done.headers["location"])
    assert "Mara Lind is on file now." in chosen.text
    assert "Screening consultation done: <strong>no</strong>" in chosen.text


def test_no_slots_are_explained_in_words(
    browser: TestClient, clinic: Clinic, clock: FrozenClock, db: Session
) -> None:
    _desk(browser, db, clock)
    # The nurse works weekdays only: nothing on Saturday 7 and Sunday 8 March.
    page = browser.get(
        f"/admin/book?patient_id={clinic.patient.id}&type_id={clinic.infusion_id}"
        f"&location_id={clinic.location_id}&from=2026-03-07&to=2026-03-08"
    )
    assert page.status_code == 200
    assert "No free times between 7 March and 8 March" in page.text
    assert "Nora Nurse: not working then." in page.text
    assert "<dt>Sat 7 Mar</dt>" in page.text
    assert "<dt>Sun 8 Mar</dt>" in page.text
    # Today is inside the type's notice.
    today = browser.get(
        f"/admin/book?patient_id={clinic.patient.id}&type_id={clinic.infusion_id}"
        f"&location_id={clinic.location_id}&from=2026-03-03&to=2026-03-03"
    )
    assert "button" in today.text
    assert "America/New_York (EST, UTC\u22125)" in today.text


def test_a_backwards_date_range_is_an_error_next_to_the_field(
    browser: TestClient, clinic: Clinic, clock: FrozenClock, db: Session
) -> None:
    _desk(browser, db, clock)
    page = browser.get(
        f"/admin/book?type_id={clinic.infusion_id}&location_id={clinic.location_id}"
        "&from=2026-03-10&to=2026-03-09"
    )
    assert page.status_code == 422
    assert 'id="error-to"' in page.text
    assert "The last day must not be before the first day." in page.text


def test_a_provider_may_not_book_or_open_a_booking(
    browser: TestClient, clinic: Clinic, clock: FrozenClock, db: Session
) -> None:
    make_user(db, role="provider", email="nurse@clinic.example", provider_id=clinic.nurse.id)
    clock.set(TUESDAY_9_10)
    sign_in(browser, "nurse@clinic.example")
    assert browser.get("/admin/book").status_code == 403
    assert browser.get("/admin/bookings/1").status_code == 403


def test_the_patients_own_overlapping_visit_is_said_on_the_confirm_step(
    client: TestClient,
    browser: TestClient,
    desk_headers: dict[str, str],
    clinic: Clinic,
    clock: FrozenClock,
    db: Session,
) -> None:
    first = book(client, desk_headers, clinic, start="2026-03-04T10:00:00-05:00")
    assert first.status_code == 201, first.text
    _desk(browser, db, clock)
    other_chair = next(c.id for c in clinic.chairs if c.id != first.json()["chair_id"])
    form = {
        "csrftoken": csrf_of(browser, "/admin/book"),
        "key": "web-test-key-1",
        "slot": f"2026-03-04T10:30:00-05:00|{other_chair}|{clinic.nurse.id}",
        "patient_id": str(clinic.patient.id),
        "type_id": str(clinic.infusion_id),
        "location_id": str(clinic.location_id),
    }
    page = browser.post("/admin/book", data=form)
    assert page.status_code == 409
    assert "Confirm the booking" in page.text
    assert "already has" in page.text
    assert 'name="key" value="web-test-key-1"' in page.text  # the same key, to try again
    assert db.exec(select(Booking).where(Booking.patient_id == clinic.patient.id)).all() == [
        db.get(Booking, first.json()["id"])
    ]
