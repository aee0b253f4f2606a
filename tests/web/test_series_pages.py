"""The series pages in process (frozen clock at Monday 2 March 2026, New York): book a series
from its placement preview, a placement changed meanwhile is shown again instead of booked,
no placement is explained with alternatives as links, the patient's page lists the series
with progress, cancel the rest, a move that breaks the spacing is refused next to the field,
boosters after the course, and the admins' series templates."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, col, select

from scheduler.auth.actors import Actor
from scheduler.bookings import service as bookings_service
from scheduler.bookings.schemas import BookingCreate
from scheduler.kit.clock import FrozenClock
from scheduler.models import AvailabilityException, Booking, Series, SeriesTemplate
from scheduler.series import templates as templates_service
from scheduler.series.schemas import SeriesTemplateCreate
from tests.clinic_fixture import Clinic
from tests.factories import make_user
from tests.web.inprocess import csrf_of, sign_in, sign_out

CSRF = re.compile(r'name="csrftoken" value="([^"]+)"')
HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')


def _template(db: Session, clinic: Clinic, clock: FrozenClock, **fields: Any) -> int:
    body = {
        "name": "Induction",
        "visit_count": 4,
        "window_days": 14,
        "min_gap_hours": 48,
        "max_gap_hours": 96,
        "max_per_week": 3,
        "booster_interval_days": 28,
        **fields,
    }
    made = templates_service.create_template(
        db,
        clinic.infusion_id,
        SeriesTemplateCreate.model_validate(body),
        actor=Actor(kind="user", label="user:test"),
        now=clock.now(),
    )
    db.commit()
    return made.id


def _desk(browser: TestClient, db: Session) -> None:
    make_user(db, role="front_desk", email="desk@clinic.example")
    sign_in(browser, "desk@clinic.example")


def _preview_url(clinic: Clinic, template_id: int, first_day: str = "2026-03-03") -> str:
    return (
        f"/admin/series/new?patient_id={clinic.patient.id}&template_id={template_id}"
        f"&location_id={clinic.location_id}&first_day={first_day}"
    )


def _confirm_form(html: str) -> dict[str, Any]:
    """The confirm form's fields as the browser would post them (the plan repeated)."""
    start = html.index('action="/admin/series"')
    form_html = html[start : html.index("</form>", start)]
    fields: dict[str, Any] = {"plan": []}
    for name, value in HIDDEN.findall(form_html):
        if name == "plan":
            fields["plan"].append(value.replace("&#43;", "+"))
        else:
            fields[name] = value
    token = CSRF.search(form_html)
    assert token
    fields["csrftoken"] = token.group(1)
    return fields


def _count(db: Session, model: type[Any], *where: Any) -> int:
    return int(db.exec(select(func.count()).select_from(model).where(*where)).one())


def _book(browser: TestClient, db: Session, clinic: Clinic, template_id: int) -> int:
    page = browser.get(_preview_url(clinic, template_id))
    done = browser.post("/admin/series", data=_confirm_form(page.text))
    assert done.status_code == 303, done.text
    return int(done.headers["location"].rsplit("/", 1)[1])


def test_book_a_series_from_its_preview(
    browser: TestClient, clinic: Clinic, clock: FrozenClock, db: Session
) -> None:
    template_id = _template(db, clinic, clock)
    _desk(browser, db)
    # The booking page offers a series once the patient is chosen.
    book = browser.get(f"/admin/book?patient_id={clinic.patient.id}")
    assert f"/admin/series/new?patient_id={clinic.patient.id}" in book.text
    page = browser.get(_preview_url(clinic, template_id))
    assert page.status_code == 200, page.text
    assert page.headers["cache-control"] == "no-store"
    # Each visit with its local time, chair and provider (the spring-forward keeps 08:00).
    assert "Tue 3 Mar 2026" in page.text
    assert "Mon 9 Mar 2026" in page.text
    assert page.text.count("08:00–") == 4
    assert "EST" in page.text
    assert "EDT" in page.text
    assert "Chair 1" in page.text
    assert "Book all 4 visits" in page.text
    assert _count(db, Booking) == 0  # the preview changes nothing
    form = _confirm_form(page.text)
    assert len(form["plan"]) == 4
    done = browser.post("/admin/series", data=form)
    assert done.status_code == 303, done.text
    series_id = int(done.headers["location"].rsplit("/", 1)[1])
    assert _count(db, Booking, col(Booking.series_id) == series_id) == 4
    shown = browser.get(done.headers["location"])
    assert "Booked all 4 visits of Induction." in shown.text
    assert "0 of 4 done" in shown.text
    # A second press replays: still one series.
    again = browser.post("/admin/series", data=form)
    assert again.status_code == 303
    assert again.headers["location"] == done.headers["location"]
    assert _count(db, Series) == 1
    # The patient's page lists it with its progress and links to it.
    patient = browser.get(f"/admin/patients/{clinic.patient.id}")
    assert f'href="/admin/series/{series_id}">Induction</a>' in patient.text
    assert "0 of 4 done" in patient.text
    assert "4 to come" in patient.text


