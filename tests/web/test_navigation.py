"""The navigation marks the section the page belongs to (``aria-current="page"``) on every
page, sub-pages included: a booking's page is the board's, a patient's page Patients', the
settings' sub-pages Settings'. In process, both databases."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from scheduler.models import User
from tests.bookings.test_bookings_api import book
from tests.clinic_fixture import Clinic
from tests.factories import make_user
from tests.web.inprocess import sign_in

CURRENT = re.compile(r'<a href="([^"]+)" aria-current="page">([^<]+)</a>')


def _marked(client: TestClient, path: str) -> list[str]:
    page = client.get(path)
    assert page.status_code == 200, (path, page.status_code)
    nav = page.text.split('<nav class="site-nav"', 1)[1].split("</nav>", 1)[0]
    return [label for _, label in CURRENT.findall(nav)]


@pytest.fixture
def admin(db: Session) -> User:
    return make_user(db, role="admin", email="boss@clinic.example")


def test_every_desk_page_marks_its_section(
    browser: TestClient,
    client: TestClient,
    desk_headers: dict[str, str],
    admin: User,
    clinic: Clinic,
) -> None:
    booked = book(client, desk_headers, clinic, start="2026-03-03T09:00:00-05:00")
    assert booked.status_code == 201, booked.text
    booking_id = booked.json()["id"]
    sign_in(browser, admin.email)
    sections = {
        "/admin/": "Day board",
        "/admin/week": "Day board",
        f"/admin/bookings/{booking_id}": "Day board",
        f"/admin/bookings/{booking_id}/reschedule": "Day board",
        "/admin/today": "Today",
        "/admin/book": "Book",
        "/admin/patients": "Patients",
        f"/admin/patients/{clinic.patient.id}": "Patients",
        "/admin/patients/duplicates": "Patients",
        "/admin/waitlist": "Waitlist",
        "/admin/availability": "Availability",
        "/admin/feeds": "Calendar feeds",
        "/admin/settings": "Settings",
        "/admin/settings/users": "Settings",
        f"/admin/settings/types/{clinic.infusion_id}": "Settings",
        f"/admin/settings/locations/{clinic.location_id}": "Settings",
    }
    for path, label in sections.items():
        assert _marked(browser, path) == [label], path


def test_a_provider_s_pages_mark_their_section(
    browser: TestClient, db: Session, clinic: Clinic
) -> None:
    nurse = make_user(
        db, role="provider", email="nurse@clinic.example", provider_id=clinic.nurse.id
    )
    sign_in(browser, nurse.email)
    assert _marked(browser, "/admin/my-schedule") == ["My schedule"]
    assert _marked(browser, "/admin/availability") == ["Availability"]
    assert _marked(browser, "/admin/feeds") == ["Calendar feeds"]
