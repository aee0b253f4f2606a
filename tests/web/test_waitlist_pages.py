"""The front desk's waitlist page: the queue of a location with the offers in flight, an add
form (patient found with the patients' search, errors next to the fields with the input
kept), and remove.

Clock: Monday 2 March 2026, 09:00 in New York.
"""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from scheduler.kit.clock import FrozenClock
from scheduler.models import WaitlistEntry
from tests.clinic_fixture import Clinic
from tests.factories import make_user
from tests.notifications.helpers import make_worker, worker_settings
from tests.waitlist.helpers import cancel, full_tuesday
from tests.web.inprocess import csrf_of, sign_in

PAGE = "/admin/waitlist"


def _form(clinic: Clinic, csrf: str, **fields: str) -> dict[str, str]:
    return {
        "csrftoken": csrf,
        "location_id": str(clinic.location_id),
        "patient": "Okafor",
        "appointment_type_id": str(clinic.infusion_id),
        "provider_id": "",
        "earliest_date": "2026-03-03",
        "latest_date": "2026-03-13",
        "earliest_time": "08:00",
        "latest_time": "12:00",
        **fields,
    }


def test_desk_adds_a_patient_found_by_search_and_removes_them(
    browser: TestClient, clinic: Clinic, db: Session
) -> None:
    make_user(db, role="front_desk", email="desk@clinic.example")
    sign_in(browser, "desk@clinic.example")
    empty = browser.get(PAGE)
    assert empty.status_code == 200
    assert 'href="/admin/waitlist"' in empty.text  # in the navigation
    assert "Nobody is waiting here" in empty.text

    added = browser.post(PAGE, data=_form(clinic, csrf_of(browser, PAGE)))
    assert added.status_code == 303, added.text
    listed = browser.get(added.headers["location"])
    assert "Omar Okafor is on the waitlist." in listed.text
    assert "Omar Okafor" in listed.text
    assert "Tue 3 Mar – Fri 13 Mar" in listed.text
    assert "08:00–12:00" in listed.text
    (entry,) = db.exec(select(WaitlistEntry)).all()
    assert entry.patient_id == clinic.other_patient.id

    removed = browser.post(
        f"{PAGE}/{entry.id}/cancel", data={"csrftoken": csrf_of(browser, PAGE), "type_id": ""}
    )
    assert removed.status_code == 303
    after = browser.get(removed.headers["location"])
    assert "Omar Okafor is off the waitlist." in after.text
    assert "Nobody is waiting here" in after.text
    db.expire_all()
    removed_entry = db.get(WaitlistEntry, entry.id)
    assert removed_entry is not None
    assert removed_entry.status == "cancelled"


def test_errors_are_shown_next_to_their_fields_with_the_input_kept(
    browser: TestClient, clinic: Clinic, db: Session
) -> None:
    make_user(db, role="front_desk", email="desk@clinic.example")
    sign_in(browser, "desk@clinic.example")
    refused = browser.post(
        PAGE,
        data=_form(
            clinic,
            csrf_of(browser, PAGE),
            patient="Nobody Atall",
            earliest_date="2026-03-13",
            latest_date="2026-03-03",
            latest_time="07:00",
        ),
    )
    assert refused.status_code == 422
    assert "No patient matches" in refused.text
    assert "The last day must not be before the first." in refused.text
    assert "The end of the daily window must be after its start." in refused.text
    assert 'value="Nobody Atall"' in refused.text
    assert 'value="2026-03-13"' in refused.text
    assert db.exec(select(WaitlistEntry)).all() == []


def test_an_offer_in_flight_is_shown_with_its_time_and_hold(
    browser: TestClient,
    client: TestClient,
    desk_headers: dict[str, str],
    clinic: Clinic,
    db: Session,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    database_url: str,
    tmp_path: Path,
) -> None:
    tuesday = full_tuesday(client, desk_headers, clinic, db)
    cancel(client, desk_headers, tuesday.cancel_me)
    make_worker(worker_settings(database_url, None, tmp_path), session_factory, clock).run_jobs()
    make_user(db, role="front_desk", email="desk2@clinic.example")
    sign_in(browser, "desk2@clinic.example")
    page = browser.get(f"{PAGE}?location={clinic.location_id}&type={clinic.infusion_id}")
    assert page.status_code == 200
    assert "Offer sent" in page.text
    assert "Offered Tue 3 Mar, 10:00, held until Mon 11:00" in page.text
    order = [
        page.text.index(tuesday.first_patient.last_name),
        page.text.index(tuesday.second_patient.last_name),
    ]
    assert order == sorted(order)  # first come first
    assert db.exec(select(WaitlistEntry).order_by(col(WaitlistEntry.id))).all()
