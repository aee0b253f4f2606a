"""The front desk books a 6-visit induction in headless Chromium against a live server (the
demo clinic, Boulder; the server's clock Tuesday 10 November 2026 09:10), sees it on the
patient's page with its progress, and cancels the rest; once a course is done, books a
proposed booster in the series; axe-core on every step, screenshots at 1280x800 and 390x844."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, text

from tests.web.browser import (
    ADMIN,
    DENVER,
    DESK,
    FROZEN_NOW,
    PHONE,
    Site,
    assert_accessible,
    screenshot,
    sign_in,
)

TODAY = FROZEN_NOW.astimezone(DENVER).date()  # Tuesday 10 November 2026
SIZES = ((1280, 800), (768, 1024), PHONE)


def _induction(site: Site, name: str = "Ketamine induction") -> None:
    """An admin's 6-visit induction template on the demo's ketamine infusion."""
    headers = site.api_token(ADMIN)
    types = httpx.get(site.url("/api/v1/appointment-types"), headers=headers).json()["items"]
    infusion = next(t for t in types if t["code"] == "ketamine-infusion")
    created = httpx.post(
        site.url(f"/api/v1/appointment-types/{infusion['id']}/series-templates"),
        json={
            "name": name,
            "visit_count": 6,
            "window_days": 21,
            "min_gap_hours": 48,
            "max_gap_hours": 120,
            "max_per_week": 3,
            "booster_interval_days": 28,
            "prefer_same_time": True,
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text


def test_book_an_induction_see_it_on_the_patient_page_and_cancel_the_rest(
    page: Page, site: Site
) -> None:
    _induction(site)
    first_day = TODAY + timedelta(days=1)
    sign_in(page, site)
    page.get_by_role("link", name="Book", exact=True).click()
    page.get_by_label("Find a patient").fill("blake")
    page.get_by_role("button", name="Find", exact=True).click()
    page.get_by_role("link", name="Jordan Blake").click()
    page.get_by_role("link", name="Book a series instead").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Book a series")
    page.get_by_label("Series", exact=True).select_option(
        label="Ketamine induction (Ketamine infusion)"
    )
    page.get_by_label("First day").fill(first_day.isoformat())
    page.get_by_label("Not before (optional)").fill("10:00")
    page.get_by_role("button", name="Show the placement").click()
    visits = page.locator("table.series-visits tbody tr")
    expect(visits).to_have_count(6)
    expect(visits.first).to_contain_text(first_day.strftime("%a %-d %b %Y"))
    expect(page.get_by_role("button", name="Book all 6 visits")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "series-1-preview", SIZES)
    page.get_by_role("button", name="Book all 6 visits").click()
    expect(page).to_have_url(re.compile(r"/admin/series/\d+$"))
    expect(page.locator(".flash")).to_contain_text("Booked all 6 visits of Ketamine induction")
    expect(page.locator(".series-progress")).to_contain_text("0 of 6 done")
    expect(page.locator("table.series-visits tbody tr")).to_have_count(6)
    assert_accessible(page)
    screenshot(page, "series-2-booked", SIZES)
    series_url = page.url
    # The patient's page lists it with its progress.
    page.get_by_role("link", name="Jordan Blake").click()
    series = page.locator(".series-list li")
    expect(series).to_have_count(1)
    expect(series).to_contain_text("0 of 6 done · 6 to come")
    assert_accessible(page)
    screenshot(page, "series-3-patient", SIZES)
    series.get_by_role("link", name="Ketamine induction").click()
    expect(page).to_have_url(series_url)
    # A move that breaks the spacing is refused next to the field, nothing moved.
    page.locator("summary", has_text="Move visit 2").click()
    second = TODAY + timedelta(days=2)
    page.get_by_label("New date").nth(1).fill(second.isoformat())
    page.get_by_role("button", name="Move visit 2").click()
    expect(page.locator("[id^=error-move-]")).to_contain_text("less than 48 h")
    expect(page.locator("table.series-visits tbody tr").nth(1)).to_contain_text("Fri 13 Nov")
    assert_accessible(page)
    screenshot(page, "series-3b-move-refused", SIZES)
    # Cancelling needs a reason, given next to the field.
    page.get_by_role("button", name="Cancel the rest of the series").click()
    expect(page.locator("#error-cancel_reason")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Reason", exact=True).fill("Patient moving away")
    page.get_by_label("Asked by").select_option(label="The patient")
    page.get_by_role("button", name="Cancel the rest of the series").click()
    expect(page.locator(".flash")).to_contain_text("6 visits cancelled")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Cancelled")
    expect(page.locator("table.series-visits .badge--cancelled")).to_have_count(6)
    assert_accessible(page)
    screenshot(page, "series-4-cancelled", SIZES)


def test_an_admin_adds_a_series_template_under_settings(page: Page, site: Site) -> None:
    sign_in(page, site, ADMIN)
    page.goto(site.url("/admin/settings/types"))
    page.get_by_role("link", name="Series of Ketamine infusion").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Series of Ketamine infusion")
    page.get_by_label("Name").fill("Short course")
    page.get_by_label("Visits").fill("3")
    page.get_by_label("Least gap (hours)").fill("48")
    page.get_by_label("Most gap (hours)").fill("24")
    page.get_by_role("button", name="Create the series template").click()
    expect(page.locator("#error-max_gap_hours")).to_be_visible()
    expect(page.get_by_label("Name")).to_have_value("Short course")
    assert_accessible(page)
    screenshot(page, "series-settings-error", SIZES)
    page.get_by_label("Most gap (hours)").fill("96")
    page.get_by_role("button", name="Create the series template").click()
    expect(page.locator(".flash")).to_contain_text("Series template “Short course” created.")
    expect(page.get_by_role("link", name="Short course")).to_be_visible()
    assert_accessible(page)


def test_no_placement_is_explained_and_an_alternative_is_one_click_away(
    page: Page, site: Site
) -> None:
    _induction(site, "Early course")
    sign_in(page, site)
    page.goto(site.url("/admin/book"))
    page.get_by_label("Find a patient").fill("blake")
    page.get_by_role("button", name="Find", exact=True).click()
    page.get_by_role("link", name="Jordan Blake").click()
    page.get_by_role("link", name="Book a series instead").click()
    page.get_by_label("Series", exact=True).select_option(label="Early course (Ketamine infusion)")
    page.get_by_label("First day").fill((TODAY + timedelta(days=7)).isoformat())
    page.get_by_label("Not after (optional)").fill("06:00")  # before the clinic opens
    page.get_by_role("button", name="Show the placement").click()
    expect(page.locator("#no-placement")).to_contain_text("Visit 1 cannot be placed")
    expect(page.get_by_role("button", name=re.compile("Book all"))).to_have_count(0)
    assert_accessible(page)
    screenshot(page, "series-no-placement", SIZES)
    page.get_by_role("link", name="Any time of day").click()
    expect(page.get_by_role("button", name="Book all 6 visits")).to_be_visible()


def _finished_course(
    site: Site, template_name: str, person: tuple[str, str], **extra: object
) -> int:
    """A series of the template for the demo patient, booked through the API and attended."""
    _induction(site, template_name)
    headers = site.api_token(DESK)
    templates = httpx.get(site.url("/api/v1/series-templates"), headers=headers).json()["items"]
    template = next(t for t in templates if t["name"] == template_name)
    patients = httpx.get(site.url("/api/v1/patients"), headers=headers).json()["items"]
    patient = next(p for p in patients if (p["first_name"], p["last_name"]) == person)
    location = httpx.get(site.url("/api/v1/locations"), headers=headers).json()["items"][0]
    booked = httpx.post(
        site.url("/api/v1/series"),
        json={
            "patient_id": patient["id"],
            "template_id": template["id"],
            "location_id": location["id"],
            "first_day": (TODAY + timedelta(days=1)).isoformat(),
            **extra,
        },
        headers=headers,
    )
    assert booked.status_code == 201, booked.text
    series_id: int = booked.json()["id"]
    engine = create_engine(site.database_url)
    try:
        with engine.begin() as conn:  # the course attended
            conn.execute(
                text("UPDATE booking SET status = 'fulfilled' WHERE series_id = :s"),
                {"s": series_id},
            )
    finally:
        engine.dispose()
    return series_id


def test_a_booster_booked_from_the_series_page_joins_the_series(page: Page, site: Site) -> None:
    series_id = _finished_course(site, "Booster course", ("Riley", "Santos"))
    sign_in(page, site)
    page.goto(site.url(f"/admin/series/{series_id}"))
    expect(page.locator(".series-progress")).to_contain_text("6 of 6 done")
    book = page.get_by_role("button", name=re.compile("^Book the booster on"))
    expect(book.first).to_be_visible()
    assert_accessible(page)
    screenshot(page, "series-5-boosters", SIZES)
    # On a phone the caption takes the table's width, on one line, not a column of words.
    page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
    caption = page.locator("table.series-visits caption", has_text="Proposed booster times")
    caption_box = caption.bounding_box()
    table_box = caption.locator("xpath=..").bounding_box()
    assert caption_box is not None
    assert table_box is not None
    assert caption_box["width"] >= table_box["width"] - 2, (caption_box, table_box)
    assert caption_box["height"] < 2 * 20, caption_box  # one line of text
    page.set_viewport_size({"width": 1280, "height": 800})
    book.first.click()
    expect(page.locator(".flash")).to_contain_text("Booked the booster on")
    expect(page.locator(".series-progress")).to_contain_text("6 of 7 done")
    expect(page.locator("table.series-visits tbody tr")).to_have_count(7)
    expect(page.get_by_role("button", name=re.compile("^Book the booster on"))).to_have_count(0)
    assert_accessible(page)
    screenshot(page, "series-6-booster-booked", SIZES)


def test_a_booster_for_a_patient_missing_a_gate_is_booked_with_a_reason(
    page: Page, site: Site
) -> None:
    """Avery has no consultation or consent on file: the course was booked with the staff
    override, and so is the booster, with the reason asked next to the times."""
    series_id = _finished_course(
        site,
        "Override course",
        ("Avery", "Quinn"),
        override={"reason": "consent on paper, scan to follow"},
    )
    sign_in(page, site)
    page.goto(site.url(f"/admin/series/{series_id}"))
    expect(page.locator(".gates")).to_contain_text("Treatment consent signed: no")
    book = page.get_by_role("button", name=re.compile("^Book the booster on .* anyway$"))
    book.first.click()  # no reason: the browser's own check stops it (required)
    expect(page.locator(".flash")).to_have_count(0)
    page.get_by_label("Reason for booking anyway").fill("ok")
    book.first.click()
    expect(page.locator("#error-override_reason")).to_contain_text("give the reason")
    expect(page.get_by_label("Reason for booking anyway")).to_have_value("ok")
    assert_accessible(page)
    screenshot(page, "series-7-booster-override-error", SIZES)
    page.get_by_label("Reason for booking anyway").fill("Consent signed on paper today")
    page.get_by_role("button", name=re.compile("^Book the booster on .* anyway$")).first.click()
    expect(page.locator(".flash")).to_contain_text("Booked the booster on")
    booster = page.locator("table.series-visits tbody tr").last.get_by_role("link").first
    booster.click()
    expect(page.get_by_text("Consent signed on paper today").first).to_be_visible()
    assert_accessible(page)


def test_the_series_form_finds_its_patient_without_an_id(page: Page, site: Site) -> None:
    _induction(site, "Picker course")
    sign_in(page, site)
    page.goto(site.url("/admin/series/new"))
    page.get_by_label("Find a patient").fill("riley")
    page.get_by_role("button", name="Find").click()
    found = page.get_by_role("list", name="Patients found")
    expect(found).to_contain_text("Riley Santos")
    assert_accessible(page)
    screenshot(page, "series-0-patient-search", SIZES)
    found.get_by_role("link", name="Riley Santos").click()
    expect(page.locator(".chosen")).to_contain_text("Riley Santos")
    assert "riley" not in page.url.lower()  # the search words are not in an address
