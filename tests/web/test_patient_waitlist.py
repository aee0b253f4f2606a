"""Signed-in patients join the waitlist themselves (/me/waitlist), see their entries on
"my visits" and remove them; in process, on SQLite and PostgreSQL.

Clock: Monday 2 March 2026, 09:00 in New York. Jane Doe (tests/clinic_fixture.py) meets the
infusion's prerequisites; Nia Adeyemi does not.
"""

from __future__ import annotations

import re
from datetime import date, time

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from scheduler.config import Settings
from scheduler.models import AuditEvent, WaitlistEntry
from tests.clinic_fixture import Clinic
from tests.factories import make_provider
from tests.web.test_patient_me import JANE, csrf, sign_in_as

NIA = {"email": "nia@example.org", "date_of_birth": "1980-05-17"}


def _bookable(clinic: Clinic, db: Session) -> None:
    clinic.infusion.self_schedulable = True
    clinic.consult.self_schedulable = True
    db.add(clinic.infusion)
    db.add(clinic.consult)
    db.commit()


def _join(browser: TestClient, query: str = "", **fields: object) -> tuple[int, str, str]:
    form = browser.get(f"/me/waitlist{query}")
    assert form.status_code == 200, form.text
    location = re.search(r'name="location_id" value="(\d+)"', form.text)
    assert location, form.text
    data = {"location_id": location.group(1), "csrftoken": csrf(form.text), **fields}
    answer = browser.post("/me/waitlist", data=data)
    return answer.status_code, answer.text, answer.headers.get("location", "")


def entries(db: Session) -> list[WaitlistEntry]:
    db.expire_all()
    return list(db.exec(select(WaitlistEntry).order_by(col(WaitlistEntry.id))).all())


def test_anonymous_visitors_are_sent_to_sign_in(browser: TestClient, clinic: Clinic) -> None:
    assert browser.get("/me/waitlist").headers["location"] == "/me"
    start = browser.get("/me")
    posted = browser.post(
        "/me/waitlist",
        data={"appointment_type_id": str(clinic.infusion_id), "csrftoken": csrf(start.text)},
    )
    assert posted.status_code == 303
    assert posted.headers["location"] == "/me"


def test_a_patient_joins_sees_and_removes_an_entry(
    browser: TestClient, clinic: Clinic, db: Session, settings: Settings
) -> None:
    _bookable(clinic, db)
    sign_in_as(browser, db, settings, JANE)
    picker = browser.get(
        f"/book/times?location={clinic.location_id}&type={clinic.infusion_id}&day=2026-03-05"
    )
    link = f"/me/waitlist?location={clinic.location_id}&amp;type={clinic.infusion_id}"
    assert link in picker.text  # "Tell me if an earlier time frees up"
    form = browser.get(link.replace("&amp;", "&"))
    assert f'<option value="{clinic.infusion_id}" selected>' in form.text
    assert 'value="2026-03-02"' in form.text  # from today by default
    assert "Who would you like to see?" not in form.text  # one provider: no choice
    status, _, location = _join(
        browser,
        appointment_type_id=str(clinic.infusion_id),
        earliest_date="2026-03-03",
        latest_date="2026-03-20",
        earliest_time="08:00",
        latest_time="12:00",
    )
    assert status == 303
    assert location == "/me/visits#waitlist"  # no personal data in the address
    [entry] = entries(db)
    assert entry.patient_id == clinic.patient.id  # on their own record
    assert entry.status == "waiting"
    assert (entry.earliest_date, entry.latest_date) == (date(2026, 3, 3), date(2026, 3, 20))
    assert (entry.earliest_time, entry.latest_time) == (time(8), time(12))
    assert entry.created_by_user_id is None
    audit = db.exec(select(AuditEvent).where(col(AuditEvent.action) == "waitlist.add")).one()
    assert audit.actor == f"patient:{clinic.patient.id}"

    status, html, _ = _join(  # the same wait again, on overlapping days
        browser,
        appointment_type_id=str(clinic.infusion_id),
        earliest_date="2026-03-10",
        latest_date="2026-03-31",
    )
    assert status == 422
    assert 'id="error-earliest_date"' in html
    assert len(entries(db)) == 1

    visits = browser.get("/me/visits")
    assert "Waiting for an earlier time" in visits.text
    assert "3 March to 20 March 2026, 8:00 am to 12:00 pm" in visits.text
    removed = browser.post(f"/me/waitlist/{entry.id}/remove", data={"csrftoken": csrf(visits.text)})
    assert removed.status_code == 303
    assert entries(db)[0].status == "cancelled"
    assert "You are not waiting for an earlier time." in browser.get("/me/visits").text


