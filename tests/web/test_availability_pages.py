"""The availability editor, the feed links page and a provider's own schedule, in process
(frozen clock: Monday 2 March 2026, 09:00 in New York). Both databases.

The browser tests (test_availability_browser.py) drive the same through Chromium.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from scheduler.models import AuditEvent, AvailabilityException, AvailabilityRule, User
from tests.bookings.test_bookings_api import book
from tests.clinic_fixture import Clinic
from tests.factories import make_patient, make_provider, make_user
from tests.web.inprocess import csrf_of, sign_in

TUESDAY = 1


@pytest.fixture
def desk(db: Session) -> User:
    return make_user(db, role="front_desk", email="desk@clinic.example")


@pytest.fixture
def nurse_user(db: Session, clinic: Clinic) -> User:
    return make_user(db, role="provider", email="nurse@clinic.example", provider_id=clinic.nurse.id)


def _rules(db: Session, provider_id: int) -> list[AvailabilityRule]:
    db.expire_all()
    return list(
        db.exec(
            select(AvailabilityRule)
            .where(AvailabilityRule.provider_id == provider_id)
            .order_by(col(AvailabilityRule.weekday), col(AvailabilityRule.start_time))
        ).all()
    )


def _week_form(
    db: Session, clinic: Clinic, csrf: str, action: str, **changed: str
) -> dict[str, object]:
    """The hours form as the page sends it: every saved range, one empty row per weekday,
    with ``changed`` fields (``r<id>_end="12:00"``, ``n5_start="09:00"``) replaced."""
    data: dict[str, object] = {
        "csrftoken": csrf,
        "provider_id": str(clinic.nurse.id),
        "location_id": str(clinic.location_id),
        "type_id": str(clinic.infusion_id),
        "action": action,
        "reason": "",
    }
    rows: list[str] = []
    for rule in _rules(db, clinic.nurse.id or 0):
        key = f"r{rule.id}"
        rows.append(key)
        data |= {
            f"{key}-weekday": str(rule.weekday),
            f"{key}-start": rule.start_time.strftime("%H:%M"),
            f"{key}-end": rule.end_time.strftime("%H:%M"),
            f"{key}-from": "",
            f"{key}-until": "",
        }
    for weekday in range(7):
        key = f"n{weekday}"
        rows.append(key)
        data |= {f"{key}-weekday": str(weekday), f"{key}-start": "", f"{key}-end": ""}
    for name, value in changed.items():
        data[name.replace("_", "-", 1)] = value
    data["row"] = rows
    return data


def _preview_row(html: str, day_label: str) -> str:
    found = re.search(rf"<tr[^>]*>\s*<th scope=\"row\"[^>]*>{day_label}.*?</tr>", html, re.S)
    assert found, html
    return found.group(0)


def _counts(row: str) -> list[int]:
    return [int(n) for n in re.findall(r'<span class="count">(\d+)</span>', row)]


def _tuesday_rule(db: Session, clinic: Clinic) -> AvailabilityRule:
    return next(r for r in _rules(db, clinic.nurse.id or 0) if r.weekday == TUESDAY)


def test_the_desk_sees_the_weekly_hours_and_the_coming_weeks_free_starts(
    browser: TestClient, desk: User, clinic: Clinic
) -> None:
    sign_in(browser, desk.email)
    page = browser.get(f"/admin/availability?provider={clinic.nurse.id}")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert 'value="08:00"' in page.text
    assert 'value="17:00"' in page.text
    assert "Free starts in the coming week" in page.text
    tuesday = _preview_row(page.text, "Tue 3 Mar")
    assert _counts(tuesday)[0] > 0
    saturday = _preview_row(page.text, "Sat 7 Mar")
    assert _counts(saturday) == [0]


def test_preview_shows_the_change_and_saves_nothing_then_save_applies_it(
    browser: TestClient, desk: User, clinic: Clinic, db: Session
) -> None:
    sign_in(browser, desk.email)
    rule = _tuesday_rule(db, clinic)
    csrf = csrf_of(browser, "/admin/availability")
    form = _week_form(db, clinic, csrf, "preview", **{f"r{rule.id}_end": "12:00"})
    preview = browser.post("/admin/availability/hours", data=form)
    assert preview.status_code == 200, preview.text
    assert "Preview: not saved yet" in preview.text
    saved, proposed = _counts(_preview_row(preview.text, "Tue 3 Mar"))
    assert 0 < proposed < saved
    assert "Changed" in _preview_row(preview.text, "Tue 3 Mar")
    assert (
        _counts(_preview_row(preview.text, "Wed 4 Mar"))[0]
        == _counts(_preview_row(preview.text, "Wed 4 Mar"))[1]
    )
    assert 'value="12:00"' in preview.text  # the input is kept
    assert _tuesday_rule(db, clinic).end_time == time(17, 0)  # nothing saved
    assert not db.exec(select(AuditEvent).where(AuditEvent.action.startswith("availability"))).all()  # type: ignore[attr-defined]

    form["action"] = "save"
    saved_page = browser.post("/admin/availability/hours", data=form)
    assert saved_page.status_code == 303
    assert saved_page.headers["location"].startswith("/admin/availability?provider=")
    assert _tuesday_rule(db, clinic).end_time == time(12, 0)
    events = db.exec(
        select(AuditEvent).where(AuditEvent.action == "availability_rule.update")
    ).all()
    assert len(events) == 1  # only the changed range
    after = browser.get(saved_page.headers["location"])
    assert "Weekly hours saved." in after.text
    assert _counts(_preview_row(after.text, "Tue 3 Mar"))[0] == proposed


def test_a_second_range_a_removal_and_a_new_day_in_one_save(
    browser: TestClient, desk: User, clinic: Clinic, db: Session
) -> None:
    sign_in(browser, desk.email)
    rule = _tuesday_rule(db, clinic)
    monday = next(r for r in _rules(db, clinic.nurse.id or 0) if r.weekday == 0)
    csrf = csrf_of(browser, "/admin/availability")
    form = _week_form(
        db,
        clinic,
        csrf,
        "save",
        **{
            f"r{rule.id}_end": "12:00",
            "n1_start": "13:00",
            "n1_end": "17:00",
            f"r{monday.id}_remove": "1",
        },
    )
    response = browser.post("/admin/availability/hours", data=form)
    assert response.status_code == 303, response.text
    spans = [(r.weekday, r.start_time, r.end_time) for r in _rules(db, clinic.nurse.id or 0)]
    assert (TUESDAY, time(8), time(12)) in spans
    assert (TUESDAY, time(13), time(17)) in spans
    assert all(weekday != 0 for weekday, _, _ in spans)


REFUSED = {
    "end_before_start": (
        {"n5_start": "12:00", "n5_end": "09:00"},
        "n5-end",
        "The end must be after the start.",
    ),
    "start_at_24": (
        {"n5_start": "24:00", "n5_end": "24:00"},
        "n5-start",
        "Enter the start as a time of day",
    ),
    "end_not_a_time": (
        {"n5_start": "09:00", "n5_end": "25:00"},
        "n5-end",
        "Enter the end as a time of day",
    ),
    "until_before_from": (
        {"n5_start": "09:00", "n5_end": "13:00", "n5_from": "2026-04-02", "n5_until": "2026-04-01"},
        "n5-until",
        "The last day must not be before the first day.",
    ),
    "overlap": (
        {"n1_start": "16:00", "n1_end": "18:00"},
        "n1-start",
        "These hours overlap Tuesday 08:00\u201317:00",
    ),
}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [pytest.param(*case, id=name) for name, case in REFUSED.items()],
)
@pytest.mark.parametrize("action", ["preview", "save"])
def test_refused_hours_are_explained_next_to_the_field_with_the_input_kept(
    browser: TestClient,
    desk: User,
    clinic: Clinic,
    db: Session,
    changes: dict[str, str],
    field: str,
    message: str,
    action: str,
) -> None:
    sign_in(browser, desk.email)
    before = [(r.weekday, r.start_time, r.end_time) for r in _rules(db, clinic.nurse.id or 0)]
    csrf = csrf_of(browser, "/admin/availability")
    response = browser.post(
        "/admin/availability/hours", data=_week_form(db, clinic, csrf, action, **changes)
    )
    assert response.status_code == 422
    error = re.search(rf'<p class="field__error" id="error-{field}">(.*?)</p>', response.text)
    assert error, response.text
    assert message in error.group(1)
    assert f'href="#field-{field}"' in response.text  # the summary links to the field
    for value in changes.values():
        assert f'value="{value}"' in response.text
    assert "Preview: not saved yet" not in response.text
    after = [(r.weekday, r.start_time, r.end_time) for r in _rules(db, clinic.nurse.id or 0)]
    assert after == before


def test_end_of_day_is_written_24_00(
    browser: TestClient, desk: User, clinic: Clinic, db: Session
) -> None:
    sign_in(browser, desk.email)
    csrf = csrf_of(browser, "/admin/availability")
    form = _week_form(db, clinic, csrf, "save", n1_start="17:00", n1_end="24:00")
    assert browser.post("/admin/availability/hours", data=form).status_code == 303
    page = browser.get(f"/admin/availability?provider={clinic.nurse.id}")
    assert 'value="24:00"' in page.text


def test_time_off_previewed_then_saved_takes_the_days_slots_away(
    browser: TestClient, desk: User, clinic: Clinic, db: Session
) -> None:
    sign_in(browser, desk.email)
    csrf = csrf_of(browser, "/admin/availability")
    form = {
        "csrftoken": csrf,
        "provider_id": str(clinic.nurse.id),
        "location_id": str(clinic.location_id),
        "type_id": str(clinic.infusion_id),
        "exc-kind": "unavailable",
        "exc-where": "all",
        "exc-start": "2026-03-03T00:00",
        "exc-end": "2026-03-04T00:00",
        "exc-reason": "Conference",
        "action": "preview",
    }
    preview = browser.post("/admin/availability/exceptions", data=form)
    assert preview.status_code == 200, preview.text
    saved, proposed = _counts(_preview_row(preview.text, "Tue 3 Mar"))
    assert saved > 0
    assert proposed == 0
    assert not db.exec(select(AvailabilityException)).all()
    form["action"] = "save"
    assert browser.post("/admin/availability/exceptions", data=form).status_code == 303
    (row,) = db.exec(select(AvailabilityException)).all()
    assert row.provider_id == clinic.nurse.id
    assert row.location_id is None
    assert row.start_at == datetime(2026, 3, 3, 5, 0, tzinfo=UTC)  # local midnight, EST
    page = browser.get(f"/admin/availability?provider={clinic.nurse.id}")
    assert "Time off" in page.text
    assert "Conference" in page.text
    assert _counts(_preview_row(page.text, "Tue 3 Mar")) == [0]
    remove = browser.post(
        f"/admin/availability/exceptions/{row.id}/delete",
        data={
            "csrftoken": csrf,
            "provider_id": str(clinic.nurse.id),
            "location_id": str(clinic.location_id),
        },
    )
    assert remove.status_code == 303
    db.expire_all()
    assert not db.exec(select(AvailabilityException)).all()


def test_a_dated_form_with_the_end_first_is_refused_next_to_the_end(
    browser: TestClient, desk: User, clinic: Clinic, db: Session
) -> None:
    sign_in(browser, desk.email)
    csrf = csrf_of(browser, "/admin/availability")
    response = browser.post(
        "/admin/availability/closures",
        data={
            "csrftoken": csrf,
            "provider_id": str(clinic.nurse.id),
            "location_id": str(clinic.location_id),
            "cl-start": "2026-03-05T12:00",
            "cl-end": "2026-03-05T09:00",
            "cl-reason": "Inspection",
            "action": "save",
        },
    )
    assert response.status_code == 422
    assert 'id="error-cl-end"' in response.text
    assert 'value="Inspection"' in response.text
    assert not db.exec(select(AvailabilityException)).all()


def test_a_closure_saved_by_the_desk_closes_the_location(
    browser: TestClient, desk: User, clinic: Clinic, db: Session
) -> None:
    sign_in(browser, desk.email)
    csrf = csrf_of(browser, "/admin/availability")
    response = browser.post(
        "/admin/availability/closures",
        data={
            "csrftoken": csrf,
            "provider_id": str(clinic.nurse.id),
            "location_id": str(clinic.location_id),
            "cl-start": "2026-03-04T00:00",
            "cl-end": "2026-03-05T00:00",
            "cl-reason": "Inspection",
            "action": "save",
        },
    )
    assert response.status_code == 303
    (closure,) = db.exec(select(AvailabilityException)).all()
    assert closure.provider_id is None
    assert closure.location_id == clinic.location_id
    page = browser.get(f"/admin/availability?provider={clinic.nurse.id}")
    assert _counts(_preview_row(page.text, "Wed 4 Mar")) == [0]


def test_a_provider_edits_their_own_availability_only(
    browser: TestClient, nurse_user: User, clinic: Clinic, db: Session
) -> None:
    other = make_provider(db, name="Other Nurse", locations=(clinic.location,))
    sign_in(browser, nurse_user.email)
    own = browser.get("/admin/availability")
    assert own.status_code == 200
    assert "Nora Nurse" in own.text
    assert "Other Nurse" not in own.text
    assert "Closures of" not in own.text  # the desk's and admins' only
    assert browser.get(f"/admin/availability?provider={other.id}").status_code == 403
    csrf = csrf_of(browser, "/admin/availability")
    form = _week_form(db, clinic, csrf, "save", n5_start="09:00", n5_end="12:00")
    form["provider_id"] = str(other.id)
    assert browser.post("/admin/availability/hours", data=form).status_code == 403
    assert not _rules(db, other.id or 0)
    closure = browser.post(
        "/admin/availability/closures",
        data={
            "csrftoken": csrf,
            "provider_id": str(clinic.nurse.id),
            "location_id": str(clinic.location_id),
            "cl-start": "2026-03-04T00:00",
            "cl-end": "2026-03-05T00:00",
            "action": "save",
        },
    )
    assert closure.status_code == 403
    form = _week_form(db, clinic, csrf, "save", n4_start="17:00", n4_end="19:00")
    assert browser.post("/admin/availability/hours", data=form).status_code == 303


def test_my_schedule_shows_the_providers_own_visits_only(
    client: TestClient,
    browser: TestClient,
    desk_headers: dict[str, str],
    nurse_user: User,
    clinic: Clinic,
    db: Session,
) -> None:
    other = make_provider(
        db,
        name="Other Nurse",
        locations=(clinic.location,),
        types=(clinic.infusion,),
        weekly=((TUESDAY, time(8), time(17)),),
    )
    mine = book(client, desk_headers, clinic, start="2026-03-03T09:00:00-05:00")
    assert mine.status_code == 201, mine.text
    stranger = make_patient(db, first_name="Zed", last_name="Stranger", email="zed@example.org",
                            consult_completed=True, consent_signed=True)  # fmt: skip
    theirs = book(
        client,
        desk_headers,
        clinic,
        start="2026-03-03T09:00:00-05:00",
        patient_id=stranger.id,
        provider_id=other.id,
    )
    assert theirs.status_code == 201, theirs.text
    sign_in(browser, nurse_user.email)
    page = browser.get("/admin/my-schedule")
    assert page.status_code == 200
    assert clinic.patient.last_name in page.text
    assert "Stranger" not in page.text
    assert "Tuesday 3 March" in page.text
    assert "Change my hours" in page.text
    assert browser.get("/admin/my-schedule?provider_id=" + str(other.id)).status_code == 200
    assert "Stranger" not in browser.get(f"/admin/my-schedule?provider_id={other.id}").text


def _feed_url(html: str) -> str:
    found = re.search(r'<textarea id="feed-url"[^>]*>([^<]+)</textarea>', html)
    assert found, html
    return found.group(1)


def test_a_provider_makes_rotates_and_revokes_their_feed_link(
    browser: TestClient, nurse_user: User, clinic: Clinic, db: Session
) -> None:
    sign_in(browser, nurse_user.email)
    page = browser.get("/admin/feeds")
    assert page.status_code == 200
    assert page.headers["referrer-policy"] == "no-referrer"
    csrf = csrf_of(browser, "/admin/feeds")
    made = browser.post(
        "/admin/feeds", data={"csrftoken": csrf, "owner": "provider", "label": "My phone"}
    )
    assert made.status_code == 200, made.text
    assert made.headers["referrer-policy"] == "no-referrer"
    assert made.headers["cache-control"] == "no-store"
    url = _feed_url(made.text)
    path = url.split("://", 1)[1].split("/", 1)[1]
    feed = browser.get(f"/{path}")
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("text/calendar")
    # Shown once: the page does not show it again.
    again = browser.get("/admin/feeds")
    assert url not in again.text
    assert "My phone" in again.text
    token_id = int(re.findall(r'action="/admin/feeds/(\d+)/rotate"', again.text)[0])

    rotated = browser.post(f"/admin/feeds/{token_id}/rotate", data={"csrftoken": csrf})
    assert rotated.status_code == 200
    new_url = _feed_url(rotated.text)
    assert new_url != url
    assert browser.get(f"/{path}").status_code == 404
    new_path = new_url.split("://", 1)[1].split("/", 1)[1]
    assert browser.get(f"/{new_path}").status_code == 200

    listed = browser.get("/admin/feeds")
    new_id = int(re.findall(r'action="/admin/feeds/(\d+)/revoke"', listed.text)[0])
    revoked = browser.post(f"/admin/feeds/{new_id}/revoke", data={"csrftoken": csrf})
    assert revoked.status_code == 303
    assert browser.get(f"/{new_path}").status_code == 404
    assert "revoked" in browser.get("/admin/feeds").text


def test_a_provider_cannot_touch_another_providers_or_a_locations_feed(
    browser: TestClient, nurse_user: User, clinic: Clinic, db: Session
) -> None:
    other = make_provider(db, name="Other Nurse", locations=(clinic.location,))
    make_user(db, role="provider", email="other@clinic.example", provider_id=other.id)
    sign_in(browser, "other@clinic.example")
    csrf = csrf_of(browser, "/admin/feeds")
    made = browser.post("/admin/feeds", data={"csrftoken": csrf, "owner": "provider"})
    token_id = int(re.findall(r'action="/admin/feeds/(\d+)/rotate"', made.text)[0])
    browser.cookies.clear()
    sign_in(browser, nurse_user.email)
    csrf = csrf_of(browser, "/admin/feeds")
    assert "Downtown" not in browser.get("/admin/feeds").text
    assert (
        browser.post(f"/admin/feeds/{token_id}/revoke", data={"csrftoken": csrf}).status_code == 403
    )
    assert (
        browser.post(f"/admin/feeds/{token_id}/rotate", data={"csrftoken": csrf}).status_code == 403
    )
    location_feed = browser.post(
        "/admin/feeds",
        data={"csrftoken": csrf, "owner": "location", "location_id": str(clinic.location_id)},
    )
    assert location_feed.status_code == 403


def test_the_desk_makes_a_location_feed(browser: TestClient, desk: User, clinic: Clinic) -> None:
    sign_in(browser, desk.email)
    page = browser.get("/admin/feeds")
    assert "Downtown" in page.text
    assert "Your schedule" not in page.text
    csrf = csrf_of(browser, "/admin/feeds")
    made = browser.post(
        "/admin/feeds",
        data={"csrftoken": csrf, "owner": "location", "location_id": str(clinic.location_id)},
    )
    assert made.status_code == 200
    url = _feed_url(made.text)
    path = url.split("://", 1)[1].split("/", 1)[1]
    assert browser.get(f"/{path}").status_code == 200


def test_extra_hours_must_name_the_location(
    browser: TestClient, desk: User, clinic: Clinic, db: Session
) -> None:
    sign_in(browser, desk.email)
    csrf = csrf_of(browser, "/admin/availability")
    response = browser.post(
        "/admin/availability/exceptions",
        data={
            "csrftoken": csrf,
            "provider_id": str(clinic.nurse.id),
            "location_id": str(clinic.location_id),
            "exc-kind": "extra",
            "exc-where": "all",
            "exc-start": "2026-03-07T09:00",
            "exc-end": "2026-03-07T12:00",
            "action": "save",
        },
    )
    assert response.status_code == 422
    assert 'id="field-exc-where"' in response.text
    assert "Extra hours must name the location." in response.text
    assert not db.exec(select(AvailabilityException)).all()


def test_a_range_removed_meanwhile_is_explained(
    browser: TestClient, desk: User, clinic: Clinic, db: Session
) -> None:
    sign_in(browser, desk.email)
    rule = _tuesday_rule(db, clinic)
    csrf = csrf_of(browser, "/admin/availability")
    form = _week_form(db, clinic, csrf, "save", **{f"r{rule.id}_end": "12:00"})
    db.delete(rule)
    db.flush()
    response = browser.post("/admin/availability/hours", data=form)
    assert response.status_code == 422
    assert "changed or removed this range meanwhile" in response.text
