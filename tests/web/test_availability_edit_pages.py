"""The availability editor changes saved closures, time off and weekly ranges in place, and
warns before a change strands booked visits (frozen clock: Monday 2 March 2026, 09:00 in
New York; a visit booked on Tuesday 3 March at 09:00). Both databases.

Nothing is changed until "Save anyway" (``action=confirm``); the browser test
(test_availability_browser.py) drives the same through Chromium.
"""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from scheduler.models import AuditEvent, AvailabilityException, User
from tests.bookings.test_bookings_api import book
from tests.clinic_fixture import Clinic
from tests.factories import make_user
from tests.web.inprocess import csrf_of, sign_in
from tests.web.test_availability_pages import _tuesday_rule, _week_form


@pytest.fixture
def desk(db: Session) -> User:
    return make_user(db, role="front_desk", email="desk@clinic.example")


@pytest.fixture
def tuesday_visit(client: TestClient, desk_headers: dict[str, str], clinic: Clinic) -> int:
    booked = book(client, desk_headers, clinic, start="2026-03-03T09:00:00-05:00")
    assert booked.status_code == 201, booked.text
    return int(booked.json()["id"])


def _dated(
    clinic: Clinic, csrf: str, prefix: str, start: str, end: str, **more: str
) -> dict[str, str]:
    return {
        "csrftoken": csrf,
        "provider_id": str(clinic.nurse.id),
        "location_id": str(clinic.location_id),
        "type_id": str(clinic.infusion_id),
        f"{prefix}-start": start,
        f"{prefix}-end": end,
        f"{prefix}-reason": more.pop("reason", "Inspection"),
        "action": "save",
        **{f"{prefix}-{k}": v for k, v in more.items()},
    }


def _saved(db: Session) -> list[AvailabilityException]:
    db.expire_all()
    return list(db.exec(select(AvailabilityException)).all())


