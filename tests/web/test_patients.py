"""The patient pages in process (both databases): search by each key, create with a field
error then fixed, the "already on file" warning, edit, eligibility flags with who and when,
merge of a probable duplicate, "not a duplicate", and the role and privacy guards."""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from scheduler.kit.clock import FrozenClock
from scheduler.models import AuditEvent, Booking, Patient
from tests.bookings.test_bookings_api import book
from tests.clinic_fixture import Clinic
from tests.factories import make_patient, make_user
from tests.web.inprocess import csrf_of, sign_in

DESK = "desk@clinic.example"


@pytest.fixture
def desk(browser: TestClient, db: Session) -> TestClient:
    make_user(db, role="front_desk", email=DESK)
    sign_in(browser, DESK)
    return browser


def _search(client: TestClient, q: str) -> str:
    token = csrf_of(client, "/admin/patients")
    response = client.post("/admin/patients/search", data={"csrftoken": token, "q": q})
    assert response.status_code == 200, response.text
    return str(response.text)


def _result_ids(html: str) -> list[int]:
    if "<tbody>" not in html:
        return []
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [int(i) for i in re.findall(r'href="/admin/patients/(\d+)"', body)]


def _refreshed(db: Session, patient_id: int | None) -> Patient:
    assert patient_id is not None
    db.expire_all()
    found = db.get(Patient, patient_id)
    assert found is not None
    return found


@pytest.mark.parametrize(
    "typed",
    [
        pytest.param("Lindqvist", id="last_name"),
        pytest.param("marta lindqvist", id="full_name_lower_case"),
        pytest.param("1962-07-04", id="dob_iso"),
        pytest.param("7/4/1962", id="dob_us"),
        pytest.param("07-04-62", id="dob_two_digit_year"),
        pytest.param("July 4, 1962", id="dob_words"),
        pytest.param("303-555-0142", id="phone_dashes"),
        pytest.param("3035550142", id="phone_digits_only"),
        pytest.param("+1 303 555 0142", id="phone_country_code"),
        pytest.param("555 0142", id="phone_partial"),
        pytest.param("MARTA.L@EXAMPLE.ORG", id="email_upper_case"),
    ],
)
def test_search_by_each_key(desk: TestClient, db: Session, typed: str) -> None:
    marta = make_patient(
        db,
        first_name="Marta",
        last_name="Lindqvist",
        date_of_birth=date(1962, 7, 4),
        email="marta.l@example.org",
        phone="(303) 555-0142",
    )
    make_patient(db, first_name="Other", last_name="Person", phone="+1 720 555 9999")
    html = _search(desk, typed)
    assert _result_ids(html) == [marta.id]
    assert "1 patient matches" in html
    assert f'href="/admin/book?patient_id={marta.id}"' in html


def test_search_keeps_the_words_out_of_urls_logs_and_caches(
    desk: TestClient, db: Session, caplog: pytest.LogCaptureFixture
) -> None:
    make_patient(db, first_name="Zebulon", last_name="Quartermaine")
    with caplog.at_level(logging.DEBUG):
        html = _search(desk, "Quartermaine")
    assert "Zebulon" in html
    assert "Quartermaine" not in caplog.text
    page = desk.get("/admin/patients")
    assert 'method="post" action="/admin/patients/search"' in page.text
    token = csrf_of(desk, "/admin/patients")
    response = desk.post("/admin/patients/search", data={"csrftoken": token, "q": "Zebulon"})
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "same-origin"


def test_nothing_found_says_so(desk: TestClient, clinic: Clinic) -> None:
    html = _search(desk, "Nobody-at-all")
    assert "No patient matches" in html
    assert _result_ids(html) == []


def test_create_with_a_field_error_then_fixed(desk: TestClient, db: Session) -> None:
    token = csrf_of(desk, "/admin/patients")
    form = {
        "csrftoken": token,
        "first_name": "Hiro",
        "last_name": "Tanaka",
        "date_of_birth": "1975-02-28",
        "email": "not-an-address",
        "phone": "(720) 555-0199",
        "notes": "Prefers mornings",
    }
    refused = desk.post("/admin/patients", data=form)
    assert refused.status_code == 422
    assert 'id="error-email"' in refused.text
    assert "Enter an e-mail address like name@example.org" in refused.text
    assert 'value="Hiro"' in refused.text
    assert 'value="(720) 555-0199"' in refused.text
    assert "Prefers mornings" in refused.text
    assert db.exec(select(Patient).where(Patient.last_name == "Tanaka")).first() is None
    form["email"] = "hiro@example.org"
    created = desk.post("/admin/patients", data=form)
    assert created.status_code == 303, re.findall(r"field__error[^<]*<[^<]*<[^<]*", created.text)
    patient = db.exec(select(Patient).where(Patient.last_name == "Tanaka")).one()
    assert created.headers["location"] == f"/admin/patients/{patient.id}"
    page = desk.get(created.headers["location"])
    assert "Hiro Tanaka is added." in page.text
    event = db.exec(
        select(AuditEvent).where(
            AuditEvent.action == "patient.create", AuditEvent.entity_id == patient.id
        )
    ).one()
    assert event.actor_user_id is not None