def test_a_placement_changed_meanwhile_is_shown_again_not_booked(
    browser: TestClient, clinic: Clinic, clock: FrozenClock, db: Session
) -> None:
    template_id = _template(db, clinic, clock)
    _desk(browser, db)
    page = browser.get(_preview_url(clinic, template_id))
    form = _confirm_form(page.text)
    # Meanwhile someone books the first visit's chair and time for another patient.
    start, chair, provider = form["plan"][0].split("|")
    bookings_service.create_booking(
        db,
        BookingCreate(
            patient_id=clinic.other_patient.id or 0,
            appointment_type_id=clinic.infusion_id,
            location_id=clinic.location_id,
            start_at=datetime.fromisoformat(start),
            chair_id=int(chair),
            provider_id=int(provider),
        ),
        actor=Actor(kind="user", label="user:test"),
        now=clock.now(),
    )
    db.commit()
    refused = browser.post("/admin/series", data=form)
    assert refused.status_code == 409, refused.text
    assert "The placement changed since you saw it" in refused.text
    assert _count(db, Series) == 0
    assert _count(db, Booking) == 1
    fresh = _confirm_form(refused.text)
    assert fresh["plan"] != form["plan"]
    done = browser.post("/admin/series", data=fresh)
    assert done.status_code == 303, done.text
    assert _count(db, Booking) == 5


def test_no_placement_says_why_and_links_the_alternatives(
    browser: TestClient, clinic: Clinic, clock: FrozenClock, db: Session
) -> None:
    """Four visits a day apart from Tuesday 3 March; Friday 6 March is closed."""
    template_id = _template(
        db, clinic, clock, min_gap_hours=24, max_gap_hours=24, window_days=4, max_per_week=4
    )
    closed = datetime(2026, 3, 6, 5, 0, tzinfo=UTC)
    db.add(
        AvailabilityException(
            location_id=clinic.location_id,
            kind="unavailable",
            start_at=closed,
            end_at=closed + timedelta(hours=24),
            reason="closed",
        )
    )
    db.commit()
    _desk(browser, db)
    page = browser.get(_preview_url(clinic, template_id))
    assert page.status_code == 200, page.text
    assert "Visit 4 cannot be placed" in page.text
    assert "Book all" not in page.text
    assert "Start on Mon 9 Mar instead" in page.text
    assert "first_day=2026-03-09" in page.text
    # A bad time is an error next to its field, the other choices kept.
    bad = browser.get(_preview_url(clinic, template_id) + "&earliest=9am")
    assert bad.status_code == 422
    assert 'id="error-earliest"' in bad.text
    assert f'<option value="{template_id}" selected>' in bad.text


def test_cancel_the_rest_needs_a_reason(
    browser: TestClient, clinic: Clinic, clock: FrozenClock, db: Session
) -> None:
    template_id = _template(db, clinic, clock)
    _desk(browser, db)
    series_id = _book(browser, db, clinic, template_id)
    url = f"/admin/series/{series_id}"
    token = csrf_of(browser, url)
    empty = browser.post(f"{url}/cancel", data={"csrftoken": token, "reason": " "})
    assert empty.status_code == 422
    assert 'id="error-cancel_reason"' in empty.text
    done = browser.post(
        f"{url}/cancel",
        data={"csrftoken": token, "reason": "Moving away", "cancelled_by": "patient"},
    )
    assert done.status_code == 303, done.text
    shown = browser.get(url)
    assert "Cancelled the rest of Induction (4 visits cancelled)." in shown.text
    assert "Cancel the rest of the series" not in shown.text
    assert _count(db, Booking, col(Booking.status) == "cancelled") == 4
    patient = browser.get(f"/admin/patients/{clinic.patient.id}")
    assert "Cancelled" in patient.text