def test_errors_are_shown_next_to_the_fields_with_the_input_kept(
    browser: TestClient, clinic: Clinic, db: Session, settings: Settings
) -> None:
    _bookable(clinic, db)
    sign_in_as(browser, db, settings, JANE)
    status, html, _ = _join(
        browser,
        appointment_type_id="",
        earliest_date="2026-02-01",
        latest_date="2028-12-31",
        earliest_time="14:00",
        latest_time="09:00",
    )
    assert status == 422
    assert "There is a problem" in html
    for name in ("appointment_type_id", "earliest_date", "latest_time"):
        assert f'id="error-{name}"' in html
    assert 'value="2028-12-31"' in html
    assert 'value="14:00"' in html
    status, html, _ = _join(
        browser,
        appointment_type_id=str(clinic.consult.id),
        earliest_date="2026-03-03",
        latest_date="2028-12-31",
    )
    assert status == 422
    assert 'id="error-latest_date"' in html  # at most as far ahead as the desk allows
    assert entries(db) == []


def test_only_types_the_patient_may_book_and_never_another_record(
    browser: TestClient, clinic: Clinic, db: Session, settings: Settings
) -> None:
    _bookable(clinic, db)
    sign_in_as(browser, db, settings, NIA)  # does not meet the infusion's prerequisites
    form = browser.get("/me/waitlist")
    assert f'<option value="{clinic.infusion_id}"' not in form.text
    status, html, _ = _join(
        browser,
        appointment_type_id=str(clinic.infusion_id),
        earliest_date="2026-03-03",
        latest_date="2026-03-20",
    )
    assert status == 422
    assert 'id="error-appointment_type_id"' in html
    # Someone else's entry (Jane's, added by the desk) is neither shown nor removable.
    jane_entry = WaitlistEntry(
        patient_id=clinic.patient.id or 0,
        location_id=clinic.location_id,
        appointment_type_id=clinic.infusion_id,
        earliest_date=date(2026, 3, 3),
        latest_date=date(2026, 3, 20),
        earliest_time=time(0, 0),
        latest_time=time(23, 59),
        status="waiting",
        created_at=clinic.patient.created_at,
        updated_at=clinic.patient.created_at,
    )
    db.add(jane_entry)
    db.commit()
    visits = browser.get("/me/visits")
    assert "Infusion" not in visits.text.split("Waiting for an earlier time")[1].split("<h2")[0]
    for entry_id in (str(jane_entry.id), "999999"):
        refused = browser.post(
            f"/me/waitlist/{entry_id}/remove", data={"csrftoken": csrf(visits.text)}
        )
        assert refused.status_code == 404
    assert entries(db)[0].status == "waiting"


def test_a_provider_is_offered_only_where_the_clinic_shows_providers(
    browser: TestClient, clinic: Clinic, db: Session, settings: Settings
) -> None:
    _bookable(clinic, db)
    dana = make_provider(
        db,
        name="Dana Doctor",
        locations=(clinic.location,),
        types=(clinic.consult,),
        weekly=((3, time(13, 0), time(15, 0)),),
    )
    sign_in_as(browser, db, settings, JANE)
    form = browser.get(f"/me/waitlist?type={clinic.consult.id}")
    assert "Who would you like to see?" in form.text
    assert "Dana Doctor" in form.text
    status, _, _ = _join(
        browser,
        appointment_type_id=str(clinic.consult.id),
        provider_id=str(dana.id),
        earliest_date="2026-03-03",
        latest_date="2026-03-20",
    )
    assert status == 303
    assert entries(db)[0].provider_id == dana.id
    status, html, _ = _join(  # Dana does not give infusions
        browser,
        appointment_type_id=str(clinic.infusion_id),
        provider_id=str(dana.id),
        earliest_date="2026-03-03",
        latest_date="2026-03-20",
    )
    assert status == 422
    assert 'id="error-provider_id"' in html
    assert "Dana Doctor" in browser.get("/me/visits").text