def test_a_future_birth_date_is_refused_next_to_the_field(desk: TestClient) -> None:
    token = csrf_of(desk, "/admin/patients")
    refused = desk.post(
        "/admin/patients",
        data={
            "csrftoken": token,
            "first_name": "Future",
            "last_name": "Child",
            "date_of_birth": "2030-01-01",
        },
    )
    assert refused.status_code == 422
    assert 'id="error-date_of_birth"' in refused.text


def test_the_date_of_birth_is_read_however_it_is_written(desk: TestClient, db: Session) -> None:
    """As in the booking flow's inline form and the search box: the same form, read the
    same way."""
    token = csrf_of(desk, "/admin/patients")
    form = {
        "csrftoken": token,
        "first_name": "Mara",
        "last_name": "Quist",
        "date_of_birth": "next tuesday",
        "phone": "(720) 555-0142",
    }
    refused = desk.post("/admin/patients", data=form)
    assert refused.status_code == 422
    assert "Write the date of birth like 1980-03-14, 03/14/1980 or March 14 1980." in refused.text
    assert 'value="next tuesday"' in refused.text
    created = desk.post("/admin/patients", data=form | {"date_of_birth": "03/14/1980"})
    assert created.status_code == 303
    patient = db.exec(select(Patient).where(Patient.last_name == "Quist")).one()
    assert patient.date_of_birth == date(1980, 3, 14)


def test_a_patient_like_one_on_file_is_created_only_when_confirmed(
    desk: TestClient, db: Session, clinic: Clinic
) -> None:
    existing = clinic.patient  # Jane Doe, 1980-05-17
    token = csrf_of(desk, "/admin/patients")
    form = {
        "csrftoken": token,
        "first_name": "Janet",
        "last_name": "Doe",
        "date_of_birth": "1980-05-17",
    }
    warned = desk.post("/admin/patients", data=form)
    assert warned.status_code == 200
    assert "This may be someone already on file" in warned.text
    assert f'href="/admin/patients/{existing.id}"' in warned.text
    assert 'name="confirm_new" value="1"' in warned.text
    assert db.exec(select(Patient).where(Patient.first_name == "Janet")).first() is None
    created = desk.post("/admin/patients", data={**form, "confirm_new": "1"})
    assert created.status_code == 303
    assert db.exec(select(Patient).where(Patient.first_name == "Janet")).one()


def test_edit_the_details(desk: TestClient, db: Session, clinic: Clinic) -> None:
    patient = clinic.patient
    path = f"/admin/patients/{patient.id}"
    token = csrf_of(desk, path)
    form = {
        "csrftoken": token,
        "first_name": patient.first_name,
        "last_name": "Doe-Smith",
        "date_of_birth": patient.date_of_birth.isoformat(),
        "email": "",
        "phone": "x123",
        "notes": "",
    }
    refused = desk.post(path, data=form)
    assert refused.status_code == 422
    assert 'id="error-phone"' in refused.text
    assert 'value="Doe-Smith"' in refused.text
    assert _refreshed(db, patient.id).last_name == "Doe"
    saved = desk.post(path, data={**form, "phone": "303.555.0101"})
    assert saved.status_code == 303
    changed = _refreshed(db, patient.id)
    assert (changed.last_name, changed.phone, changed.email) == ("Doe-Smith", "303.555.0101", "")
    assert "The details are saved." in desk.get(path).text


