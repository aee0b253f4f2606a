"""Today's arrivals and one-click check-in, in process with a frozen clock."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlmodel import Session

from scheduler.kit.clock import FrozenClock
from scheduler.models import AuditEvent, Booking
from tests.bookings.test_bookings_api import book
from tests.clinic_fixture import Clinic
from tests.factories import make_user
from tests.web.inprocess import csrf_of, sign_in

# Tuesday 3 March 2026 in New York (UTC-5).
TUESDAY_9 = "2026-03-03T09:00:00-05:00"
TUESDAY_11 = "2026-03-03T11:00:00-05:00"
TUESDAY_9_10 = datetime(2026, 3, 3, 14, 10, tzinfo=UTC)


def _two_bookings(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic
) -> tuple[int, int]:
    first = book(client, desk_headers, clinic, start=TUESDAY_9)
    other = clinic.other_patient.id
    second = book(client, desk_headers, clinic, start=TUESDAY_11, patient_id=other)
    assert first.status_code == 201, first.text
    assert second.status_code == 201, second.text
    return first.json()["id"], second.json()["id"]


def _rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr.*?</tr>", body, flags=re.S)


def test_arrivals_in_start_order_with_late_ones_marked(
    client: TestClient,
    browser: TestClient,
    desk_headers: dict[str, str],
    clinic: Clinic,
    clock: FrozenClock,
    db: Session,
) -> None:
    _two_bookings(client, desk_headers, clinic)
    make_user(db, role="front_desk", email="desk@clinic.example")
    clock.set(TUESDAY_9_10)
    sign_in(browser, "desk@clinic.example")
    page = browser.get(f"/admin/today?location={clinic.location_id}")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    rows = _rows(page.text)
    assert len(rows) == 2
    first_name = f"{clinic.patient.first_name} {clinic.patient.last_name}"
    assert first_name in rows[0]
    assert "09:00" in rows[0]
    assert "Okafor" in rows[1]
    assert "11:00" in rows[1]
    assert "is-late" in rows[0]  # started 10 minutes ago, not here yet
    assert "Late" in rows[0]
    assert "is-late" not in rows[1]
    assert "Chair 1" in rows[0]
    assert "America/New_York (EST, UTC\u22125)" in page.text


def test_check_in_moves_the_booking_and_says_so(
    client: TestClient,
    browser: TestClient,
    desk_headers: dict[str, str],
    clinic: Clinic,
    clock: FrozenClock,
    db: Session,
) -> None:
    first_id, _ = _two_bookings(client, desk_headers, clinic)
    desk = make_user(db, role="front_desk", email="desk@clinic.example")
    clock.set(TUESDAY_9_10)
    sign_in(browser, "desk@clinic.example")
    today = f"/admin/today?location={clinic.location_id}"
    token = csrf_of(browser, today)
    response = browser.post(
        f"/admin/bookings/{first_id}/check-in",
        data={"csrftoken": token, "version": "1", "location_id": str(clinic.location_id)},
    )
    assert response.status_code == 303
    assert response.headers["location"] == today
    page = browser.get(today)
    assert f"{clinic.patient.first_name} {clinic.patient.last_name} is checked in." in page.text
    rows = _rows(page.text)
    assert "Checked in" in rows[0]
    assert "is-late" not in rows[0]
    booking = db.get(Booking, first_id)
    assert booking is not None
    db.refresh(booking)
    assert booking.status == "checked-in"
    event = db.exec(
        __import__("sqlmodel").select(AuditEvent).where(AuditEvent.action == "booking.check-in")
    ).one()
    assert event.actor_user_id == desk.id
    # The flash shows once.
    assert "is checked in." not in browser.get(today).text


def test_a_stale_check_in_changes_nothing_and_says_why(
    client: TestClient,
    browser: TestClient,
    desk_headers: dict[str, str],
    clinic: Clinic,
    clock: FrozenClock,
    db: Session,
) -> None:
    first_id, _ = _two_bookings(client, desk_headers, clinic)
    make_user(db, role="front_desk", email="desk@clinic.example")
    clock.set(TUESDAY_9_10)
    sign_in(browser, "desk@clinic.example")
    page = browser.get(f"/admin/today?location={clinic.location_id}")
    assert len(_rows(page.text)) == 2
    # Meanwhile, another receptionist cancels the first visit.
    booking = db.get(Booking, first_id)
    assert booking is not None
    booking.status = "cancelled"
    booking.version += 1
    db.add(booking)
    db.commit()
    token = csrf_of(browser, "/admin/")
    response = browser.post(
        f"/admin/bookings/{first_id}/check-in",
        data={"csrftoken": token, "version": "1", "location_id": str(clinic.location_id)},
    )
    assert response.status_code == 303
    page = browser.get(response.headers["location"])
    assert "Someone else changed this booking" in page.text
    assert len(_rows(page.text)) == 1  # the cancelled visit has left the list
    booking = db.get(Booking, first_id)
    assert booking is not None
    db.refresh(booking)
    assert booking.status == "cancelled"


def test_check_in_needs_the_csrf_token(
    client: TestClient,
    browser: TestClient,
    desk_headers: dict[str, str],
    clinic: Clinic,
    db: Session,
) -> None:
    first_id, _ = _two_bookings(client, desk_headers, clinic)
    make_user(db, role="front_desk", email="desk@clinic.example")
    sign_in(browser, "desk@clinic.example")
    response = browser.post(
        f"/admin/bookings/{first_id}/check-in",
        data={"version": "1", "location_id": str(clinic.location_id)},
    )
    assert response.status_code == 403
    booking = db.get(Booking, first_id)
    assert booking is not None
    assert booking.status == "booked"


def test_old_links_with_location_id_reach_the_same_page(
    browser: TestClient, clinic: Clinic, db: Session
) -> None:
    make_user(db, role="front_desk", email="desk@clinic.example")
    sign_in(browser, "desk@clinic.example")
    old = browser.get(f"/admin/today?location_id={clinic.location_id}")
    assert old.status_code == 308
    assert old.headers["location"] == f"/admin/today?location={clinic.location_id}"
    assert browser.get(old.headers["location"]).status_code == 200
