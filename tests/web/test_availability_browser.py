"""The availability editor, the feed links page and a provider's own schedule in headless
Chromium against a live server with the demo clinic (SQLite and PostgreSQL). The server's
clock: Tuesday 10 November 2026, 09:10 in Boulder (America/Denver).

The tests share the module's clinic and run in order: hours are edited before time off is
added, each looking at the slots of a different day.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import create_engine, text

from tests.web.browser import (
    ADMIN,
    PHONE,
    Site,
    assert_accessible,
    page_overflow,
    screenshot,
    sign_in,
)

THURSDAY = ("2026-11-12T00:00:00-07:00", "2026-11-13T00:00:00-07:00")
FRIDAY = ("2026-11-13T00:00:00-07:00", "2026-11-14T00:00:00-07:00")


def _ids(site: Site) -> dict[str, Any]:
    engine = create_engine(site.database_url)
    try:
        with engine.connect() as conn:
            providers = dict(conn.execute(text("SELECT name, id FROM provider")).all())
            location = conn.execute(text("SELECT id FROM location ORDER BY id")).scalar_one()
            infusion = conn.execute(
                text("SELECT id FROM appointment_type WHERE code = 'ketamine-infusion'")
            ).scalar_one()
    finally:
        engine.dispose()
    return {"providers": providers, "location": location, "infusion": infusion}


def _slot_count(site: Site, provider_id: int, window: tuple[str, str]) -> int:
    ids = _ids(site)
    response = httpx.get(
        site.url("/api/v1/slots"),
        params={
            "appointment_type": ids["infusion"],
            "location": ids["location"],
            "provider": provider_id,
            "start": window[0],
            "end": window[1],
        },
        headers=site.api_token(),
    )
    response.raise_for_status()
    return len(response.json()["items"])


def _open_editor(page: Page, site: Site, provider: str) -> None:
    page.goto(site.url("/admin/availability"))
    page.get_by_label("Provider").select_option(value=str(_ids(site)["providers"][provider]))
    page.get_by_role("button", name="Show", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(provider)


def test_the_desk_edits_weekly_hours_sees_the_preview_then_the_slots_change(
    page: Page, site: Site
) -> None:
    lee = _ids(site)["providers"]["Sam Lee"]
    before = _slot_count(site, lee, THURSDAY)
    assert before > 0
    sign_in(page, site)
    _open_editor(page, site, "Sam Lee")
    expect(page.get_by_role("heading", name="Free starts in the coming week")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "availability")

    hours = page.locator("form.hours-form")
    hours.get_by_label("End (Thursday range 1)").fill("10:00")
    hours.get_by_label("Remove (Thursday range 2)").check()
    hours.get_by_role("button", name="Preview the week").click()
    expect(page.get_by_role("heading", name="Preview: not saved yet")).to_be_visible()
    thursday = page.locator(".preview-table tr", has_text="Thu 12 Nov")
    expect(thursday).to_contain_text("Changed")
    expect(thursday.locator('[data-preview="saved"] .count')).to_have_text(str(before))
    proposed = int(thursday.locator('[data-preview="proposed"] .count').inner_text())
    assert proposed < before
    expect(hours.get_by_label("End (Thursday range 1)")).to_have_value("10:00")
    assert _slot_count(site, lee, THURSDAY) == before  # a preview saves nothing
    assert_accessible(page)
    screenshot(page, "availability-preview")

    page.locator("form.hours-form").get_by_role("button", name="Save weekly hours").click()
    expect(page.get_by_role("status")).to_have_text("Weekly hours saved.")
    assert _slot_count(site, lee, THURSDAY) == proposed
    expect(page.get_by_label("End (Thursday range 1)")).to_have_value("10:00")
    expect(page.get_by_label("Start (Thursday range 2)")).to_have_count(0)


def test_refused_hours_are_explained_next_to_the_field(page: Page, site: Site) -> None:
    sign_in(page, site)
    _open_editor(page, site, "Sam Lee")
    hours = page.locator("form.hours-form")
    hours.get_by_label("Start (Sunday new range)").fill("14:00")
    hours.get_by_label("End (Sunday new range)").fill("09:00")
    hours.get_by_label("Start (Wednesday new range)").fill("11:00")
    hours.get_by_label("End (Wednesday new range)").fill("13:00")
    hours.get_by_role("button", name="Save weekly hours").click()
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("The end must be after the start.")
    expect(hours.get_by_label("End (Sunday new range)")).to_have_attribute("aria-invalid", "true")
    expect(hours.get_by_label("End (Sunday new range)")).to_have_value("09:00")
    expect(hours.get_by_label("Start (Wednesday new range)")).to_have_value("11:00")
    assert_accessible(page)
    screenshot(page, "availability-error")

    # Shape now fine, but Wednesday 11:00-13:00 overlaps the saved 08:00-12:00.
    hours.get_by_label("End (Sunday new range)").fill("18:00")
    hours.get_by_role("button", name="Save weekly hours").click()
    expect(page.locator("#error-n2-start")).to_contain_text("overlap Wednesday 08:00–12:00")
    expect(page.get_by_label("Start (Sunday new range)")).to_have_value("14:00")


def test_two_new_ranges_on_one_day_with_the_add_button(page: Page, site: Site) -> None:
    carter = _ids(site)["providers"]["Ben Carter"]
    sign_in(page, site)
    _open_editor(page, site, "Ben Carter")
    hours = page.locator("form.hours-form")
    hours.get_by_label("Start (Saturday new range)").fill("08:30")
    hours.get_by_label("End (Saturday new range)").fill("10:30")
    hours.get_by_role("button", name="Add another range on Saturday").click()
    expect(hours.get_by_label("Start (Saturday new range 2)")).to_be_focused()
    hours.get_by_label("Start (Saturday new range 2)").fill("11:00")
    hours.get_by_label("End (Saturday new range 2)").fill("13:30")
    hours.get_by_role("button", name="Save weekly hours").click()
    expect(page.get_by_role("status")).to_have_text("Weekly hours saved.")
    expect(page.get_by_label("End (Saturday range 1)")).to_have_value("10:30")
    expect(page.get_by_label("Start (Saturday range 2)")).to_have_value("11:00")
    saturday = ("2026-11-14T00:00:00-07:00", "2026-11-15T00:00:00-07:00")
    assert _slot_count(site, carter, saturday) > 0


def test_time_off_takes_the_days_slots_away(page: Page, site: Site) -> None:
    lee = _ids(site)["providers"]["Sam Lee"]
    assert _slot_count(site, lee, FRIDAY) > 0
    sign_in(page, site)
    _open_editor(page, site, "Sam Lee")
    dated = page.locator("form.dated-form").first
    dated.get_by_label("Time off", exact=True).check()
    dated.get_by_label("Starts (local time)").fill("2026-11-13T00:00")
    dated.get_by_label("Ends (local time)").fill("2026-11-14T00:00")
    dated.get_by_label("Reason (optional)").fill("Training day")
    dated.get_by_role("button", name="Preview the week").click()
    friday = page.locator(".preview-table tr", has_text="Fri 13 Nov")
    expect(friday.locator('[data-preview="proposed"] .count')).to_have_text("0")
    assert _slot_count(site, lee, FRIDAY) > 0
    page.locator("form.dated-form").first.get_by_role(
        "button", name="Save time off or extra hours"
    ).click()
    expect(page.get_by_role("status")).to_have_text("Time off saved.")
    expect(page.get_by_text("Training day")).to_be_visible()
    assert _slot_count(site, lee, FRIDAY) == 0


def _feed_path(page: Page) -> str:
    url = page.locator("#feed-url").input_value()
    return urlsplit(url).path


def test_a_provider_makes_a_feed_link_fetches_it_rotates_and_revokes_it(
    page: Page, site: Site
) -> None:
    sign_in(page, site, site.provider_login())
    response = page.goto(site.url("/admin/feeds"))
    assert response is not None
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    page.get_by_label("Name of the link").fill("My phone")
    page.get_by_role("button", name="Make a link to my schedule").click()
    expect(page.get_by_role("heading", name="Your new link for your schedule")).to_be_visible()
    expect(page.get_by_role("button", name="Copy link")).to_be_visible()  # our script shows it
    path = _feed_path(page)
    feed = httpx.get(site.url(path))
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("text/calendar")
    assert_accessible(page)
    screenshot(page, "feeds-new-link")

    page.get_by_role("button", name="Replace link My phone for your schedule").click()
    expect(page.get_by_role("heading", name="The new link for your schedule")).to_be_visible()
    new_path = _feed_path(page)
    assert new_path != path
    assert httpx.get(site.url(path)).status_code == 404
    assert httpx.get(site.url(new_path)).status_code == 200

    page.goto(site.url("/admin/feeds"))
    expect(page.locator("#feed-url")).to_have_count(0)  # shown once only
    page.get_by_role("button", name="Revoke My phone for your schedule").click()
    expect(page.get_by_role("status")).to_contain_text("revoked")
    assert httpx.get(site.url(new_path)).status_code == 404


# The whole link in sight, nothing scrolled inside the box, the box and its button on screen.
_FEED_LINK_SHOWN = """() => {
    const box = document.getElementById('feed-url');
    const button = document.querySelector('[data-copy="feed-url"]');
    const r = box.getBoundingClientRect(), b = button.getBoundingClientRect();
    return {left: r.left, right: r.right, buttonLeft: b.left, buttonRight: b.right,
            wide: box.scrollWidth - box.clientWidth, tall: box.scrollHeight - box.clientHeight};
}"""


def test_a_new_feed_link_is_shown_whole_and_copied_on_a_desktop_a_tablet_and_a_phone(
    chromium: Browser, site: Site
) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    try:
        page = context.new_page()
        sign_in(page, site, site.provider_login())
        page.goto(site.url("/admin/feeds"))
        page.get_by_role("button", name="Make a link to my schedule").click()
        link = page.get_by_label("Subscription link")
        url = link.input_value()
        assert "/feeds/" in url, url
        for width, height in ((1280, 800), (820, 1180), PHONE):
            page.set_viewport_size({"width": width, "height": height})
            assert page_overflow(page) <= 0, width
            shown = page.evaluate(_FEED_LINK_SHOWN)
            assert shown["left"] >= 0, (width, shown)
            assert shown["right"] <= width, (width, shown)
            assert shown["buttonLeft"] >= 0, (width, shown)
            assert shown["buttonRight"] <= width, (width, shown)
            assert shown["wide"] <= 0, f"the link scrolls sideways in its box at {width}px"
            assert shown["tall"] <= 0, f"part of the link is hidden in its box at {width}px"
            assert_accessible(page)
            page.get_by_role("button", name="Copy link").click()
            expect(page.get_by_role("status")).to_have_text(
                "Copied. Paste it into your calendar app."
            )
            assert page.evaluate("() => navigator.clipboard.readText()") == url
            selected = page.evaluate(
                "() => { const b = document.getElementById('feed-url');"
                " return b.value.slice(b.selectionStart, b.selectionEnd); }"
            )
            assert selected == url  # selected too, for Ctrl+C
            page.evaluate("() => navigator.clipboard.writeText('')")
    finally:
        context.close()


def test_the_admin_manages_location_feeds(page: Page, site: Site) -> None:
    sign_in(page, site, ADMIN)
    page.goto(site.url("/admin/feeds"))
    expect(page.get_by_role("heading", name="Your schedule")).to_have_count(0)
    page.get_by_role("button", name="Make a link to").first.click()
    path = _feed_path(page)
    assert httpx.get(site.url(path)).status_code == 200
    screenshot(page, "feeds-location")
    assert_accessible(page)


def test_a_provider_sees_only_their_own_schedule_and_availability(page: Page, site: Site) -> None:
    ids = _ids(site)
    login = site.provider_login()
    sign_in(page, site, login)
    expect(page).to_have_url(site.url("/admin/my-schedule"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("My schedule")
    expect(
        page.get_by_role("link", name="Change my hours, time off and extra hours")
    ).to_be_visible()
    assert_accessible(page)
    screenshot(page, "my-schedule")
    # On a phone the page's panels stand one under the other, evenly spaced.
    page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
    gaps = page.evaluate(
        """() => { const panels = [...document.querySelectorAll('main section.panel')];
            return panels.slice(1).map((p, i) => Math.round(
                p.getBoundingClientRect().top - panels[i].getBoundingClientRect().bottom)); }"""
    )
    page.set_viewport_size({"width": 1280, "height": 800})
    assert len(gaps) >= 3, gaps
    assert len(set(gaps)) == 1, f"uneven space between the panels on a phone: {gaps}"

    page.get_by_role("link", name="Availability").click()
    expect(page.get_by_label("Provider")).to_have_count(0)  # no choice of provider
    expect(page.get_by_role("heading", name="Closures of", exact=False)).to_have_count(0)
    assert_accessible(page)
    screenshot(page, "availability-provider")
    own_name = page.get_by_role("heading", level=1).inner_text()
    other = next(pid for name, pid in ids["providers"].items() if name not in own_name)
    refused = page.goto(site.url(f"/admin/availability?provider={other}"))
    assert refused is not None
    assert refused.status == 403
    board = page.goto(site.url("/admin/"))
    assert board is not None
    assert board.status == 403


def test_a_closure_moved_over_booked_visits_warns_first_then_saves_anyway(
    page: Page, site: Site
) -> None:
    sign_in(page, site)
    _open_editor(page, site, "Sam Lee")
    closure = page.locator("#cl-form")
    closure.get_by_label("Closed from (local time)").fill("2026-11-10T18:00")
    closure.get_by_label("Open again at (local time)").fill("2026-11-11T00:00")
    closure.get_by_label("Reason (optional, e.g. Thanksgiving)").fill("Pipe repair")
    closure.get_by_role("button", name="Save closure").click()
    expect(page.get_by_role("status")).to_have_text("Closure saved.")  # no visit in it

    page.get_by_role("link", name="Edit the closure from 2026-11-10 18:00").click()
    closure = page.locator("#cl-form")
    expect(closure.get_by_role("heading", name="Change this closure")).to_be_visible()
    expect(closure.get_by_label("Closed from (local time)")).to_have_value("2026-11-10T18:00")
    closure.get_by_label("Closed from (local time)").fill("2026-11-10T09:30")
    closure.get_by_role("button", name="Save changes").click()

    warning = page.get_by_role("alert")
    expect(warning).to_contain_text("booked visits fall in this closure:")
    expect(warning).to_contain_text("Riley Santos")
    expect(warning.get_by_role("link", name="Tue 10 Nov 10:00", exact=False)).to_be_visible()
    expect(page.locator(".item-list").last).to_contain_text("2026-11-10 18:00")  # nothing changed
    assert_accessible(page)
    screenshot(page, "availability-closure-warning")

    warning.get_by_role("button", name="Save anyway").click()
    expect(page.get_by_role("status")).to_have_text("Closure changed.")
    expect(page.locator(".item-list").last).to_contain_text("2026-11-10 09:30")
    page.get_by_role("button", name="Reopen the closure from 2026-11-10 09:30").click()
    expect(page.get_by_role("status")).to_contain_text("Closure removed")