def test_record_and_clear_a_flag_with_who_and_when(
    desk: TestClient, db: Session, clinic: Clinic, clock: FrozenClock
) -> None:
    patient = clinic.new_patient
    path = f"/admin/patients/{patient.id}"
    token = csrf_of(desk, path)
    refused = desk.post(
        f"{path}/eligibility",
        data={"csrftoken": token, "flag": "rems_enrolled", "value": "record", "reason": " "},
    )
    assert refused.status_code == 422
    assert 'id="error-rems_enrolled-reason"' in refused.text
    assert not _refreshed(db, patient.id).rems_enrolled
    clock.set(datetime(2026, 3, 2, 14, 20, tzinfo=UTC))  # 09:20 in New York
    recorded = desk.post(
        f"{path}/eligibility",
        data={
            "csrftoken": token,
            "flag": "rems_enrolled",
            "value": "record",
            "reason": "REMS form faxed",
        },
    )
    assert recorded.status_code == 303
    assert _refreshed(db, patient.id).rems_enrolled
    page = desk.get(path).text
    assert "REMS enrolled: recorded." in page
    assert "Recorded by Front Desk on Mar 2, 2026 at 09:20: “REMS form faxed”" in page
    event = db.exec(
        select(AuditEvent)
        .where(AuditEvent.action == "patient.eligibility", AuditEvent.entity_id == patient.id)
        .order_by(col(AuditEvent.id).desc())
    ).first()
    assert event is not None
    assert event.reason == "REMS form faxed"
    cleared = desk.post(
        f"{path}/eligibility",
        data={
            "csrftoken": token,
            "flag": "rems_enrolled",
            "value": "clear",
            "reason": "Entered for the wrong patient",
        },
    )
    assert cleared.status_code == 303
    assert not _refreshed(db, patient.id).rems_enrolled
    assert "Cleared by Front Desk" in desk.get(path).text


def _flag_duplicate(db: Session, of: Patient) -> Patient:
    duplicate = make_patient(
        db,
        first_name=of.first_name,
        last_name=of.last_name,
        date_of_birth=of.date_of_birth,
        email=of.email,
        phone="720 555 0123",
    )
    duplicate.probable_duplicate_of_id = of.id
    db.add(duplicate)
    db.commit()
    return duplicate


def test_merge_a_duplicate_and_see_its_visits_under_the_kept_patient(
    client: TestClient,
    desk_headers: dict[str, str],
    desk: TestClient,
    db: Session,
    clinic: Clinic,
) -> None:
    kept = clinic.patient
    duplicate = _flag_duplicate(db, kept)
    booked = book(client, desk_headers, clinic, patient_id=duplicate.id, type_id=clinic.consult.id)
    assert booked.status_code == 201, booked.text
    booking_id = booked.json()["id"]

    listing = desk.get("/admin/patients/duplicates").text
    assert f'href="/admin/patients/{duplicate.id}"' in listing

    page = desk.get(f"/admin/patients/{duplicate.id}").text
    assert "Probable duplicate" in page
    assert f"Record {kept.id}" in page
    assert "720 555 0123" in page
    assert "+1 555 0100" in page
    merge_link = f"/admin/patients/{duplicate.id}/merge?into={kept.id}"
    assert merge_link in page.replace("&amp;", "&")

    confirm = desk.get(merge_link)
    assert confirm.status_code == 200
    assert "1 visit (1 upcoming, 0 past or cancelled)" in confirm.text
    assert f"/admin/bookings/{booking_id}" in confirm.text

    token = csrf_of(desk, merge_link)
    merged = desk.post(
        f"/admin/patients/{duplicate.id}/merge", data={"csrftoken": token, "into": str(kept.id)}
    )
    assert merged.status_code == 303
    assert merged.headers["location"] == f"/admin/patients/{kept.id}"
    kept_page = desk.get(merged.headers["location"]).text
    assert f"Record {duplicate.id} is merged into this one." in kept_page
    assert f'href="/admin/bookings/{booking_id}"' in kept_page
    db.expire_all()
    booking = db.get(Booking, booking_id)
    assert booking is not None
    assert booking.patient_id == kept.id
    assert _refreshed(db, duplicate.id).merged_into_id == kept.id
    assert (
        db.exec(select(AuditEvent).where(AuditEvent.action == "patient.merge")).one().actor_user_id
        is not None
    )
    gone = desk.get(f"/admin/patients/{duplicate.id}").text
    assert "This record was merged into" in gone
    assert "Probable duplicate" not in gone
    assert (
        f'href="/admin/patients/{duplicate.id}"' not in desk.get("/admin/patients/duplicates").text
    )


