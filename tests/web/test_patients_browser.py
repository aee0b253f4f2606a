"""The patient pages in headless Chromium against a live server with the demo clinic
(SQLite and PostgreSQL): create with a field error then fixed, search by each key (the
phone typed differently than stored), edit, record a flag and see who and when, merge a
probable duplicate and see its visit under the kept patient, a provider refused. Every page
checked with axe-core and photographed at 1280x800 and 768x1024."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

import httpx
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import create_engine, insert, select
from sqlmodel import col

from scheduler.models import Patient
from tests.web.browser import (
    DENVER,
    FROZEN_NOW,
    PASSWORD,
    Site,
    assert_accessible,
    assert_cards_on_a_phone,
    screenshot,
    sign_in,
)


def _nav_link(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients")


def _open_patients(page: Page, site: Site) -> None:
    sign_in(page, site)
    _nav_link(page).click()
    expect(page).to_have_url(site.url("/admin/patients"))
    expect(_nav_link(page)).to_have_attribute("aria-current", "page")


def _search(page: Page, words: str) -> None:
    page.get_by_label("Find a patient").fill(words)
    page.get_by_role("button", name="Search").click()
    page.wait_for_load_state()


def _fill_new_patient(page: Page, **values: str) -> None:
    form = page.locator("form.patient-form")
    labels = {
        "first_name": "First name",
        "last_name": "Last name",
        "date_of_birth": "Date of birth",
        "phone": "Phone",
        "email": "E-mail address",
    }
    for key, value in values.items():
        form.get_by_label(labels[key], exact=True).fill(value)


def test_create_with_an_error_then_find_by_each_key(page: Page, site: Site) -> None:
    _open_patients(page, site)
    assert_accessible(page)
    screenshot(page, "patients")
    _fill_new_patient(
        page,
        first_name="Marta",
        last_name="Lindqvist",
        date_of_birth="1962-07-04",
        phone="(303) 555-0142",
        email="marta.l@example",
    )
    page.get_by_role("button", name="Add the patient").click()
    email = page.locator("form.patient-form").get_by_label("E-mail address", exact=True)
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#error-email")).to_contain_text("Enter an e-mail address")
    expect(page.locator(".error-summary")).to_be_focused()
    expect(page.locator("#field-first_name")).to_have_value("Marta")
    expect(page.locator("#field-phone")).to_have_value("(303) 555-0142")
    assert_accessible(page)
    screenshot(page, "patients-new-error")
    email.fill("marta.l@example.org")
    page.get_by_role("button", name="Add the patient").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Marta Lindqvist")
    expect(page.get_by_role("status")).to_contain_text("Marta Lindqvist is added.")
    marta_url = page.url

    _nav_link(page).click()
    for words in ("lindqvist", "7/4/1962", "July 4 1962", "303.555.0142", "MARTA.L@example.org"):
        with page.expect_response(lambda r: r.url.endswith("/admin/patients/search")) as answer:
            _search(page, words)
        headers = answer.value.headers
        assert headers["cache-control"] == "no-store"
        assert headers["referrer-policy"] == "same-origin"
        assert page.url == site.url("/admin/patients/search")  # the words are not in the URL
        results = page.locator("table.patient-results tbody tr")
        expect(results).to_have_count(1)
        expect(results.first).to_contain_text("Lindqvist, Marta")
        expect(page.get_by_label("Find a patient")).to_have_value(words)
    expect(results.first.get_by_role("link", name="Book for Marta Lindqvist")).to_have_attribute(
        "href", marta_url.replace(site.url("/admin/patients/"), "/admin/book?patient_id=")
    )
    assert_accessible(page)
    screenshot(page, "patients-search-results")

    # Adding her again: the page points at the record on file instead.
    _fill_new_patient(page, first_name="Marta", last_name="Lindqvist", date_of_birth="1962-07-04")
    page.get_by_role("button", name="Add the patient").click()
    warning = page.locator("#similar")
    expect(warning).to_contain_text("This may be someone already on file")
    expect(warning.get_by_role("link", name="Marta Lindqvist")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "patients-new-similar")


def test_edit_and_record_a_flag_with_who_and_when(page: Page, site: Site) -> None:
    _open_patients(page, site)
    _search(page, "Avery Quinn")
    page.get_by_role("link", name="Quinn, Avery").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Avery Quinn")
    # Avery's consultation today at 11:00 is upcoming, with the zone and a link to it.
    upcoming = page.locator("table.visits").first
    expect(upcoming).to_contain_text("consultation")
    expect(upcoming).to_contain_text("11:00")
    expect(upcoming).to_contain_text("America/Denver (MST, UTC−7)")
    expect(upcoming.get_by_role("link").first).to_have_attribute(
        "href", re.compile(r"^/admin/bookings/\d+$")
    )

    details = page.locator("section.details")
    details.get_by_label("Phone").fill("720-555-0177")
    details.get_by_role("button", name="Save the details").click()
    expect(page.get_by_role("status")).to_contain_text("The details are saved.")
    expect(page.locator("section.details").get_by_label("Phone")).to_have_value("720-555-0177")

    consent = page.locator("li.flag", has_text="Consent signed")
    expect(consent).to_contain_text("Consent signed: no")
    consent.get_by_role("button", name="Record Consent signed").click()
    consent = page.locator("li.flag", has_text="Consent signed")
    expect(consent.locator(".field__error")).to_contain_text("Say why")
    expect(consent.get_by_label("Reason for recording: Consent signed")).to_have_attribute(
        "aria-invalid", "true"
    )
    assert_accessible(page)
    consent.get_by_label("Reason for recording: Consent signed").fill("Signed at the desk")
    consent.get_by_role("button", name="Record Consent signed").click()
    expect(page.get_by_role("status")).to_contain_text("Consent signed: recorded.")
    consent = page.locator("li.flag", has_text="Consent signed")
    expect(consent).to_contain_text("Consent signed: yes")
    local = FROZEN_NOW.astimezone(DENVER)
    when = f"{local:%b} {local.day}, {local:%Y at %H:%M}"
    expect(consent).to_contain_text(f"Recorded by Front Desk on {when}: “Signed at the desk”")
    assert_accessible(page)
    screenshot(page, "patient")
    # On a phone each visit is a card (when, then visit, place and status, each labelled).
    assert_cards_on_a_phone(page, "table.visits")


def _flag_a_duplicate_with_a_visit(site: Site) -> tuple[int, int, int]:
    """What an online booking leaves: a second record for Riley Santos, flagged, with a
    consultation tomorrow. Returns (kept id, duplicate id, booking id)."""
    engine = create_engine(site.database_url)
    try:
        with engine.begin() as conn:
            kept = conn.execute(
                select(col(Patient.id), col(Patient.date_of_birth)).where(
                    col(Patient.last_name) == "Santos", col(Patient.first_name) == "Riley"
                )
            ).one()
            duplicate_id = conn.execute(
                insert(Patient)
                .values(
                    first_name="Riley",
                    last_name="Santos",
                    date_of_birth=kept.date_of_birth,
                    email="riley.santos@example.org",
                    phone="+1 720 555 0199",
                    consult_completed=False,
                    consent_signed=False,
                    rems_enrolled=False,
                    notes="",
                    probable_duplicate_of_id=kept.id,
                    created_at=FROZEN_NOW - timedelta(days=1),
                    updated_at=FROZEN_NOW - timedelta(days=1),
                )
                .returning(col(Patient.id))
            ).scalar_one()
    finally:
        engine.dispose()
    headers = site.api_token()
    location = httpx.get(site.url("/api/v1/locations"), headers=headers).json()["items"][0]
    types = httpx.get(site.url("/api/v1/appointment-types"), headers=headers).json()["items"]
    consult = next(t for t in types if t["code"] == "consult")
    tomorrow = FROZEN_NOW.astimezone(DENVER).date() + timedelta(days=1)
    booked = httpx.post(
        site.url("/api/v1/bookings"),
        headers=headers,
        json={
            "patient_id": duplicate_id,
            "appointment_type_id": consult["id"],
            "location_id": location["id"],
            "start_at": datetime.combine(tomorrow, time(14, 0), DENVER).isoformat(),
        },
    )
    assert booked.status_code == 201, booked.text
    assert duplicate_id is not None
    return int(kept.id), int(duplicate_id), int(booked.json()["id"])


def test_merge_a_probable_duplicate(page: Page, site: Site) -> None:
    kept_id, duplicate_id, booking_id = _flag_a_duplicate_with_a_visit(site)
    _open_patients(page, site)
    page.get_by_role("link", name="Probable duplicates from online booking").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Probable duplicates")
    assert_accessible(page)
    screenshot(page, "patients-duplicates")
    page.get_by_role("link", name=f"Review record {duplicate_id}").click()
    expect(page).to_have_url(site.url(f"/admin/patients/{duplicate_id}"))
    compare = page.locator("table.compare")
    expect(compare).to_contain_text("+1 720 555 0199")
    expect(compare.locator("tr", has_text="Phone")).to_contain_text("(differs)")
    assert_accessible(page)
    screenshot(page, "patient-duplicate")

    page.get_by_role("link", name=f"Merge into record {kept_id}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Merge record {duplicate_id} into record {kept_id}?"
    )
    expect(page.locator(".merge-summary")).to_contain_text("1 visit (1 upcoming")
    assert_accessible(page)
    screenshot(page, "patient-merge-confirm")
    page.get_by_role("button", name=f"Merge record {duplicate_id} into record {kept_id}").click()

    expect(page).to_have_url(site.url(f"/admin/patients/{kept_id}"))
    expect(page.get_by_role("status")).to_contain_text(f"Record {duplicate_id} is merged")
    # The moved visit is among the kept record's visits (its messages link it too, below).
    visit = page.locator("#visits").locator(f'a[href="/admin/bookings/{booking_id}"]')
    expect(visit).to_be_visible()
    expect(page.locator("table.visits").first).to_contain_text("consultation")
    page.goto(site.url(f"/admin/patients/{duplicate_id}"))
    expect(page.get_by_role("note")).to_contain_text("This record was merged into")
    page.goto(site.url("/admin/patients/duplicates"))
    expect(page.get_by_text("No probable duplicates to review.")).to_be_visible()


def test_a_provider_is_refused(page: Page, site: Site) -> None:
    sign_in(page, site, email=site.provider_login(), password=PASSWORD)
    expect(_nav_link(page)).to_have_count(0)
    response = page.goto(site.url("/admin/patients"))
    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Not available")
    assert_accessible(page)
    screenshot(page, "patients-provider-refused")
