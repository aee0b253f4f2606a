"""A booster for a patient who misses a required gate, from the series page (issue 18): the page
shows the eligibility and asks for the staff override's reason, as the booking confirm step
does; without a reason the error is next to the field and nothing is booked; with one the
booster is booked in the series and the reason is in the booking's history. In process, on
SQLite and PostgreSQL (frozen clock, Monday 2 March 2026, New York)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from scheduler.kit.clock import FrozenClock
from scheduler.models import Booking, Patient
from tests.clinic_fixture import Clinic
from tests.web.inprocess import sign_in
from tests.web.test_series_pages import CSRF, _book, _desk, _template

SLOT = re.compile(r'name="slot" value="([^"]+)"')
REASON = "consent signed on paper today, scan to follow"


def _finished_course(browser: TestClient, clinic: Clinic, clock: FrozenClock, db: Session) -> int:
    template_id = _template(db, clinic, clock)
    _desk(browser, db)
    series_id = _book(browser, db, clinic, template_id)
    for booking in db.exec(select(Booking).where(Booking.series_id == series_id)):
        booking.status = "fulfilled"
    db.commit()
    clock.set(datetime(2026, 3, 12, 12, 0, tzinfo=UTC))
    sign_in(browser, "desk@clinic.example")
    return series_id


def _in_series(db: Session, series_id: int) -> list[Booking]:
    db.expire_all()
    return list(
        db.exec(
            select(Booking).where(Booking.series_id == series_id).order_by(col(Booking.id))
        ).all()
    )


def test_a_booster_for_a_patient_missing_a_gate_needs_the_reason(
    browser: TestClient, clinic: Clinic, clock: FrozenClock, db: Session
) -> None:
    series_id = _finished_course(browser, clinic, clock, db)
    url = f"/admin/series/{series_id}"
    eligible = browser.get(url)
    assert "Reason for booking anyway" not in eligible.text  # every gate met: no override
    patient = db.get(Patient, clinic.patient.id)
    assert patient is not None
    patient.consent_signed = False  # withdrawn since the course
    db.commit()

    page = browser.get(url)
    assert page.status_code == 200
    assert "Treatment consent signed: <strong>no</strong>" in page.text
    assert "does not meet every requirement for this visit" in page.text
    assert 'id="field-override_reason"' in page.text
    token = CSRF.search(page.text)
    assert token
    slot = SLOT.findall(page.text)[0].replace("&#43;", "+")
    booster_url = f"{url}/boosters"

    for reason in ("", "  ", "ok"):
        refused = browser.post(
            booster_url, data={"csrftoken": token.group(1), "slot": slot, "override_reason": reason}
        )
        assert refused.status_code == 422
        assert 'id="error-override_reason"' in refused.text
        assert 'href="#field-override_reason"' in refused.text  # the summary links to it
        assert "give the reason for booking anyway" in refused.text
        assert f'name="slot" value="{slot.replace("+", "&#43;")}"' in refused.text
    assert len(_in_series(db, series_id)) == 4  # nothing booked

    booked = browser.post(
        booster_url, data={"csrftoken": token.group(1), "slot": slot, "override_reason": REASON}
    )
    assert booked.status_code == 303, booked.text
    assert "Booked the booster on" in browser.get(url).text
    visits = _in_series(db, series_id)
    assert len(visits) == 5
    booster = visits[-1]
    assert booster.start_at == datetime.fromisoformat(slot.split("|")[0])
    assert REASON in booster.override_reason
    history = browser.get(f"/admin/bookings/{booster.id}")
    assert history.status_code == 200
    assert "Booked with an override" in history.text
    assert f"{REASON} (lifted: " in history.text


def test_a_reason_typed_for_an_eligible_patient_is_not_an_override(
    browser: TestClient, clinic: Clinic, clock: FrozenClock, db: Session
) -> None:
    series_id = _finished_course(browser, clinic, clock, db)
    url = f"/admin/series/{series_id}"
    page = browser.get(url)
    token = CSRF.search(page.text)
    assert token
    slot = SLOT.findall(page.text)[0].replace("&#43;", "+")
    booked = browser.post(
        f"{url}/boosters",
        data={"csrftoken": token.group(1), "slot": slot, "override_reason": "just because"},
    )
    assert booked.status_code == 303, booked.text
    assert _in_series(db, series_id)[-1].override_reason == ""