def test_a_merge_refused_by_the_service_says_why(
    client: TestClient,
    desk_headers: dict[str, str],
    desk: TestClient,
    db: Session,
    clinic: Clinic,
) -> None:
    kept = clinic.patient
    duplicate = _flag_duplicate(db, kept)
    duplicate.consult_completed = duplicate.consent_signed = True
    db.add(duplicate)
    db.commit()
    assert book(client, desk_headers, clinic).status_code == 201  # 09:00
    other = book(
        client, desk_headers, clinic, patient_id=duplicate.id, start="2026-03-03T10:00:00-05:00"
    )
    assert other.status_code == 201, other.text
    token = csrf_of(desk, f"/admin/patients/{duplicate.id}")
    refused = desk.post(
        f"/admin/patients/{duplicate.id}/merge", data={"csrftoken": token, "into": str(kept.id)}
    )
    assert refused.status_code == 303
    page = desk.get(refused.headers["location"]).text
    assert "Not merged: Merging would give the patient overlapping visits" in page
    assert _refreshed(db, duplicate.id).merged_into_id is None


def test_not_a_duplicate_clears_the_flag(desk: TestClient, db: Session, clinic: Clinic) -> None:
    duplicate = _flag_duplicate(db, clinic.patient)
    token = csrf_of(desk, f"/admin/patients/{duplicate.id}")
    response = desk.post(f"/admin/patients/{duplicate.id}/not-duplicate", data={"csrftoken": token})
    assert response.status_code == 303
    assert _refreshed(db, duplicate.id).probable_duplicate_of_id is None
    page = desk.get(f"/admin/patients/{duplicate.id}").text
    assert "Marked as not a duplicate" in page
    assert "Merge into record" not in page
    event = db.exec(
        select(AuditEvent).where(
            AuditEvent.action == "patient.not_duplicate", AuditEvent.entity_id == duplicate.id
        )
    ).one()
    assert event.actor_user_id is not None


@pytest.mark.parametrize("path", ["/admin/patients", "/admin/patients/duplicates"])
def test_a_provider_is_refused(browser: TestClient, db: Session, clinic: Clinic, path: str) -> None:
    make_user(db, role="provider", email="nurse@clinic.example", provider_id=clinic.nurse.id)
    sign_in(browser, "nurse@clinic.example")
    response = browser.get(path)
    assert response.status_code == 403
    assert "not available to your role" in response.text
    patient = browser.get(f"/admin/patients/{clinic.patient.id}")
    assert patient.status_code == 403
    assert clinic.patient.last_name not in patient.text


def test_signed_out_goes_to_sign_in(browser: TestClient, clinic: Clinic) -> None:
    response = browser.get(f"/admin/patients/{clinic.patient.id}")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/admin/login")


def test_an_unknown_patient_is_a_404_page(desk: TestClient) -> None:
    response = desk.get("/admin/patients/987654")
    assert response.status_code == 404
    assert "does not exist" in response.text


def test_an_edit_over_someone_elses_change_saves_nothing_and_says_so(
    desk: TestClient, db: Session, clinic: Clinic, clock: FrozenClock
) -> None:
    patient = clinic.patient
    path = f"/admin/patients/{patient.id}"
    page = desk.get(path).text
    seen = re.search(r'name="seen" value="([^"]+)"', page)
    assert seen is not None
    token = csrf_of(desk, path)
    # Meanwhile another receptionist changes the phone number.
    clock.set(datetime(2026, 3, 2, 14, 5, tzinfo=UTC))
    other = _refreshed(db, patient.id)
    other.phone = "303 555 0111"
    other.updated_at = clock.now()
    db.add(other)
    db.commit()
    form = {
        "csrftoken": token,
        "seen": seen.group(1),
        "first_name": patient.first_name,
        "last_name": "Doe-Late",
        "date_of_birth": patient.date_of_birth.isoformat(),
        "email": patient.email,
        "phone": "+1 555 0100",
        "notes": "",
    }
    refused = desk.post(path, data=form)
    assert refused.status_code == 422
    assert "Someone else changed this patient while you were editing" in refused.text
    assert 'id="saved-now"' in refused.text
    assert "303 555 0111" in refused.text
    assert 'value="Doe-Late"' in refused.text
    assert _refreshed(db, patient.id).last_name == "Doe"
    fresh = re.search(r'name="seen" value="([^"]+)"', refused.text)
    assert fresh is not None
    saved = desk.post(path, data={**form, "seen": fresh.group(1)})
    assert saved.status_code == 303
    assert _refreshed(db, patient.id).last_name == "Doe-Late"