def test_a_move_that_breaks_the_spacing_is_refused_next_to_the_field(
    browser: TestClient, clinic: Clinic, clock: FrozenClock, db: Session
) -> None:
    template_id = _template(db, clinic, clock)
    _desk(browser, db)
    series_id = _book(browser, db, clinic, template_id)
    visits = list(
        db.exec(
            select(Booking).where(Booking.series_id == series_id).order_by(col(Booking.start_at))
        )
    )
    second = visits[1]
    url = f"/admin/series/{series_id}"
    token = csrf_of(browser, url)
    move = f"{url}/visits/{second.id}/reschedule"
    # Thursday 5 March -> Wednesday 4 March 10:00: 26 hours after the first, less than 48.
    close = browser.post(
        move,
        data={
            "csrftoken": token,
            "version": str(second.version),
            "day": "2026-03-04",
            "at": "10:00",
        },
    )
    assert close.status_code == 409, close.text
    assert f'id="error-move-{second.id}"' in close.text
    assert "less than 48 h" in close.text
    assert 'value="2026-03-04"' in close.text  # the input kept
    db.expire_all()
    kept = db.get(Booking, second.id)
    assert kept is not None
    assert kept.start_at == second.start_at
    # Half an hour later on the same day keeps the rules.
    fine = browser.post(
        move,
        data={
            "csrftoken": token,
            "version": str(second.version),
            "day": "2026-03-05",
            "at": "08:30",
        },
    )
    assert fine.status_code == 303, fine.text
    assert "Moved the visit to Thu 5 Mar at 08:30." in browser.get(url).text


def test_boosters_are_proposed_after_the_course_and_booked_in_the_series(
    browser: TestClient, clinic: Clinic, clock: FrozenClock, db: Session
) -> None:
    template_id = _template(db, clinic, clock)
    _desk(browser, db)
    series_id = _book(browser, db, clinic, template_id)
    url = f"/admin/series/{series_id}"
    early = browser.get(url)
    assert "Boosters every 28 days are proposed here once every visit" in early.text
    for booking in db.exec(select(Booking).where(Booking.series_id == series_id)):
        booking.status = "fulfilled"
    db.commit()
    clock.set(datetime(2026, 3, 12, 12, 0, tzinfo=UTC))
    sign_in(browser, "desk@clinic.example")
    page = browser.get(url)
    assert "4 of 4 done" in page.text
    assert "The course is done." in page.text
    assert "Wed 8 Apr 2026" in page.text
    assert f'action="/admin/series/{series_id}/boosters"' in page.text
    assert "Cancel the rest" not in page.text
    token = CSRF.search(page.text)
    assert token
    slot = re.compile(r'name="slot" value="([^"]+)"')
    first = slot.findall(page.text)[0].replace("&#43;", "+")
    assert first.startswith("2026-04-08T08:00:00-04:00|")
    # Meanwhile someone takes that time: refused next to the boosters, with the times free now.
    start, chair, provider = first.split("|")
    bookings_service.create_booking(
        db,
        BookingCreate(
            patient_id=clinic.other_patient.id or 0,
            appointment_type_id=clinic.infusion_id,
            location_id=clinic.location_id,
            start_at=datetime.fromisoformat(start),
            chair_id=int(chair),
            provider_id=int(provider),
        ),
        actor=Actor(kind="user", label="user:test"),
        now=clock.now(),
    )
    db.commit()
    booster_url = f"/admin/series/{series_id}/boosters"
    refused = browser.post(booster_url, data={"csrftoken": token.group(1), "slot": first})
    assert refused.status_code == 409
    assert "That time was taken meanwhile" in refused.text
    assert 'id="error-booster"' in refused.text
    linked = db.exec(select(Booking).where(Booking.series_id == series_id)).all()
    assert len(linked) == 4
    now_free = slot.findall(refused.text)[0].replace("&#43;", "+")
    assert now_free != first
    without_token = browser.post(booster_url, data={"slot": now_free})
    assert without_token.status_code == 403
    booked = browser.post(booster_url, data={"csrftoken": token.group(1), "slot": now_free})
    assert booked.status_code == 303, booked.text
    shown = browser.get(url)
    local = datetime.fromisoformat(now_free.split("|")[0])
    assert f"Booked the booster on {local:%a %-d %b at %H:%M}." in shown.text
    assert "4 of 5 done" in shown.text
    assert 'name="slot"' not in shown.text  # the next booster once this one is done
    linked = db.exec(select(Booking).where(Booking.series_id == series_id)).all()
    assert len(linked) == 5


