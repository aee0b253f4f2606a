"""The staff web app in headless Chromium against a live server (SQLite and PostgreSQL):
signing in and out, refusals, security headers; every page checked with axe-core and
photographed at 1280x800 and 768x1024."""

from __future__ import annotations

from datetime import timedelta

import httpx
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import create_engine, update
from sqlmodel import col

from scheduler.models import WebSession
from scheduler.web.router import SIGN_IN_FAILED
from tests.web.browser import (
    DESK,
    FROZEN_NOW,
    PASSWORD,
    PHONE,
    Site,
    assert_accessible,
    screenshot,
    sign_in,
    small_tap_targets,
)


def test_sign_in_opens_the_start_page(page: Page, site: Site) -> None:
    page.goto(site.url("/admin/"))
    expect(page).to_have_url(site.url("/admin/login"))
    assert_accessible(page)
    screenshot(page, "login")
    sign_in(page, site)
    expect(page).to_have_url(site.url("/admin/"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Front Range Infusion Clinic")
    expect(page.get_by_role("banner")).to_contain_text("front desk")
    expect(page.get_by_role("link", name="Day board")).to_have_attribute("aria-current", "page")
    assert_accessible(page)
    screenshot(page, "home")


def test_on_a_phone_every_control_is_big_enough_to_tap(page: Page, site: Site) -> None:
    page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
    sign_in(page, site)
    booking = page.locator(".block[data-booking]").first.get_attribute("href")
    assert booking is not None
    for path in (
        "/admin/",
        "/admin/week",
        "/admin/today",
        "/admin/book",
        booking,
        f"{booking}/reschedule",
        "/admin/patients",
        "/admin/waitlist",
        "/admin/availability",
        "/admin/feeds",
    ):
        page.goto(site.url(path))
        assert page.get_by_role("heading", level=1).is_visible(), path
        assert not small_tap_targets(page), f"{path}: {small_tap_targets(page)}"


def test_wrong_password_shows_the_generic_error_and_keeps_the_email(page: Page, site: Site) -> None:
    sign_in(page, site, password="not the password")
    expect(page).to_have_url(site.url("/admin/login"))
    expect(page.get_by_role("alert")).to_contain_text(SIGN_IN_FAILED)
    expect(page.get_by_label("E-mail address")).to_have_value(DESK)
    expect(page.get_by_label("Password")).to_have_value("")
    assert_accessible(page)
    screenshot(page, "login-error")


def test_empty_fields_are_named_next_to_the_fields(page: Page, site: Site) -> None:
    page.goto(site.url("/admin/login"))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label("E-mail address")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#error-email")).to_contain_text("Enter your e-mail address")
    expect(page.locator(".error-summary")).to_be_focused()
    page.get_by_role("link", name="Enter your password.").click()
    expect(page.get_by_label("Password")).to_be_focused()
    assert_accessible(page)


def test_a_form_without_its_csrf_token_is_refused(page: Page, site: Site) -> None:
    page.goto(site.url("/admin/login"))
    page.evaluate("() => document.querySelector('input[name=csrftoken]').remove()")
    page.get_by_label("E-mail address").fill(DESK)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("This form could not be accepted")
    page.goto(site.url("/admin/"))
    expect(page).to_have_url(site.url("/admin/login"))  # not signed in


def test_sign_out_ends_the_session_and_its_cookie_is_refused_after(
    page: Page, context: BrowserContext, chromium: Browser, site: Site
) -> None:
    sign_in(page, site)
    cookies = context.cookies()
    assert any(c["name"] == "scheduler_session" and c["httpOnly"] for c in cookies)
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(site.url("/admin/login?signed_out=1"))
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    # A copy of the old cookie (taken before signing out) no longer signs anyone in.
    other = chromium.new_context()
    try:
        other.add_cookies(cookies)
        copy = other.new_page()
        copy.goto(site.url("/admin/"))
        expect(copy).to_have_url(site.url("/admin/login"))
    finally:
        other.close()


def test_a_session_idle_for_thirty_minutes_ends(page: Page, site: Site) -> None:
    sign_in(page, site)
    expect(page).to_have_url(site.url("/admin/"))
    # The server's clock stands still: age the session's last use instead of waiting.
    engine = create_engine(site.database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                update(WebSession)
                .where(col(WebSession.ended_at).is_(None))
                .values(last_seen_at=FROZEN_NOW - timedelta(minutes=31))
            )
    finally:
        engine.dispose()
    page.goto(site.url("/admin/"))
    expect(page).to_have_url(site.url("/admin/login"))


def test_a_disabled_user_is_signed_out_at_the_next_click(page: Page, site: Site) -> None:
    admin = site.api_token()
    created = httpx.post(
        site.url("/api/v1/users"),
        headers=admin,
        json={
            "email": "temp.desk@demo.clinic",
            "password": PASSWORD,
            "role": "front_desk",
            "full_name": "Temp Desk",
        },
    )
    assert created.status_code == 201, created.text
    sign_in(page, site, email="temp.desk@demo.clinic")
    expect(page).to_have_url(site.url("/admin/"))
    disabled = httpx.patch(
        site.url(f"/api/v1/users/{created.json()['id']}"), headers=admin, json={"active": False}
    )
    assert disabled.status_code == 200, disabled.text
    page.reload()
    expect(page).to_have_url(site.url("/admin/login"))


def test_a_provider_is_refused_a_front_desk_page(page: Page, site: Site) -> None:
    sign_in(page, site, email=site.provider_login())
    expect(page).to_have_url(site.url("/admin/my-schedule"))
    expect(page.get_by_role("link", name="Day board")).to_have_count(0)
    assert_accessible(page)
    screenshot(page, "provider-home")
    response = page.goto(site.url("/admin/"))
    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Not available")
    assert_accessible(page)
    screenshot(page, "forbidden")


def test_pages_send_the_security_headers(page: Page, site: Site) -> None:
    response = page.goto(site.url("/admin/login"))
    assert response is not None
    headers = response.headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "'unsafe-inline'" not in headers["content-security-policy"].split("script-src")[1][:30]
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-store"
    # The page's own stylesheet and script load under that policy.
    assert page.evaluate("() => getComputedStyle(document.body).margin") == "0px"
    assert page.evaluate("() => document.styleSheets.length") >= 1


def test_today_lists_arrivals_in_order_and_checks_one_in(page: Page, site: Site) -> None:
    sign_in(page, site)
    page.get_by_role("link", name="Today", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Today's arrivals")
    expect(page.get_by_text("Tuesday 10 November 2026 · times in America/Denver (MST, UTC−7)"))
    rows = page.locator("table.arrivals tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("09:00")
    expect(rows.nth(0)).to_contain_text("Jordan Blake")
    expect(rows.nth(0)).to_contain_text("Late")
    expect(rows.nth(0)).to_contain_text("Driver confirmed")
    expect(rows.nth(1)).to_contain_text("Riley Santos")
    expect(rows.nth(1)).to_contain_text("Driver not confirmed")
    expect(rows.nth(2)).to_contain_text("Avery Quinn")
    expect(rows.nth(2)).to_contain_text("No chair")
    assert_accessible(page)
    screenshot(page, "today")
    rows.nth(0).get_by_role("button", name="Check in Jordan Blake").click()
    expect(page.get_by_role("status")).to_have_text("Jordan Blake is checked in.")
    expect(rows.nth(0)).to_contain_text("Checked in")
    expect(rows.nth(0)).not_to_contain_text("Late")
    expect(rows.nth(0).get_by_role("button")).to_have_count(0)
    assert_accessible(page)
    screenshot(page, "today-checked-in")