def _actions(db: Session, action: str) -> int:
    return len(db.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


def test_a_closure_over_a_booked_visit_is_listed_and_saved_only_when_confirmed(
    browser: TestClient, desk: User, clinic: Clinic, db: Session, tuesday_visit: int
) -> None:
    sign_in(browser, desk.email)
    csrf = csrf_of(browser, "/admin/availability")
    form = _dated(clinic, csrf, "cl", "2026-03-03T00:00", "2026-03-04T00:00")
    warned = browser.post("/admin/availability/closures", data=form)
    assert warned.status_code == 200, warned.text
    assert "1 booked visit falls in this closure:" in warned.text
    assert f'href="/admin/bookings/{tuesday_visit}"' in warned.text
    assert clinic.patient.last_name in warned.text
    assert "Tue 3 Mar 09:00" in warned.text
    assert "Save anyway" in warned.text
    assert 'value="Inspection"' in warned.text  # the input is kept for "Save anyway"
    assert not _saved(db)
    assert _actions(db, "closure.create") == 0

    form["action"] = "confirm"
    confirmed = browser.post("/admin/availability/closures", data=form)
    assert confirmed.status_code == 303
    (closure,) = _saved(db)
    assert closure.start_at == datetime(2026, 3, 3, 5, 0, tzinfo=UTC)
    assert _actions(db, "closure.create") == 1


def test_a_closure_with_no_visits_in_it_saves_without_a_warning(
    browser: TestClient, desk: User, clinic: Clinic, db: Session, tuesday_visit: int
) -> None:
    sign_in(browser, desk.email)
    csrf = csrf_of(browser, "/admin/availability")
    form = _dated(clinic, csrf, "cl", "2026-03-04T00:00", "2026-03-05T00:00")
    assert browser.post("/admin/availability/closures", data=form).status_code == 303
    assert len(_saved(db)) == 1


def test_a_closure_is_changed_in_place_with_the_warning_first(
    browser: TestClient, desk: User, clinic: Clinic, db: Session, tuesday_visit: int
) -> None:
    sign_in(browser, desk.email)
    csrf = csrf_of(browser, "/admin/availability")
    wednesday = _dated(clinic, csrf, "cl", "2026-03-04T00:00", "2026-03-05T00:00")
    assert browser.post("/admin/availability/closures", data=wednesday).status_code == 303
    (closure,) = _saved(db)

    page = browser.get(f"/admin/availability?provider={clinic.nurse.id}")
    edit_link = f"edit=cl-{closure.id}"
    assert edit_link in page.text
    editing = browser.get(f"/admin/availability?provider={clinic.nurse.id}&{edit_link}")
    assert editing.status_code == 200
    assert "Change this closure" in editing.text
    assert f'action="/admin/availability/closures/{closure.id}"' in editing.text
    assert 'value="2026-03-04T00:00"' in editing.text
    assert 'value="Inspection"' in editing.text

    url = f"/admin/availability/closures/{closure.id}"
    moved = _dated(clinic, csrf, "cl", "2026-03-03T08:00", "2026-03-05T00:00", reason="Flood")
    warned = browser.post(url, data=moved)
    assert warned.status_code == 200
    assert "1 booked visit falls in this closure:" in warned.text
    assert "Change this closure" in warned.text  # still the edit form, input kept
    assert 'value="Flood"' in warned.text
    (unchanged,) = _saved(db)
    assert unchanged.start_at == datetime(2026, 3, 4, 5, 0, tzinfo=UTC)
    assert unchanged.reason == "Inspection"

    moved["action"] = "confirm"
    assert browser.post(url, data=moved).status_code == 303
    (changed,) = _saved(db)
    assert changed.id == closure.id
    assert changed.start_at == datetime(2026, 3, 3, 13, 0, tzinfo=UTC)
    assert changed.reason == "Flood"
    assert _actions(db, "closure.update") == 1

    backwards = _dated(clinic, csrf, "cl", "2026-03-05T00:00", "2026-03-04T00:00")
    refused = browser.post(url, data=backwards)
    assert refused.status_code == 422
    assert 'id="error-cl-end"' in refused.text


def test_time_off_is_changed_in_place_and_warns_about_the_visit(
    browser: TestClient, desk: User, clinic: Clinic, db: Session, tuesday_visit: int
) -> None:
    sign_in(browser, desk.email)
    csrf = csrf_of(browser, "/admin/availability")
    thursday = _dated(clinic, csrf, "exc", "2026-03-05T00:00", "2026-03-06T00:00",
                      kind="unavailable", where="here", reason="Course")  # fmt: skip
    assert browser.post("/admin/availability/exceptions", data=thursday).status_code == 303
    (time_off,) = _saved(db)
    editing = browser.get(f"/admin/availability?provider={clinic.nurse.id}&edit=exc-{time_off.id}")
    assert "Change this time off or extra hours" in editing.text
    assert 'value="2026-03-05T00:00"' in editing.text

    url = f"/admin/availability/exceptions/{time_off.id}"
    moved = _dated(clinic, csrf, "exc", "2026-03-03T08:30", "2026-03-03T12:00",
                   kind="unavailable", where="here", reason="Course")  # fmt: skip
    warned = browser.post(url, data=moved)
    assert warned.status_code == 200
    assert "1 booked visit falls in this time off:" in warned.text
    assert _saved(db)[0].start_at == datetime(2026, 3, 5, 5, 0, tzinfo=UTC)

    moved["action"] = "confirm"
    assert browser.post(url, data=moved).status_code == 303
    (changed,) = _saved(db)
    assert changed.start_at == datetime(2026, 3, 3, 13, 30, tzinfo=UTC)
    assert changed.location_id == clinic.location_id
    assert _actions(db, "availability_exception.update") == 1


def test_shorter_weekly_hours_list_the_visits_left_outside_them(
    browser: TestClient, desk: User, clinic: Clinic, db: Session, tuesday_visit: int
) -> None:
    sign_in(browser, desk.email)
    rule = _tuesday_rule(db, clinic)
    csrf = csrf_of(browser, "/admin/availability")
    later = _week_form(db, clinic, csrf, "save", **{f"r{rule.id}_start": "10:00"})
    warned = browser.post("/admin/availability/hours", data=later)
    assert warned.status_code == 200
    assert "1 booked visit would be outside the new hours:" in warned.text
    assert 'value="10:00"' in warned.text
    assert _tuesday_rule(db, clinic).start_time == time(8, 0)

    later["action"] = "confirm"
    assert browser.post("/admin/availability/hours", data=later).status_code == 303
    assert _tuesday_rule(db, clinic).start_time == time(10, 0)
    # The visit stays booked: the warning said so.
    assert browser.get(f"/admin/bookings/{tuesday_visit}").status_code == 200


def test_a_visit_already_outside_the_hours_is_not_blamed_on_another_change(
    browser: TestClient, desk: User, clinic: Clinic, db: Session, tuesday_visit: int
) -> None:
    sign_in(browser, desk.email)
    csrf = csrf_of(browser, "/admin/availability")
    over = _dated(clinic, csrf, "cl", "2026-03-03T00:00", "2026-03-04T00:00")
    over["action"] = "confirm"
    assert browser.post("/admin/availability/closures", data=over).status_code == 303
    rule = _tuesday_rule(db, clinic)
    later = _week_form(db, clinic, csrf, "save", **{f"r{rule.id}_start": "10:00"})
    assert browser.post("/admin/availability/hours", data=later).status_code == 303
