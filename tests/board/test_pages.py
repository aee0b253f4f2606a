"""The board pages in process: who may see them, what they show, bad input as a 4xx page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.board.seed import add_booking
from tests.clinic_fixture import Clinic
from tests.factories import make_user
from tests.web.test_sign_in import sign_in

NY = ZoneInfo("America/New_York")
DAY = date(2026, 3, 3)


@pytest.fixture
def browser(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(
        app, base_url="https://testserver", raise_server_exceptions=False, follow_redirects=False
    ) as client:
        yield client


@pytest.fixture
def desk_browser(browser: TestClient, db: Session) -> TestClient:
    make_user(db, role="front_desk", email="desk@clinic.example")
    sign_in(browser, "desk@clinic.example")
    return browser


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(DAY.year, DAY.month, DAY.day, hour, minute, tzinfo=NY).astimezone(UTC)


def test_signed_out_is_sent_to_sign_in(browser: TestClient) -> None:
    response = browser.get("/admin/board?location=1&date=2026-03-03")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/admin/login?next=/admin/board")


def test_a_provider_may_not_see_the_board(browser: TestClient, db: Session, clinic: Clinic) -> None:
    make_user(db, role="provider", email="nurse@clinic.example", provider_id=clinic.nurse.id)
    sign_in(browser, "nurse@clinic.example")
    assert browser.get("/admin/board").status_code == 403


def test_the_board_shows_a_booking_in_its_chair_with_a_link(
    desk_browser: TestClient, db: Session, clinic: Clinic
) -> None:
    booking = add_booking(
        db,
        patient=clinic.patient,
        appointment_type=clinic.infusion,
        provider=clinic.nurse,
        start_at=at(9, 30),
        chair=clinic.chairs[1],
        status="checked-in",
    )
    response = desk_browser.get(f"/admin/board?location={clinic.location_id}&date=2026-03-03")
    assert response.status_code == 200
    html = response.text
    assert response.headers["cache-control"] == "no-store"
    assert "Times in <strong>America/New_York</strong> (EST, UTC\u22125)" in html
    chair2 = html.split('data-chair="Chair 2"', 1)[1].split("</div>\n  </div>", 1)[0]
    assert f'href="/admin/bookings/{booking.id}"' in chair2
    assert "Jane Doe" in chair2
    assert "09:30–11:10" in chair2
    assert "in chair" in chair2
    assert 'data-chair="Chair 1"' in html
    assert (
        "Jane Doe" not in html.split('data-chair="Chair 1"', 1)[1].split('data-chair="Chair 2"')[0]
    )
    assert f'href="/admin/board?location={clinic.location_id}&amp;date=2026-03-02"' in html
    assert f'href="/admin/board?location={clinic.location_id}&amp;date=2026-03-04"' in html
    # No personal data in any URL on the page: only ids and dates.
    for url in re.findall(r'href="([^"]+)"', html):
        assert "Jane" not in url
        assert "Doe" not in url


def test_home_is_todays_board_of_the_first_location(
    desk_browser: TestClient, clinic: Clinic
) -> None:
    response = desk_browser.get("/admin/")
    assert response.status_code == 200
    assert "Monday 2 March 2026" in response.text
    assert "now 09:00" in response.text


@pytest.mark.parametrize(
    ("day", "hours"),
    [
        pytest.param("2026-03-08", 23, id="spring_forward_gap"),
        pytest.param("2026-11-01", 25, id="fall_back_fold"),
    ],
)
def test_dst_days_have_their_real_hours(
    desk_browser: TestClient, clinic: Clinic, day: str, hours: int
) -> None:
    html = desk_browser.get(f"/admin/board?location={clinic.location_id}&date={day}").text
    assert html.count('data-hour="') == hours
    assert f"this day has {hours} hours" in html


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("date=2026-02-30", "The date must be a calendar date"),
        ("date=yesterday", "The date must be a calendar date"),
        ("location=abc", "The location must be chosen from the list"),
        ("location=999999", "Location 999999 not found"),
    ],
)
def test_bad_input_is_a_4xx_page_that_says_what_was_wrong(
    desk_browser: TestClient, clinic: Clinic, query: str, message: str
) -> None:
    response = desk_browser.get(f"/admin/board?{query}")
    assert 400 <= response.status_code < 500
    assert message in response.text
    assert response.headers["content-type"].startswith("text/html")


def test_week_view_shows_occupancy(desk_browser: TestClient, db: Session, clinic: Clinic) -> None:
    add_booking(
        db,
        patient=clinic.patient,
        appointment_type=clinic.infusion,
        provider=clinic.nurse,
        start_at=at(9),
        chair=clinic.chairs[0],
    )
    response = desk_browser.get(f"/admin/week?location={clinic.location_id}&date=2026-03-04")
    assert response.status_code == 200
    html = response.text
    assert "week of Monday 2 March 2026" in html
    tuesday = html.split("Tue 3 Mar", 1)[1].split("</tr>", 1)[0]
    assert "1 chair visit<" in tuesday
    # 09:00-10:55 busy in one of two chairs: the 09:00 hour is half used.
    assert "09:00: </span>50%" in tuesday


def test_without_any_location_the_home_page_says_so(desk_browser: TestClient) -> None:
    response = desk_browser.get("/admin/")
    assert response.status_code == 200
    assert "There is no active location yet" in response.text
