"""The page behind a waitlist offer's link: shows the time, books it from the hold, lets it
go, and says plainly when the offer has ended; private like a manage page.

Clock: Monday 2 March 2026, 09:00 in New York; the offered time is Tuesday 3 March, 10:00.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from scheduler.kit.clock import FrozenClock
from scheduler.models import Booking, WaitlistOffer
from scheduler.waitlist.tokens import offer_token
from tests.clinic_fixture import Clinic
from tests.conftest import TEST_SECRET
from tests.notifications.helpers import make_worker, worker_settings
from tests.waitlist.helpers import FullTuesday, cancel, entry_status, full_tuesday, offers
from tests.web.inprocess import csrf_of


def _offered(
    client: TestClient,
    desk_headers: dict[str, str],
    clinic: Clinic,
    db: Session,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    database_url: str,
    tmp_path: Path,
) -> tuple[FullTuesday, str]:
    tuesday = full_tuesday(client, desk_headers, clinic, db)
    cancel(client, desk_headers, tuesday.cancel_me)
    make_worker(worker_settings(database_url, None, tmp_path), session_factory, clock).run_jobs()
    (offer,) = offers(db)
    return tuesday, offer_token(TEST_SECRET, offer.nonce)


def test_the_patient_sees_the_offer_and_books_it_once(
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
    tuesday, token = _offered(
        client, desk_headers, clinic, db, session_factory, clock, database_url, tmp_path
    )
    url = f"/waitlist/offer/{token}"
    shown = browser.get(url)
    assert shown.status_code == 200
    assert "A time has opened for you" in shown.text
    assert "Tuesday 3 March 2026" in shown.text
    assert "10:00 am" in shown.text
    assert shown.headers["referrer-policy"] == "no-referrer"
    assert "noindex" in shown.headers["x-robots-tag"]
    assert shown.headers["cache-control"] == "no-store"
    assert '<meta name="robots" content="noindex' in shown.text

    assert browser.post(url, data={}).status_code == 403  # no CSRF token: nothing happens
    assert entry_status(db, tuesday.first) == "offered"

    csrf = csrf_of(browser, url)
    booked = browser.post(url, data={"csrftoken": csrf})
    assert booked.status_code == 303
    assert booked.headers["location"] == f"{url}?done=booked"
    assert "You're booked" in browser.get(booked.headers["location"]).text
    db.expire_all()
    (booking,) = db.exec(select(Booking).where(Booking.patient_id == tuesday.first_patient.id))
    assert booking.status == "booked"
    assert booking.source == "waitlist"
    assert entry_status(db, tuesday.first) == "booked"

    again = browser.post(url, data={"csrftoken": csrf})
    assert again.status_code == 409
    assert "already taken this time" in again.text

    unknown = browser.get("/waitlist/offer/not-a-real-token")
    assert unknown.status_code == 404
    assert "not valid" in unknown.text or "does not exist" in unknown.text


def test_an_ended_offer_says_so_and_a_declined_one_goes_to_the_next_entry(
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
    tuesday, token = _offered(
        client, desk_headers, clinic, db, session_factory, clock, database_url, tmp_path
    )
    url = f"/waitlist/offer/{token}"
    declined = browser.post(f"{url}/decline", data={"csrftoken": csrf_of(browser, url)})
    assert declined.status_code == 303
    assert "You let this time go" in browser.get(declined.headers["location"]).text
    assert entry_status(db, tuesday.first) == "waiting"
    worker = make_worker(worker_settings(database_url, None, tmp_path), session_factory, clock)
    worker.run_jobs()
    first, second = offers(db)
    assert first.status == "passed"
    assert second.entry_id == tuesday.second

    second_url = f"/waitlist/offer/{offer_token(TEST_SECRET, second.nonce)}"
    csrf = csrf_of(browser, second_url)
    clock.advance(timedelta(hours=3))  # past the two hours the link lasts
    ended = browser.get(second_url)
    assert ended.status_code == 200
    assert "This offer has ended" in ended.text
    assert "Book this time" not in ended.text
    late = browser.post(second_url, data={"csrftoken": csrf})
    assert late.status_code == 409
    assert "this offer has ended" in late.text
    db.expire_all()
    assert db.exec(select(Booking).where(Booking.source == "waitlist")).all() == []
    assert db.get(WaitlistOffer, second.id) is not None
