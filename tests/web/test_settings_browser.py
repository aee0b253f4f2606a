"""The admin's settings pages in headless Chromium against a live server (SQLite and
PostgreSQL): a new location with a chair, a new appointment type with phases offered by the
slot search, an invalid edit shown next to its field, a new user who signs in and is signed
out when disabled, the last admin kept, and the other roles refused. Every page is checked
with axe-core and photographed at 1280x800 and 768x1024.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.web.browser import (
    ADMIN,
    DENVER,
    DESK,
    FROZEN_NOW,
    PHONE,
    Site,
    assert_accessible,
    assert_cards_on_a_phone,
    page_overflow,
    screenshot,
    sign_in,
    table_overflow,
)

# The sizes a layout defect was seen at: a desktop, a tablet (iPad Air, upright), a phone.
LAYOUT_SIZES = ((1280, 800), (820, 1180), PHONE)


def open_settings(page: Page, site: Site) -> None:
    sign_in(page, site, ADMIN)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Settings")


def test_a_new_location_with_a_chair(page: Page, site: Site) -> None:
    open_settings(page, site)
    assert_accessible(page)
    screenshot(page, "settings")
    page.get_by_role("link", name="Locations and chairs").first.click()
    page.get_by_label("Name", exact=True).fill("Lakeside")
    page.get_by_label("Time zone").select_option("America/Denver")
    page.get_by_label("Address").fill("12 Shore Road, Boulder")
    page.get_by_label("Phone").fill("303-555-0199")
    page.get_by_role("button", name="Create location").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Lakeside")
    expect(page.get_by_role("status")).to_contain_text("Location “Lakeside” created.")
    expect(page.get_by_label("Time zone")).to_have_value("America/Denver")
    page.get_by_label("New chair's name").fill("Lake chair 1")
    page.get_by_role("button", name="Add chair").click()
    expect(page.get_by_role("status")).to_contain_text("Chair “Lake chair 1” added.")
    expect(page.get_by_label("Name of chair Lake chair 1")).to_have_value("Lake chair 1")
    # The same name again: refused next to the field, the input kept.
    page.get_by_label("New chair's name").fill("Lake chair 1")
    page.get_by_role("button", name="Add chair").click()
    expect(page.locator("#error-chair_name")).to_contain_text("already exists")
    expect(page.get_by_label("New chair's name")).to_have_value("Lake chair 1")
    expect(page.locator(".error-summary")).to_be_focused()
    assert_accessible(page)
    screenshot(page, "settings-location")
    page.get_by_role("link", name="Locations and chairs").first.click()
    expect(page.get_by_role("row", name="Lakeside")).to_contain_text("America/Denver")
    assert_accessible(page)
    screenshot(page, "settings-locations")
    headers = site.api_token()
    locations = httpx.get(site.url("/api/v1/locations"), headers=headers).json()["items"]
    lakeside = next(loc for loc in locations if loc["name"] == "Lakeside")
    chairs = httpx.get(
        site.url(f"/api/v1/locations/{lakeside['id']}/chairs"), headers=headers
    ).json()["items"]
    assert [c["name"] for c in chairs] == ["Lake chair 1"]


def fill_phase(page: Page, row: int, minutes: str, *, chair: bool, use: str) -> None:
    page.get_by_label(f"Phase {row}: minutes").fill(minutes)
    box = page.get_by_label(f"Phase {row} uses the chair")
    if chair:
        box.check()
    else:
        box.uncheck()
    page.get_by_label(f"Phase {row}: how it uses the provider").select_option(use)


def test_a_new_type_with_phases_is_offered_by_the_slot_search(page: Page, site: Site) -> None:
    open_settings(page, site)
    page.get_by_role("link", name="Appointment types").first.click()
    page.get_by_role("link", name="New appointment type").click()
    assert_accessible(page)
    screenshot(page, "settings-type-new")
    # The prerequisites' tick boxes stand in the form like its other tick boxes, not in a box
    # drawn tight around them (their left edges touched its border).
    prerequisites = page.locator("ul.checks")
    assert prerequisites.evaluate("u => getComputedStyle(u).borderLeftStyle") == "none"
    page.get_by_label("Name", exact=True).fill("Iron infusion")
    page.get_by_label("Code", exact=True).fill("iron-infusion")
    fill_phase(page, 1, "15", chair=True, use="hands_on")
    fill_phase(page, 2, "45", chair=True, use="monitor")
    fill_phase(page, 3, "30", chair=True, use="none")
    page.get_by_label("Chair turnover (minutes)").fill("10")
    page.get_by_label("Minimum notice (minutes)").fill("60")
    page.get_by_label("Consent signed").check()
    page.get_by_label("The patient needs a driver home").check()
    page.get_by_label("Instructions for the patient").fill("Eat a light breakfast.")
    page.get_by_role("button", name="Create appointment type").click()
    expect(page.get_by_role("status")).to_contain_text("Appointment type “Iron infusion” created.")
    row = page.get_by_role("row", name="Iron infusion")
    expect(row).to_contain_text("90 min in 3 phases")
    expect(row).to_contain_text("+ 10 min turnover")
    assert_accessible(page)
    screenshot(page, "settings-types")

    # A provider of the demo clinic takes the new type (the providers' settings are not
    # these pages); the slot search then offers it, each slot with a chair.
    headers = site.api_token()
    types = httpx.get(site.url("/api/v1/appointment-types"), headers=headers).json()["items"]
    iron = next(t for t in types if t["code"] == "iron-infusion")
    assert [p["minutes"] for p in iron["phases"]] == [15, 45, 30]
    location = httpx.get(site.url("/api/v1/locations"), headers=headers).json()["items"][0]
    providers = httpx.get(
        site.url("/api/v1/providers"), params={"location_id": location["id"]}, headers=headers
    ).json()["items"]
    provider = providers[0]
    linked = httpx.patch(
        site.url(f"/api/v1/providers/{provider['id']}"),
        json={"appointment_type_ids": [*provider["appointment_type_ids"], iron["id"]]},
        headers=headers,
    )
    assert linked.status_code == 200, linked.text
    tomorrow = FROZEN_NOW.astimezone(DENVER).date() + timedelta(days=1)
    start = datetime.combine(tomorrow, time(0, 0), DENVER)
    slots = httpx.get(
        site.url("/api/v1/slots"),
        params={
            "appointment_type": iron["id"],
            "location": location["id"],
            "start": start.isoformat(),
            "end": (start + timedelta(days=1)).isoformat(),
        },
        headers=headers,
    )
    assert slots.status_code == 200, slots.text
    items = slots.json()["items"]
    assert items, "the new type is offered"
    first = items[0]
    assert first["chair"] is not None
    begins = datetime.fromisoformat(first["start_at"])
    ends = datetime.fromisoformat(first["end_at"])
    assert ends - begins == timedelta(minutes=90)


def _assert_phase_editor_fits(page: Page) -> None:
    """At each of ``LAYOUT_SIZES`` the phase editor reads without scrolling sideways in its
    frame: a table of one row per phase on a desktop or a tablet, stacked fields on a phone."""
    for width, height in LAYOUT_SIZES:
        page.set_viewport_size({"width": width, "height": height})
        assert page_overflow(page) <= 0, width
        assert table_overflow(page, ".phase-table") <= 0, f"the phases scroll sideways at {width}px"
        cells = page.locator(".phase-table tbody tr").first.locator(":scope > *").all()
        tops = {round((cell.bounding_box() or {"y": -1})["y"]) for cell in cells}
        if (width, height) == PHONE:
            assert_cards_on_a_phone(page, ".phase-table")
            minutes = page.get_by_label("Phase 1: minutes").bounding_box()
            use = page.get_by_label("Phase 1: how it uses the provider").bounding_box()
            assert minutes is not None
            assert use is not None
            assert minutes["y"] + minutes["height"] <= use["y"], "the provider not under minutes"
            assert use["x"] + use["width"] <= width
        else:
            assert len(tops) == 1, f"a phase's fields are not side by side at {width}px: {tops}"
        assert_accessible(page)
    page.set_viewport_size({"width": 1280, "height": 800})


def test_the_phase_editor_fits_a_desktop_a_tablet_and_a_phone(page: Page, site: Site) -> None:
    open_settings(page, site)
    page.get_by_role("link", name="Appointment types").first.click()
    page.get_by_role("link", name="New appointment type").click()
    _assert_phase_editor_fits(page)
    # With an error written in a phase's cell, the widest the editor gets.
    page.get_by_label("Name", exact=True).fill("Iron infusion")
    page.get_by_label("Code", exact=True).fill("iron-infusion-2")
    page.get_by_label("Phase 1: minutes").fill("ten")
    page.get_by_role("button", name="Create appointment type").click()
    expect(page.locator("#error-phase-0-minutes")).to_contain_text("enter a whole number")
    _assert_phase_editor_fits(page)


def test_an_invalid_edit_is_shown_next_to_its_field_with_the_input_kept(
    page: Page, site: Site
) -> None:
    open_settings(page, site)
    page.get_by_role("link", name="Appointment types").first.click()
    page.get_by_role("link", name="Edit", exact=False).first.click()
    name = page.get_by_label("Name", exact=True).input_value()
    page.get_by_label("Name", exact=True).fill(f"{name} (changed)")
    page.get_by_label("Minimum notice (minutes)").fill("99999")
    page.get_by_label("Bookable up to (days ahead)").fill("5")
    page.get_by_label("Phase 1: minutes").fill("ten")
    page.get_by_role("button", name="Save appointment type").click()
    expect(page.locator(".error-summary")).to_be_focused()
    expect(page.locator("#error-phase-0-minutes")).to_contain_text(
        "Phase 1 minutes: enter a whole number."
    )
    expect(page.get_by_label("Phase 1: minutes")).to_have_value("ten")
    expect(page.get_by_label("Phase 1: minutes")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Name", exact=True)).to_have_value(f"{name} (changed)")
    assert_accessible(page)
    screenshot(page, "settings-type-error")
    # The schema is satisfied; the service's rule (notice past the horizon) is named next.
    page.get_by_label("Phase 1: minutes").fill("10")
    page.get_by_role("button", name="Save appointment type").click()
    expect(page.locator("#error-min_notice_minutes")).to_contain_text(
        "“Bookable up to (days ahead)”"
    )
    expect(page.get_by_label("Minimum notice (minutes)")).to_have_value("99999")
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("row", name=f"{name} (changed)")).to_have_count(0)


def test_a_new_user_signs_in_and_is_signed_out_when_disabled(
    page: Page, site: Site, chromium: Browser
) -> None:
    open_settings(page, site)
    page.get_by_role("link", name="Users").first.click()
    assert_accessible(page)
    page.get_by_label("E-mail address").fill("nia@demo.clinic")
    page.get_by_label("Full name").fill("Nia Reception")
    page.get_by_label("Role").select_option("front_desk")
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Account created")
    password = page.locator("#temporary-password").inner_text()
    assert len(password) >= 16
    assert_accessible(page)
    screenshot(page, "settings-user-created")

    other = chromium.new_context(viewport={"width": 1280, "height": 800})
    try:
        nia = other.new_page()
        sign_in(nia, site, "nia@demo.clinic", password)
        expect(nia).to_have_url(site.url("/admin/"))
        expect(nia.get_by_role("banner")).to_contain_text("Nia Reception")
        expect(nia.get_by_role("link", name="Settings")).to_have_count(0)

        page.get_by_role("link", name="Done").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Nia Reception")
        assert_accessible(page)
        screenshot(page, "settings-user")
        page.get_by_role("button", name="Disable user").click()
        expect(page.get_by_role("status")).to_contain_text("Nia Reception is disabled")
        expect(page.get_by_role("row", name="Nia Reception")).to_contain_text("Disabled")
        assert_accessible(page)
        screenshot(page, "settings-users")

        nia.reload()
        expect(nia.get_by_role("heading", level=1)).to_have_text("Sign in")
        assert nia.url.startswith(site.url("/admin/login"))
    finally:
        other.close()


def test_the_last_admin_is_kept_with_a_clear_message(page: Page, site: Site) -> None:
    open_settings(page, site)
    page.get_by_role("link", name="Users").first.click()
    page.get_by_role("row", name=ADMIN).get_by_role("link").click()
    page.get_by_role("button", name="Disable user").click()
    expect(page.locator("#error-active")).to_contain_text(
        "This is the clinic's last active admin: make another user an admin first."
    )
    expect(page.get_by_role("button", name="Disable user")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "settings-last-admin")
    page.get_by_label("Role").select_option("front_desk")
    page.get_by_role("button", name="Save account").click()
    expect(page.locator("#error-role")).to_contain_text("last active admin")
    expect(page.get_by_label("Role")).to_have_value("front_desk")  # the choice kept
    page.goto(site.url("/admin/settings"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Settings")  # still an admin


def test_front_desk_and_providers_get_a_403_page(page: Page, site: Site) -> None:
    for email in (DESK, site.provider_login()):
        page.context.clear_cookies()
        sign_in(page, site, email)
        expect(page.get_by_role("link", name="Settings")).to_have_count(0)
        for path in ("/admin/settings", "/admin/settings/types/new", "/admin/settings/users"):
            response = page.goto(site.url(path))
            assert response is not None
            assert response.status == 403, path
            expect(page.get_by_role("heading", level=1)).to_have_text("Not available")
    assert_accessible(page)
