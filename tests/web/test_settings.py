"""The admin's settings pages, in process: locations and chairs, appointment types, users.

Each form goes through the same schema and service as the API; these tests check that the
pages save what was typed, show each error next to its field with the input kept, and are
refused to the other roles. The browser test (test_settings_browser.py) drives the same
through Chromium with axe-core and screenshots.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from scheduler.kit.clock import FrozenClock
from scheduler.models import AppointmentType, AuditEvent, Chair, Location, User
from tests.clinic_fixture import Clinic
from tests.factories import make_provider, make_user
from tests.web.inprocess import CSRF_INPUT, csrf_of, is_signed_out, sign_in

SETTINGS_PAGES = (
    "/admin/settings",
    "/admin/settings/locations",
    "/admin/settings/types",
    "/admin/settings/types/new",
    "/admin/settings/users",
)


@pytest.fixture
def admin(db: Session) -> User:
    return make_user(db, role="admin", email="boss@clinic.example")


@pytest.fixture
def signed_in_admin(browser: TestClient, admin: User) -> TestClient:
    sign_in(browser, admin.email)
    return browser


def post(
    client: TestClient, path: str, data: dict[str, str], *, page: str | None = None
) -> httpx.Response:
    token = csrf_of(client, page or path)
    return client.post(path, data={**data, "csrftoken": token})


def field_error(html: str, name: str) -> str:
    found = re.search(rf'id="error-{re.escape(name)}"><span[^>]*>Error:</span>\s*([^<]*)<', html)
    assert found, f"no error next to {name}"
    return found.group(1).strip()


def input_value(html: str, name: str) -> str:
    found = re.search(rf'name="{re.escape(name)}" type="[a-z]+"[^>]*? value="([^"]*)"', html)
    assert found, f"no input {name}"
    return found.group(1)


# --- Who may see them -----------------------------------------------------------------------


@pytest.mark.parametrize("role", ["front_desk", "provider"])
def test_other_roles_get_a_403_page_for_every_settings_page(
    browser: TestClient, db: Session, clinic: Clinic, role: str
) -> None:
    provider_id = make_provider(db, name="Dr Who").id if role == "provider" else None
    user = make_user(db, role=role, email=f"{role}@clinic.example", provider_id=provider_id)
    sign_in(browser, user.email)
    for path in (
        *SETTINGS_PAGES,
        f"/admin/settings/locations/{clinic.location_id}",
        f"/admin/settings/types/{clinic.infusion_id}",
        f"/admin/settings/users/{user.id}",
    ):
        refused = browser.get(path)
        assert refused.status_code == 403, path
        assert "not available to your role" in refused.text
        assert 'href="/admin/settings"' not in refused.text  # no Settings link either
    # A form posted anyway changes nothing.
    token = CSRF_INPUT.search(browser.get("/admin/settings").text)
    assert token
    refused = browser.post(
        f"/admin/settings/users/{user.id}",
        data={"csrftoken": token.group(1), "role": "admin", "full_name": "", "provider_id": ""},
    )
    assert refused.status_code == 403
    db.refresh(user)
    assert user.role == role


def test_admins_see_the_settings_link_and_pages(signed_in_admin: TestClient) -> None:
    home = signed_in_admin.get("/admin/today")
    assert 'href="/admin/settings"' in home.text
    for path in SETTINGS_PAGES:
        page = signed_in_admin.get(path)
        assert page.status_code == 200, path
        assert page.headers["cache-control"] == "no-store"


def test_signed_out_visitors_are_sent_to_sign_in(browser: TestClient) -> None:
    assert is_signed_out(browser.get("/admin/settings/users"))


# --- Locations and chairs -------------------------------------------------------------------


def test_create_a_location_then_add_rename_and_retire_a_chair(
    signed_in_admin: TestClient, db: Session
) -> None:
    client = signed_in_admin
    created = post(
        client,
        "/admin/settings/locations",
        {"name": "Uptown", "timezone": "America/Denver", "address": "1 Main St", "phone": "555"},
    )
    assert created.status_code == 303
    location = db.exec(select(Location).where(Location.name == "Uptown")).one()
    assert location.timezone == "America/Denver"
    page_path = f"/admin/settings/locations/{location.id}"
    assert created.headers["location"] == page_path
    assert "Location “Uptown” created." in client.get(page_path).text

    chairs = f"{page_path}/chairs"
    assert post(client, chairs, {"chair_name": "Chair A"}, page=page_path).status_code == 303
    chair = db.exec(select(Chair).where(Chair.location_id == location.id)).one()
    assert chair.name == "Chair A"
    assert chair.active

    duplicate = post(client, chairs, {"chair_name": "Chair A"}, page=page_path)
    assert duplicate.status_code == 409
    assert "already exists" in field_error(duplicate.text, "chair_name")

    renamed = post(client, f"{chairs}/{chair.id}", {"name": "Recliner 1"}, page=page_path)
    assert renamed.status_code == 303
    retired = post(client, f"{chairs}/{chair.id}", {"active": "0"}, page=page_path)
    assert retired.status_code == 303
    db.refresh(chair)
    assert (chair.name, chair.active) == ("Recliner 1", False)
    assert "Chair “Recliner 1” taken out of use." in client.get(page_path).text
    actions = db.exec(select(AuditEvent.action).where(AuditEvent.entity_type == "chair")).all()
    assert actions.count("chair.update") == 2

    empty = post(client, f"{chairs}/{chair.id}", {"name": " "}, page=page_path)
    assert empty.status_code == 422
    assert field_error(empty.text, f"chair-{chair.id}") == "Name: fill this in."


def test_a_location_form_with_errors_keeps_the_input(
    signed_in_admin: TestClient, db: Session, clinic: Clinic
) -> None:
    bad = post(
        signed_in_admin,
        "/admin/settings/locations",
        {"name": "", "timezone": "Mars/Olympus", "address": "2 Side St", "phone": "555-0100"},
    )
    html = bad.text
    assert bad.status_code == 422
    assert field_error(html, "name") == "Name: fill this in."
    assert field_error(html, "timezone").startswith("Time zone: ")
    assert input_value(html, "address") == "2 Side St"
    taken = post(
        signed_in_admin,
        "/admin/settings/locations",
        {"name": clinic.location.name, "timezone": "America/New_York", "address": "x"},
    )
    html = taken.text
    assert taken.status_code == 409
    assert "already exists" in field_error(html, "name")
    assert '<option value="America/New_York" selected>' in html
    count = len(db.exec(select(Location)).all())
    assert count == 1


def test_edit_a_location(signed_in_admin: TestClient, db: Session, clinic: Clinic) -> None:
    path = f"/admin/settings/locations/{clinic.location_id}"
    page = signed_in_admin.get(path)
    assert f'<option value="{clinic.location.timezone}" selected>' in page.text
    saved = post(
        signed_in_admin,
        path,
        {"name": "Midtown", "timezone": "America/Chicago", "address": "9 Elm", "phone": "1"},
    )
    assert saved.status_code == 303
    db.refresh(clinic.location)
    assert clinic.location.name == "Midtown"
    assert clinic.location.timezone == "America/Chicago"
    assert clinic.location.active is False  # the box was not ticked


# --- Appointment types ----------------------------------------------------------------------


def type_form(**overrides: str) -> dict[str, str]:
    form = {
        "name": "Iron infusion",
        "code": "iron",
        "description": "",
        "phase-0-minutes": "15",
        "phase-0-uses_chair": "1",
        "phase-0-provider_use": "hands_on",
        "phase-1-minutes": "45",
        "phase-1-uses_chair": "1",
        "phase-1-provider_use": "monitor",
        "phase-2-minutes": "",
        "phase-2-provider_use": "monitor",
        "phase-3-minutes": "20",
        "phase-3-uses_chair": "1",
        "phase-3-provider_use": "none",
        "turnover_minutes": "10",
        "slot_step_minutes": "15",
        "min_notice_minutes": "60",
        "max_days_ahead": "30",
        "patient_cancel_cutoff_minutes": "1440",
        "patient_reschedule_cutoff_minutes": "2880",
        "prerequisite-consent_signed": "1",
        "fasting_hours": "6",
        "clear_liquids_hours": "",
        "driver_required": "1",
        "patient_instructions": "Eat a light breakfast.",
        "self_schedulable": "1",
        "active": "1",
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def test_create_a_type_with_phases(signed_in_admin: TestClient, db: Session) -> None:
    created = post(
        signed_in_admin, "/admin/settings/types", type_form(), page="/admin/settings/types/new"
    )
    assert created.status_code == 303, created.text
    kind = db.exec(select(AppointmentType).where(AppointmentType.code == "iron")).one()
    assert kind.phases == [
        {"minutes": 15, "uses_chair": True, "provider_use": "hands_on"},
        {"minutes": 45, "uses_chair": True, "provider_use": "monitor"},
        {"minutes": 20, "uses_chair": True, "provider_use": "none"},
    ]
    assert kind.duration_minutes == 80
    assert kind.needs_chair
    assert kind.turnover_minutes == 10
    assert kind.prerequisites == ["consent_signed"]
    assert kind.fasting_hours == 6
    assert kind.clear_liquids_hours is None
    assert kind.driver_required
    assert kind.self_schedulable
    assert not kind.requires_approval
    listing = signed_in_admin.get("/admin/settings/types").text
    assert "Appointment type “Iron infusion” created." in listing
    assert "80 min in 3 phases" in listing


def test_a_type_error_is_shown_next_to_its_field_with_the_input_kept(
    signed_in_admin: TestClient, db: Session, clinic: Clinic
) -> None:
    path = f"/admin/settings/types/{clinic.infusion_id}"
    edit = signed_in_admin.get(path).text
    before = input_value(edit, "max_days_ahead")
    # Notice past the horizon: the service's rule, named by its field.
    bad = post(
        signed_in_admin,
        path,
        type_form(
            name="Renamed",
            code=clinic.infusion.code,
            min_notice_minutes="99999",
            max_days_ahead="5",
        ),
    )
    html = bad.text
    assert bad.status_code == 422
    assert "“Bookable up to (days ahead)”" in field_error(html, "min_notice_minutes")
    assert input_value(html, "min_notice_minutes") == "99999"
    assert input_value(html, "name") == "Renamed"
    assert input_value(html, "phase-3-minutes") == "20"
    db.refresh(clinic.infusion)
    assert clinic.infusion.name != "Renamed"
    assert str(clinic.infusion.max_days_ahead) == before
    # A schema error on a phase row, and a turnover on a visit without a chair.
    bad = post(signed_in_admin, path, type_form(**{"phase-3-minutes": "abc"}))
    assert field_error(bad.text, "phase-3-minutes") == "Phase 4 minutes: enter a whole number."
    no_chair = type_form(
        **{"phase-0-uses_chair": None, "phase-1-uses_chair": None, "phase-3-uses_chair": None}
    )  # type: ignore[arg-type]
    bad = post(signed_in_admin, path, no_chair)
    assert "chair cleaning buffer" in field_error(bad.text, "turnover_minutes")
    bad = post(
        signed_in_admin,
        path,
        type_form(**{"phase-0-minutes": "", "phase-1-minutes": "", "phase-3-minutes": ""}),
    )
    assert field_error(bad.text, "phases") == "Enter the minutes of at least one phase."
    taken = post(signed_in_admin, path, type_form(code="consult"))
    assert taken.status_code == 409
    assert "already exists" in field_error(taken.text, "code")


def test_edit_a_type_replaces_its_phases(
    signed_in_admin: TestClient, db: Session, clinic: Clinic
) -> None:
    path = f"/admin/settings/types/{clinic.infusion_id}"
    saved = post(
        signed_in_admin,
        path,
        type_form(code=clinic.infusion.code, **{"phase-1-minutes": "90", "phase-3-minutes": ""}),
    )
    assert saved.status_code == 303
    db.refresh(clinic.infusion)
    assert [p["minutes"] for p in clinic.infusion.phases] == [15, 90]
    assert clinic.infusion.duration_minutes == 105
    event = db.exec(select(AuditEvent).where(AuditEvent.action == "appointment_type.update")).one()
    assert event.entity_id == clinic.infusion_id


# --- Users ----------------------------------------------------------------------------------


@pytest.fixture
def second_browser(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(
        app, base_url="https://testserver", raise_server_exceptions=False, follow_redirects=False
    ) as client:
        yield client


PASSWORD = re.compile(r'<code id="temporary-password">([^<]+)</code>')


def test_create_a_user_who_signs_in_and_is_signed_out_when_disabled(
    signed_in_admin: TestClient, second_browser: TestClient, db: Session
) -> None:
    created = post(
        signed_in_admin,
        "/admin/settings/users",
        {
            "email": "New.Desk@Clinic.example",
            "full_name": "Nia Desk",
            "role": "front_desk",
            "provider_id": "",
        },
    )
    assert created.status_code == 200
    html = created.text
    found = PASSWORD.search(html)
    assert found
    password = found.group(1)
    assert "shown only this once" in html
    assert created.headers["cache-control"] == "no-store"
    user = db.exec(select(User).where(User.email == "new.desk@clinic.example")).one()
    assert user.role == "front_desk"
    assert password not in signed_in_admin.get(f"/admin/settings/users/{user.id}").text

    sign_in(second_browser, user.email, password)
    assert second_browser.get("/admin/today").status_code in (200, 404)
    disabled = post(
        signed_in_admin,
        f"/admin/settings/users/{user.id}/active",
        {"active": "0"},
        page=f"/admin/settings/users/{user.id}",
    )
    assert disabled.status_code == 303
    assert (
        "Nia Desk is disabled and signed out." in signed_in_admin.get("/admin/settings/users").text
    )
    assert is_signed_out(second_browser.get("/admin/today"))
    db.refresh(user)
    assert not user.active


def test_reset_a_password_shows_the_new_one_once_and_ends_sessions(
    signed_in_admin: TestClient, second_browser: TestClient, db: Session, clock: FrozenClock
) -> None:
    desk = make_user(db, role="front_desk", email="desk@clinic.example")
    sign_in(second_browser, desk.email)
    clock.advance(timedelta(minutes=1))
    page = f"/admin/settings/users/{desk.id}"
    reset = post(signed_in_admin, f"{page}/password", {}, page=page)
    found = PASSWORD.search(reset.text)
    assert found
    assert is_signed_out(second_browser.get("/admin/today"))
    second_browser.cookies.clear()
    sign_in(second_browser, desk.email, found.group(1))


def test_change_a_role_and_link_a_provider(signed_in_admin: TestClient, db: Session) -> None:
    desk = make_user(db, role="front_desk", email="desk@clinic.example")
    provider = make_provider(db, name="Dr Ada")
    page = f"/admin/settings/users/{desk.id}"
    missing = post(
        signed_in_admin, page, {"full_name": "Ada", "role": "provider", "provider_id": ""}
    )
    assert missing.status_code == 422
    assert "provider account" in field_error(missing.text, "provider_id")
    saved = post(
        signed_in_admin,
        page,
        {"full_name": "Ada", "role": "provider", "provider_id": str(provider.id)},
    )
    assert saved.status_code == 303
    db.refresh(desk)
    assert (desk.role, desk.provider_id, desk.full_name) == ("provider", provider.id, "Ada")


def test_the_last_admin_cannot_be_disabled_or_demoted(
    signed_in_admin: TestClient, admin: User, db: Session
) -> None:
    page = f"/admin/settings/users/{admin.id}"
    refused = post(signed_in_admin, f"{page}/active", {"active": "0"}, page=page)
    assert refused.status_code == 409
    assert "last active admin" in field_error(refused.text, "active")
    demoted = post(
        signed_in_admin, page, {"full_name": "", "role": "front_desk", "provider_id": ""}
    )
    assert demoted.status_code == 409
    assert "last active admin" in field_error(demoted.text, "role")
    db.refresh(admin)
    assert admin.active
    assert admin.role == "admin"
    assert signed_in_admin.get("/admin/settings").status_code == 200  # still signed in


def test_a_duplicate_or_malformed_e_mail_keeps_the_input(
    signed_in_admin: TestClient, admin: User
) -> None:
    taken = post(
        signed_in_admin,
        "/admin/settings/users",
        {"email": admin.email, "full_name": "Copy", "role": "admin", "provider_id": ""},
    )
    assert taken.status_code == 409
    assert "already exists" in field_error(taken.text, "email")
    assert input_value(taken.text, "full_name") == "Copy"
    bad = post(
        signed_in_admin,
        "/admin/settings/users",
        {"email": "not-an-address", "full_name": "X", "role": "admin", "provider_id": ""},
    )
    assert bad.status_code == 422
    assert "e-mail address" in field_error(bad.text, "email")


def test_an_id_beyond_the_id_columns_is_a_page_not_a_server_error(
    signed_in_admin: TestClient,
) -> None:
    for path in (
        "/admin/settings/locations/99999999999999999999",
        "/admin/settings/types/99999999999",
        "/admin/settings/users/4294967296",
    ):
        response = signed_in_admin.get(path)
        assert response.status_code == 400, path
        assert "text/html" in response.headers["content-type"]
    missing = signed_in_admin.get("/admin/settings/types/2147483647")
    assert missing.status_code == 404
    assert "does not exist" in missing.text


def test_a_type_with_more_phases_than_rows_keeps_them_all(
    signed_in_admin: TestClient, db: Session, clinic: Clinic
) -> None:
    phases = [{"minutes": 10 + i, "uses_chair": True, "provider_use": "monitor"} for i in range(8)]
    clinic.infusion.phases = phases
    clinic.infusion.duration_minutes = sum(p["minutes"] for p in phases)
    db.add(clinic.infusion)
    db.commit()
    path = f"/admin/settings/types/{clinic.infusion_id}"
    html = signed_in_admin.get(path).text
    assert input_value(html, "phase-7-minutes") == "17"
    assert input_value(html, "phase-8-minutes") == ""  # room for one more
    form = {"csrftoken": csrf_of(signed_in_admin, path), "name": "Long", "code": "long"}
    for name in ("turnover_minutes", "slot_step_minutes", "min_notice_minutes", "max_days_ahead"):
        form[name] = input_value(html, name)
    form["patient_cancel_cutoff_minutes"] = "0"
    form["patient_reschedule_cutoff_minutes"] = "0"
    for i, phase in enumerate(phases):
        form[f"phase-{i}-minutes"] = str(phase["minutes"])
        form[f"phase-{i}-uses_chair"] = "1"
        form[f"phase-{i}-provider_use"] = "monitor"
    saved = signed_in_admin.post(path, data=form)
    assert saved.status_code == 303, saved.text
    db.refresh(clinic.infusion)
    assert clinic.infusion.phases == phases