def test_admins_create_and_edit_series_templates(
    browser: TestClient, clinic: Clinic, clock: FrozenClock, db: Session
) -> None:
    make_user(db, role="admin", email="admin@clinic.example")
    sign_in(browser, "admin@clinic.example")
    url = f"/admin/settings/types/{clinic.infusion_id}/series"
    assert url in browser.get("/admin/settings/types").text
    token = csrf_of(browser, url)
    form = {
        "csrftoken": token,
        "name": "Induction",
        "visit_count": "6",
        "window_days": "21",
        "min_gap_hours": "48",
        "max_gap_hours": "24",
        "max_per_week": "3",
        "booster_interval_days": "",
        "prefer_same_time": "1",
    }
    backwards = browser.post(url, data=form)
    assert backwards.status_code == 422
    assert 'id="error-max_gap_hours"' in backwards.text
    assert "The most gap must be at least the least gap." in backwards.text
    assert 'value="Induction"' in backwards.text
    created = browser.post(url, data={**form, "max_gap_hours": "120"})
    assert created.status_code == 303, created.text
    row = db.exec(select(SeriesTemplate)).one()
    assert (row.visit_count, row.booster_interval_days, row.prefer_same_time) == (6, None, True)
    edit = f"/admin/settings/series-templates/{row.id}"
    assert edit in browser.get(url).text
    saved = browser.post(
        edit, data={**form, "max_gap_hours": "120", "booster_interval_days": "28", "active": "1"}
    )
    assert saved.status_code == 303, saved.text
    db.expire_all()
    row = db.exec(select(SeriesTemplate)).one()
    assert row.booster_interval_days == 28
    withdrawn = browser.post(edit, data={**form, "max_gap_hours": "120"})
    assert withdrawn.status_code == 303
    db.expire_all()
    assert db.exec(select(SeriesTemplate)).one().active is False
    # The front desk may not change templates.
    sign_out(browser)
    make_user(db, role="front_desk", email="desk@clinic.example")
    sign_in(browser, "desk@clinic.example")
    assert browser.get(url).status_code == 403


def test_staff_book_a_series_anyway_with_a_reason_when_a_requirement_is_missing(
    browser: TestClient, clinic: Clinic, clock: FrozenClock, db: Session
) -> None:
    template_id = _template(db, clinic, clock)
    _desk(browser, db)
    url = _preview_url(clinic, template_id).replace(
        f"patient_id={clinic.patient.id}", f"patient_id={clinic.new_patient.id}"
    )
    refused = browser.get(url)
    assert refused.status_code == 409
    assert "requires" in refused.text
    assert "Book all" not in refused.text
    assert "override=1" in refused.text
    page = browser.get(url + "&override=1")
    assert page.status_code == 200, page.text
    form = _confirm_form(page.text)
    assert form["override"] == "1"
    no_reason = browser.post("/admin/series", data=form)
    assert no_reason.status_code == 422
    assert 'id="error-override_reason"' in no_reason.text
    assert _count(db, Booking) == 0
    done = browser.post("/admin/series", data={**form, "override_reason": "Consult by phone"})
    assert done.status_code == 303, done.text
    reasons = db.exec(select(Booking.override_reason)).all()
    assert len(reasons) == 4
    assert all(r.startswith("Consult by phone") for r in reasons), reasons


def test_series_pages_are_for_the_front_desk_and_unknown_ones_are_404(
    browser: TestClient, clinic: Clinic, clock: FrozenClock, db: Session
) -> None:
    template_id = _template(db, clinic, clock)
    make_user(db, role="provider", email="nurse@clinic.example", provider_id=clinic.nurse.id)
    sign_in(browser, "nurse@clinic.example")
    assert browser.get(_preview_url(clinic, template_id)).status_code == 403
    assert browser.get("/admin/series/1").status_code == 403
    sign_out(browser)
    _desk(browser, db)
    missing = browser.get("/admin/series/424242")
    assert missing.status_code == 404
    assert "Series 424242 does not exist." in missing.text
