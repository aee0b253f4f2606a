"""Returning patients (/me) in process: the request form, the privacy of its answer, the
sign-in e-mail through a real SMTP server (aiosmtpd), the link, "my visits".

Clock: Monday 2 March 2026, 09:00 in New York. Jane Doe (tests/clinic_fixture.py) is on
file with jane.doe@example.org, born 1980-05-17, and meets the infusion's prerequisites.
"""

from __future__ import annotations

import re
import statistics
import time
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from scheduler.config import Settings
from scheduler.kit.clock import FrozenClock
from scheduler.models import Booking, Notification, Patient, PatientLink
from scheduler.patient_access.service import link_token
from tests.bookings.test_bookings_api import book
from tests.clinic_fixture import Clinic
from tests.conftest import make_settings
from tests.notifications.helpers import drain, html_of, make_worker, text_of, worker_settings
from tests.notifications.smtp_sink import SmtpServer
from tests.web.inprocess import CSRF_INPUT

JANE = {"email": "Jane.Doe@example.org", "date_of_birth": "1980-05-17"}
NOBODY = {"email": "nobody@example.org", "date_of_birth": "1980-05-17"}
ANSWER_SECONDS = 0.05


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, sign_in_answer_seconds=ANSWER_SECONDS)


def csrf(html: str) -> str:
    found = CSRF_INPUT.search(html)
    assert found, html
    return found.group(1)


def ask(browser: TestClient, person: dict[str, str]) -> tuple[int, str]:
    form = browser.get("/me")
    assert form.status_code == 200, form.text
    answer = browser.post("/me", data={**person, "csrftoken": csrf(form.text)})
    return answer.status_code, answer.text


def sign_in_mails(db: Session) -> list[Notification]:
    return list(db.exec(select(Notification).where(col(Notification.kind) == "sign_in")).all())


def link_of(text: str) -> str:
    found = re.search(r"http://127\.0\.0\.1:8000(/me/link/[A-Za-z0-9_\-]+)", text)
    assert found, text
    return found.group(1)


def test_the_form_keeps_the_input_and_shows_errors_next_to_the_fields(
    browser: TestClient, clinic: Clinic
) -> None:
    status, html = ask(browser, {"email": "jane", "date_of_birth": "2099-01-01"})
    assert status == 422
    assert "There is a problem" in html
    assert 'value="jane"' in html
    assert 'id="error-email"' in html
    assert 'id="error-date_of_birth"' in html
    assert 'autocomplete="bday"' in html


def test_known_and_unknown_people_get_the_same_answer_in_the_same_time(
    browser: TestClient, clinic: Clinic, clock: FrozenClock, db: Session
) -> None:
    """Status and body identical; median timings within noise, over 200 tries each
    (alternating, the clock moved an hour each time so the hourly cap never stops Jane's
    mails: every known try does the full work)."""
    form = browser.get("/me")
    token = csrf(form.text)
    timings: dict[str, list[float]] = {"known": [], "unknown": []}
    bodies: dict[str, set[tuple[int, str]]] = {"known": set(), "unknown": set()}
    for _ in range(200):
        for name, person in (("known", JANE), ("unknown", NOBODY)):
            clock.advance(timedelta(minutes=61))
            started = time.perf_counter()
            answer = browser.post("/me", data={**person, "csrftoken": token})
            timings[name].append(time.perf_counter() - started)
            bodies[name].add((answer.status_code, answer.text))
    assert bodies["known"] == bodies["unknown"]
    assert len(bodies["known"]) == 1
    status, body = next(iter(bodies["known"]))
    assert status == 200
    assert "If we know you, we have e-mailed you a link" in body
    assert len(sign_in_mails(db)) == 200  # every known try queued its mail
    known, unknown = statistics.median(timings["known"]), statistics.median(timings["unknown"])
    assert min(known, unknown) >= ANSWER_SECONDS
    assert abs(known - unknown) < max(0.005, 0.1 * ANSWER_SECONDS), (known, unknown)


