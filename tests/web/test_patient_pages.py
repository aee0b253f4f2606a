"""The patient pages (/book, /manage) in process, the way a browser without JavaScript uses
them: links, forms, server redirects.

Clock: Monday 2 March 2026, 09:00 in New York (tests/conftest.py). The clinic
(tests/clinic_fixture.py) offers its consultation online: 60 minutes, weekdays 8-17.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from scheduler.kit.clock import FrozenClock
from scheduler.kit.redact import redact_path
from scheduler.models import Booking, Hold, Patient
from tests.clinic_fixture import Clinic
from tests.web.inprocess import CSRF_INPUT

THURSDAY = "2026-03-05"
THURSDAY_9 = "2026-03-05T09:00:00-05:00"
THURSDAY_10 = "2026-03-05T10:00:00-05:00"
ROSA = {
    "first_name": "Rosa",
    "last_name": "Marquez",
    "date_of_birth": "1990-04-12",
    "email": "rosa.marquez@example.org",
    "phone": "+1 555 0199",
}


@pytest.fixture
def online(clinic: Clinic, db: Session) -> Clinic:
    clinic.consult.self_schedulable = True
    clinic.consult.fasting_hours = 4
    clinic.consult.patient_instructions = "Bring a list of your medicines."
    clinic.infusion.self_schedulable = True  # shown, but booked through the clinic
    db.add_all([clinic.consult, clinic.infusion])
    db.commit()
    return clinic


def csrf(html: str) -> str:
    found = CSRF_INPUT.search(html)
    assert found, html
    return found.group(1)


def hold_time(browser: TestClient, clinic: Clinic, start: str = THURSDAY_9) -> str:
    """Pick ``start`` on the day's page; returns the details page's URL."""
    consult = clinic.consult.id
    day = browser.get(f"/book/times?location={clinic.location_id}&type={consult}&day={start[:10]}")
    assert day.status_code == 200, day.text
    assert f'value="{start}"' in day.text
    held = browser.post(
        "/book/hold",
        data={
            "location": clinic.location_id,
            "type": consult,
            "start": start,
            "csrftoken": csrf(day.text),
        },
    )
    assert held.status_code == 303, held.text
    return held.headers["location"]


def book_as(browser: TestClient, details_url: str, person: dict[str, str]) -> str:
    """Fill in the details, review, confirm; returns the manage page's URL."""
    form = browser.get(details_url)
    assert form.status_code == 200, form.text
    hold_id = details_url.rsplit("=", 1)[1]
    data = {**person, "hold": hold_id, "fasting_acknowledged": "yes"}
    review = browser.post("/book/details", data={**data, "csrftoken": csrf(form.text)})
    assert review.status_code == 200, review.text
    assert "Check and book" in review.text
    done = browser.post("/book/confirm", data={**data, "csrftoken": csrf(review.text)})
    assert done.status_code == 303, done.text
    return str(done.headers["location"])


def test_a_new_patient_books_a_consultation_step_by_step(
    browser: TestClient, online: Clinic, db: Session
) -> None:
    start = browser.get("/book")
    assert start.status_code == 303  # one location: straight to the visits
    types = browser.get(start.headers["location"])
    assert types.status_code == 200
    assert "Consultation" in types.text
    assert "60 minutes" in types.text
    assert "How to prepare:</strong> Bring a list of your medicines." in types.text
    assert "booked by the clinic" in types.text  # the infusion needs an earlier visit
    month = browser.get(f"/book/times?location={online.location_id}&type={online.consult.id}")
    assert month.status_code == 200
    assert "March 2026" in month.text
    assert "Eastern Time" in month.text
    # Saturday 7 March: nobody works, so the day is shown but not a link.
    assert 'aria-label="Saturday 7 March, no free times"' in month.text
    assert f"day={THURSDAY}" in month.text
    details_url = hold_time(browser, online)
    details = browser.get(details_url)
    assert "Thursday 5 March, 9:00 am" in details.text
    assert "Eastern Time (EST)" in details.text
    assert 'autocomplete="bday"' in details.text
    manage_url = book_as(browser, details_url, ROSA)
    assert manage_url.startswith("/manage/")
    assert manage_url.endswith("?booked=1")
    confirmation = browser.get(manage_url)
    assert confirmation.status_code == 200
    text = confirmation.text
    assert "You&#39;re booked" in text or "You're booked" in text
    assert "Thursday 5 March 2026" in text
    assert "9:00 am to 10:00 am" in text
    assert online.location.address in text
    assert "Stop eating at 05:00 on Thursday 05 March" in text
    assert "/calendar.ics" in text
    token = manage_url.split("/")[2].split("?")[0]
    assert f"http://127.0.0.1:8000/manage/{token}" in text  # the link to keep
    booking = db.exec(select(Booking).where(col(Booking.source) == "online")).one()
    patient = db.get(Patient, booking.patient_id)
    assert patient is not None
    assert patient.email == ROSA["email"]
    ics = browser.get(f"/manage/{token}/calendar.ics")
    assert ics.status_code == 200
    assert ics.headers["content-type"].startswith("text/calendar")


