"""A booking's page as the desk's side panel asks for it (``X-Panel: 1``), in process: the
main content alone with the page's security headers, actions posted from the panel answered
in the panel, and the keyboard shortcuts' help listed for the signed-in role."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlmodel import Session

from scheduler.kit.clock import FrozenClock
from scheduler.models import Booking
from tests.bookings.test_bookings_api import book
from tests.clinic_fixture import Clinic
from tests.factories import make_user
from tests.web.inprocess import csrf_of, sign_in

# Tuesday 3 March 2026, 09:10 in New York (UTC-5); the visit is at 09:00.
TUESDAY_9 = "2026-03-03T09:00:00-05:00"
TUESDAY_9_10 = datetime(2026, 3, 3, 14, 10, tzinfo=UTC)
PANEL = {"X-Panel": "1"}


def _booked(
    client: TestClient,
    browser: TestClient,
    desk_headers: dict[str, str],
    clinic: Clinic,
    clock: FrozenClock,
    db: Session,
) -> int:
    response = book(client, desk_headers, clinic, start=TUESDAY_9)
    assert response.status_code == 201, response.text
    make_user(db, role="front_desk", email="desk@clinic.example")
    clock.set(TUESDAY_9_10)
    sign_in(browser, "desk@clinic.example")
    return int(response.json()["id"])


def test_the_panel_gets_the_booking_without_the_layout_and_with_the_same_headers(
    client: TestClient,
    browser: TestClient,
    desk_headers: dict[str, str],
    clinic: Clinic,
    clock: FrozenClock,
    db: Session,
) -> None:
    booking_id = _booked(client, browser, desk_headers, clinic, clock, db)
    page = browser.get(f"/admin/bookings/{booking_id}")
    fragment = browser.get(f"/admin/bookings/{booking_id}", headers=PANEL)
    assert page.status_code == fragment.status_code == 200
    assert "<html" in page.text
    assert "data-panel-fragment" not in page.text
    assert "<html" not in fragment.text
    assert 'class="site-header"' not in fragment.text
    assert "<script" not in fragment.text
    assert "data-panel-fragment" in fragment.text
    name = f"{clinic.patient.first_name} {clinic.patient.last_name}"
    assert f'<h1 id="booking-title">{name}' in fragment.text
    assert "America/New_York" in fragment.text
    assert f'action="/admin/bookings/{booking_id}/status"' in fragment.text
    assert f'action="/admin/bookings/{booking_id}/cancel"' in fragment.text
    for response in (page, fragment):
        assert response.headers["cache-control"] == "no-store"
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert (
            "unsafe-inline"
            not in response.headers["content-security-policy"].split("style-src-attr")[0]
        )
        assert response.headers["x-frame-options"] == "DENY"
        assert "X-Panel" in response.headers["vary"]


def test_an_action_posted_from_the_panel_is_answered_in_the_panel(
    client: TestClient,
    browser: TestClient,
    desk_headers: dict[str, str],
    clinic: Clinic,
    clock: FrozenClock,
    db: Session,
) -> None:
    booking_id = _booked(client, browser, desk_headers, clinic, clock, db)
    token = csrf_of(browser, f"/admin/bookings/{booking_id}")
    done = browser.post(
        f"/admin/bookings/{booking_id}/status",
        data={"csrftoken": token, "version": "1", "action": "check-in"},
        headers=PANEL,
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/admin/bookings/{booking_id}"
    # fetch() follows the redirect with the same header.
    result = browser.get(done.headers["location"], headers=PANEL)
    assert "<html" not in result.text
    assert "data-panel-result" in result.text
    assert "Done: the booking is checked in now." in result.text
    booking = db.get(Booking, booking_id)
    assert booking is not None
    db.refresh(booking)
    assert booking.status == "checked-in"

    # A refused form comes back as the panel's content, its error next to the field.
    refused = browser.post(
        f"/admin/bookings/{booking_id}/cancel",
        data={"csrftoken": token, "version": str(booking.version), "reason": "  "},
        headers=PANEL,
    )
    assert refused.status_code == 422
    assert "<html" not in refused.text
    assert "Give the reason for cancelling." in refused.text
    # A stale version: nothing done, the booking as it is now, in the panel.
    stale = browser.post(
        f"/admin/bookings/{booking_id}/status",
        data={"csrftoken": token, "version": "1", "action": "complete"},
        headers=PANEL,
    )
    assert stale.status_code == 409
    assert "<html" not in stale.text
    assert "This is the booking as it is now." in stale.text


def test_the_shortcuts_help_lists_the_keys_of_the_role(
    browser: TestClient, clinic: Clinic, clock: FrozenClock, db: Session
) -> None:
    make_user(db, role="front_desk", email="desk@clinic.example")
    clock.set(TUESDAY_9_10)
    sign_in(browser, "desk@clinic.example")
    board = browser.get("/admin/").text
    assert 'id="shortcuts"' in board
    assert 'data-key="b" data-href="/admin/book"' in board
    assert 'data-key="/" data-href="/admin/patients#field-q"' in board
    assert 'rel="next" data-key="n"' in board
    assert "data-shortcuts-open hidden" in board
    login = browser.get("/admin/login").text
    assert 'id="shortcuts"' not in login

    provider = TestClient(browser.app, base_url="https://testserver", follow_redirects=False)
    with provider:
        make_user(db, role="provider", email="doc@clinic.example", provider_id=clinic.nurse.id)
        sign_in(provider, "doc@clinic.example")
        schedule = provider.get("/admin/my-schedule").text
    assert 'id="shortcuts"' in schedule
    assert 'data-href="/admin/book"' not in schedule
    assert 'data-key="n">Next week' in schedule