def test_the_link_arrives_by_email_and_signs_the_patient_in(
    browser: TestClient,
    client: TestClient,
    desk_headers: dict[str, str],
    clinic: Clinic,
    db: Session,
    clock: FrozenClock,
    database_url: str,
    session_factory: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    assert book(client, desk_headers, clinic).status_code == 201  # Tuesday's infusion
    with SmtpServer() as smtp:
        status, _ = ask(browser, JANE)
        assert status == 200
        worker = make_worker(worker_settings(database_url, smtp, tmp_path), session_factory, clock)
        assert drain(worker) == 2  # the booking's confirmation and the link
        [message] = [m for m in smtp.sink.messages if "sign-in" in str(m["Subject"])]
    assert message["To"] == "jane.doe@example.org"
    subject = str(message["Subject"])
    assert "sign-in link" in subject
    assert clinic.infusion.name not in subject
    text = text_of(message)
    assert "works once, for 30 minutes" in text
    path = link_of(text)
    assert path in html_of(message)
    link = db.exec(select(PatientLink)).one()
    assert path.rsplit("/", 1)[1] not in (link.token_hash, link.nonce)  # only a hash stored
    # Opening the link (a mail scanner does) does not use it up.
    for _ in range(2):
        confirm = browser.get(path)
        assert confirm.status_code == 200
        assert "Sign in" in confirm.text
        assert confirm.headers["referrer-policy"] == "no-referrer"
        assert confirm.headers["cache-control"] == "no-store"
    signed = browser.post(path, data={"csrftoken": csrf(confirm.text)})
    assert signed.status_code == 303
    assert signed.headers["location"] == "/me/visits"
    cookie = signed.headers["set-cookie"]
    assert "patient_session=" in cookie
    assert "HttpOnly" in cookie
    visits = browser.get("/me/visits")
    assert visits.status_code == 200
    assert "Signed in as Jane Doe" in visits.text
    assert clinic.infusion.name in visits.text
    [booking_id] = re.findall(r'action="/me/visits/(\d+)/manage"', visits.text)
    opened = browser.post(f"/me/visits/{booking_id}/manage", data={"csrftoken": csrf(visits.text)})
    assert opened.status_code == 303
    manage = browser.get(opened.headers["location"])
    assert manage.status_code == 200
    # Used: the same link again is refused with a clear page.
    again = browser.get(path)
    assert again.status_code == 410
    assert "expired or has already been used" in again.text
    assert 'href="/me"' in again.text


def test_an_expired_link_is_refused_and_sends_nothing_late(
    browser: TestClient,
    clinic: Clinic,
    db: Session,
    clock: FrozenClock,
    database_url: str,
    session_factory: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    with SmtpServer() as smtp:
        ask(browser, JANE)
        worker = make_worker(worker_settings(database_url, smtp, tmp_path), session_factory, clock)
        drain(worker)
        path = link_of(text_of(smtp.sink.messages[0]))
    clock.advance(timedelta(minutes=31))
    page = browser.get(path)
    assert page.status_code == 410
    assert "expired or has already been used" in page.text
    form = browser.get("/me")
    used = browser.post(path, data={"csrftoken": csrf(form.text)})
    assert used.status_code == 410
    assert "patient_session" not in used.headers.get("set-cookie", "")
    assert browser.get("/me/visits").headers["location"] == "/me"


def test_an_unknown_person_and_a_capped_patient_get_no_mail(
    browser: TestClient, clinic: Clinic, db: Session
) -> None:
    ask(browser, NOBODY)
    assert sign_in_mails(db) == []
    for _ in range(5):
        status, html = ask(browser, JANE)
        assert status == 200
        assert "If we know you" in html
    assert len(sign_in_mails(db)) == 3  # at most three an hour


def sign_in_as(
    browser: TestClient, db: Session, settings: Settings, person: dict[str, str]
) -> None:
    """Ask for a link and follow it (the token as the worker computes it for the mail)."""
    status, _ = ask(browser, person)
    assert status == 200
    link = db.exec(select(PatientLink).order_by(col(PatientLink.id).desc())).first()
    assert link is not None
    path = f"/me/link/{link_token(settings, link.nonce)}"
    confirm = browser.get(path)
    signed = browser.post(path, data={"csrftoken": csrf(confirm.text)})
    assert signed.status_code == 303, signed.text


def test_a_signed_in_patient_books_an_infusion_they_are_eligible_for(
    browser: TestClient, clinic: Clinic, db: Session, settings: Settings
) -> None:
    clinic.infusion.self_schedulable = True
    db.add(clinic.infusion)
    db.commit()
    infusion, location = clinic.infusion_id, clinic.location_id
    anonymous = browser.get(f"/book/types?location={location}")
    assert "booked by the clinic" in anonymous.text  # nobody's records are consulted
    assert browser.get(f"/book/times?location={location}&type={infusion}").status_code == 404
    patients_before = len(db.exec(select(Patient)).all())

    sign_in_as(browser, db, settings, JANE)
    types = browser.get(f"/book/types?location={location}")
    assert "Signed in as Jane Doe" in types.text
    assert f"type={infusion}" in types.text
    day = browser.get(f"/book/times?location={location}&type={infusion}&day=2026-03-05")
    assert day.status_code == 200
    start = re.findall(r'name="start" value="([^"]+)"', day.text)[0]
    held = browser.post(
        "/book/hold",
        data={"location": location, "type": infusion, "start": start, "csrftoken": csrf(day.text)},
    )
    assert held.status_code == 303, held.text
    details = browser.get(held.headers["location"])
    assert "Booking for <strong>Jane Doe</strong>" in details.text
    assert 'name="first_name"' not in details.text
    hold_id = held.headers["location"].rsplit("=", 1)[1]
    acks = {"hold": hold_id, "driver_confirmed": "yes", "fasting_acknowledged": "yes"}
    review = browser.post("/book/details", data={**acks, "csrftoken": csrf(details.text)})
    assert review.status_code == 200, review.text
    assert "jane.doe@example.org" in review.text
    done = browser.post("/book/confirm", data={**acks, "csrftoken": csrf(review.text)})
    assert done.status_code == 303, done.text
    booking = db.exec(select(Booking).where(col(Booking.source) == "online")).one()
    assert booking.patient_id == clinic.patient.id  # their own record, no new one
    assert booking.appointment_type_id == infusion
    assert len(db.exec(select(Patient)).all()) == patients_before
    visits = browser.get("/me/visits")
    assert clinic.infusion.name in visits.text


def test_a_signed_in_patient_who_is_not_eligible_still_cannot_book_it(
    browser: TestClient, clinic: Clinic, db: Session, settings: Settings
) -> None:
    clinic.infusion.self_schedulable = True
    db.add(clinic.infusion)
    db.commit()
    sign_in_as(browser, db, settings, {"email": "nia@example.org", "date_of_birth": "1980-05-17"})
    types = browser.get(f"/book/types?location={clinic.location_id}")
    assert "Signed in as Nia Adeyemi" in types.text
    assert "booked by the clinic" in types.text
    url = f"/book/times?location={clinic.location_id}&type={clinic.infusion_id}"
    assert browser.get(url).status_code == 404


def test_the_session_ends_on_sign_out_and_by_itself_after_30_minutes(
    browser: TestClient, clinic: Clinic, db: Session, settings: Settings, clock: FrozenClock
) -> None:
    sign_in_as(browser, db, settings, JANE)
    visits = browser.get("/me/visits")
    assert visits.status_code == 200
    assert visits.headers["x-robots-tag"] == "noindex, nofollow"
    out = browser.post("/me/sign-out", data={"csrftoken": csrf(visits.text)})
    assert out.status_code == 303
    assert browser.get("/me/visits").headers["location"] == "/me"
    sign_in_as(browser, db, settings, JANE)
    assert browser.get("/me/visits").status_code == 200
    clock.advance(timedelta(minutes=31))
    assert browser.get("/me/visits").headers["location"] == "/me"
    # Someone else's visit cannot be opened from a session, nor a nonsense id.
    sign_in_as(browser, db, settings, JANE)
    visits = browser.get("/me/visits")
    for booking_id in ("999999", str(2**40)):
        opened = browser.post(
            f"/me/visits/{booking_id}/manage", data={"csrftoken": csrf(visits.text)}
        )
        assert opened.status_code in (400, 404)


class TestRateLimit:
    @pytest.fixture
    def settings(self, database_url: str) -> Settings:
        return make_settings(
            database_url,
            rate_limit_enabled=True,
            sign_in_rate_limit="2/minute",
            sign_in_answer_seconds=0.0,
        )

    def test_one_address_may_ask_only_so_often(self, browser: TestClient, clinic: Clinic) -> None:
        answers = [ask(browser, NOBODY)[0] for _ in range(3)]
        assert answers == [200, 200, 429]