def test_errors_are_shown_next_to_their_fields_and_the_input_is_kept(
    browser: TestClient, online: Clinic
) -> None:
    details_url = hold_time(browser, online)
    form = browser.get(details_url)
    hold_id = details_url.rsplit("=", 1)[1]
    bad = {**ROSA, "email": "", "date_of_birth": "2099-01-01", "hold": hold_id}
    answer = browser.post("/book/details", data={**bad, "csrftoken": csrf(form.text)})
    assert answer.status_code == 422
    html = answer.text
    assert 'class="error-summary"' in html
    assert 'href="#field-email"' in html
    assert 'href="#field-date_of_birth"' in html
    assert 'href="#field-fasting_acknowledged"' in html
    assert 'id="error-email"' in html
    assert 'value="Rosa"' in html  # kept
    assert 'value="+1 555 0199"' in html


def test_pages_carry_the_security_headers_and_forms_need_their_token(
    browser: TestClient, online: Clinic
) -> None:
    details_url = hold_time(browser, online)
    manage_url = book_as(browser, details_url, ROSA)
    page = browser.get(manage_url)
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    assert "noindex" in page.headers["x-robots-tag"]
    assert '<meta name="robots" content="noindex, nofollow">' in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy.replace("style-src-attr 'unsafe-inline'", "")
    times = browser.get(f"/book/times?location={online.location_id}&type={online.consult.id}")
    assert times.headers["cache-control"] == "no-store"
    assert times.headers["referrer-policy"] == "no-referrer"
    token = manage_url.split("/")[2].split("?")[0]
    forged = browser.post(f"/manage/{token}/cancel", data={"reason": "x"})
    assert forged.status_code == 403
    assert browser.get(manage_url).text.count("Cancel this visit") == 1  # still booked


def test_the_manage_token_never_reaches_a_log_line() -> None:
    secret = "A" * 43
    for path in (f"/manage/{secret}", f"/manage/{secret}/cancel", f"/manage/{secret}/move"):
        assert secret not in redact_path(path)
        assert secret not in redact_path(f"GET {path}?booked=1 HTTP/1.1")


def test_an_expired_hold_says_so_and_offers_the_nearest_times(
    browser: TestClient, online: Clinic, clock: FrozenClock, db: Session
) -> None:
    details_url = hold_time(browser, online)
    form = browser.get(details_url)
    clock.advance(timedelta(minutes=11))
    hold_id = details_url.rsplit("=", 1)[1]
    data = {**ROSA, "hold": hold_id, "fasting_acknowledged": "yes"}
    late = browser.post("/book/details", data={**data, "csrftoken": csrf(form.text)})
    assert late.status_code == 410
    assert "Your held time has expired" in late.text
    assert "Nothing was booked" in late.text
    offered = re.findall(r'name="start" value="([^"]+)"', late.text)
    assert THURSDAY_9 in offered  # free again, and nearest of all
    assert len(offered) == 4
    assert all(o.startswith(THURSDAY) for o in offered), offered
    assert browser.get(details_url).status_code == 410
    assert db.exec(select(Booking)).all() == []


def test_the_last_time_taken_meanwhile_offers_the_second_patient_alternatives(
    app: object, browser: TestClient, online: Clinic, db: Session
) -> None:
    first_details = hold_time(browser, online)
    with TestClient(browser.app, base_url="https://testserver", follow_redirects=False) as second:
        day = second.get(
            f"/book/times?location={online.location_id}&type={online.consult.id}&day={THURSDAY}"
        )
        assert f'value="{THURSDAY_9}"' not in day.text  # held: not offered any more
        taken = second.post(
            "/book/hold",
            data={
                "location": online.location_id,
                "type": online.consult.id,
                "start": THURSDAY_9,
                "csrftoken": csrf(day.text),
            },
        )
        assert taken.status_code == 409
        assert "That time is not available" in taken.text
        offered = re.findall(r'name="start" value="([^"]+)"', taken.text)
        assert len(offered) == 4
        assert THURSDAY_9 not in offered
    book_as(browser, first_details, ROSA)
    assert len(db.exec(select(Hold)).all()) == 1


def _booked(browser: TestClient, clinic: Clinic) -> str:
    return book_as(browser, hold_time(browser, clinic), ROSA).split("?")[0]


def test_cancel_states_the_policy_and_cancels_inside_the_cutoff(
    browser: TestClient, online: Clinic, db: Session
) -> None:
    manage = _booked(browser, online)
    step = browser.get(f"{manage}/cancel")
    assert "You can cancel online until" in step.text
    assert "Wednesday 4 March" in step.text  # 24 hours before
    done = browser.post(
        f"{manage}/cancel", data={"reason": "feeling better", "csrftoken": csrf(step.text)}
    )
    assert done.status_code == 303
    page = browser.get(done.headers["location"])
    assert "Your visit is cancelled" in page.text
    booking = db.exec(select(Booking)).one()
    db.refresh(booking)
    assert booking.status == "cancelled"


def test_past_the_cutoff_the_clinic_phone_replaces_the_button(
    browser: TestClient, online: Clinic, clock: FrozenClock, db: Session
) -> None:
    online.location.phone = "(212) 555-0100"
    db.add(online.location)
    db.commit()
    manage = _booked(browser, online)
    step = browser.get(f"{manage}/cancel")
    token = csrf(step.text)
    clock.set(datetime(2026, 3, 4, 16, 0, tzinfo=UTC))  # Wed 11:00, 22 h before
    late = browser.get(f"{manage}/cancel")
    assert "Too late to cancel online" in late.text
    assert "Yes, cancel my visit" not in late.text
    assert "tel:(212)555-0100" in late.text
    refused = browser.post(f"{manage}/cancel", data={"reason": "", "csrftoken": token})
    assert refused.status_code == 409
    booking = db.exec(select(Booking)).one()
    db.refresh(booking)
    assert booking.status == "booked"


def test_reschedule_with_the_same_picker_keeps_one_visit(
    browser: TestClient, online: Clinic, db: Session
) -> None:
    manage = _booked(browser, online)
    picker = browser.get(f"{manage}/reschedule?day=2026-03-06")
    assert picker.status_code == 200
    assert "stays booked" in picker.text
    friday_11 = "2026-03-06T11:00:00-05:00"
    assert f'value="{friday_11}"' in picker.text
    confirm = browser.get(f"{manage}/move", params={"start": friday_11})
    assert "Move your visit?" in confirm.text
    moved = browser.post(
        f"{manage}/move", data={"start": friday_11, "csrftoken": csrf(confirm.text)}
    )
    assert moved.status_code == 303, moved.text
    page = browser.get(moved.headers["location"])
    assert "Friday 6 March 2026" in page.text
    assert "11:00 am" in page.text
    live = db.exec(select(Booking).where(col(Booking.status) != "cancelled")).all()
    assert len(live) == 1


def test_unknown_links_are_the_same_plain_page(browser: TestClient, online: Clinic) -> None:
    unknown = browser.get(f"/manage/{'x' * 43}")
    assert unknown.status_code == 404
    assert "does not exist, or it has expired" in unknown.text
    assert re.search(r"<title>Not found", unknown.text)


def test_the_booking_form_sent_twice_books_once_and_says_so(
    browser: TestClient, online: Clinic, db: Session
) -> None:
    details_url = hold_time(browser, online)
    form = browser.get(details_url)
    hold_id = details_url.rsplit("=", 1)[1]
    data = {**ROSA, "hold": hold_id, "fasting_acknowledged": "yes", "csrftoken": csrf(form.text)}
    first = browser.post("/book/confirm", data=data)
    assert first.status_code == 303
    again = browser.post("/book/confirm", data=data)
    assert again.status_code == 200
    assert "already booked for you" in again.text
    assert len(db.exec(select(Booking)).all()) == 1
