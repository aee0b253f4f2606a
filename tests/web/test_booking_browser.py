"""The front desk books, and a booking's own page, in headless Chromium against a live server
(SQLite and PostgreSQL), with axe-core on every step and screenshots at 1280x800 and 768x1024.

The live server's clock is Tuesday 10 November 2026, 09:10 in Boulder (tests/web/browser.py);
the demo types need 24 hours' notice, so bookings go from Wednesday on. The tests of this module
share one server: each books on its own day or at its own time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import create_engine, text

from tests.live import running_server
from tests.web.browser import (
    DENVER,
    FROZEN_NOW,
    Site,
    assert_accessible,
    assert_cards_on_a_phone,
    screenshot,
    sign_in,
)
from tests.web.frozen_app import APP as FROZEN_APP

TODAY = FROZEN_NOW.astimezone(DENVER).date()  # Tuesday 10 November 2026


def _sql(site: Site, statement: str, **params: Any) -> list[Any]:
    engine = create_engine(site.database_url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return list(result.all()) if result.returns_rows else []
    finally:
        engine.dispose()


def _ids(site: Site) -> dict[str, int]:
    rows = _sql(
        site,
        "SELECT (SELECT min(id) FROM location), "
        "(SELECT id FROM appointment_type WHERE code = 'ketamine-infusion'), "
        "(SELECT id FROM patient WHERE first_name = 'Jordan'), "
        "(SELECT id FROM patient WHERE first_name = 'Riley'), "
        "(SELECT id FROM patient WHERE first_name = 'Avery')",
    )
    location, infusion, jordan, riley, avery = rows[0]
    return {
        "location": location,
        "infusion": infusion,
        "jordan": jordan,
        "riley": riley,
        "avery": avery,
    }


def _api_book(site: Site, patient_id: int, day: date, at: time, **extra: Any) -> dict[str, Any]:
    ids = _ids(site)
    response = httpx.post(
        site.url("/api/v1/bookings"),
        json={
            "patient_id": patient_id,
            "appointment_type_id": ids["infusion"],
            "location_id": ids["location"],
            "start_at": datetime.combine(day, at, tzinfo=DENVER).isoformat(),
            **extra,
        },
        headers=site.api_token(),
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _bookings_of(site: Site, patient_id: int, status: str = "booked") -> list[Any]:
    return _sql(
        site,
        "SELECT id, start_at, chair_id, provider_id FROM booking "
        "WHERE patient_id = :p AND status = :s ORDER BY id",
        p=patient_id,
        s=status,
    )


def _pick_patient(page: Page, search: str, name: str) -> None:
    page.get_by_label("Find a patient").fill(search)
    page.get_by_role("button", name="Find", exact=True).click()
    page.get_by_role("link", name=name).click()


def _choose_visit(page: Page, day: date, provider: str | None = None) -> None:
    page.get_by_label("Visit type").select_option(label="Ketamine infusion")
    page.get_by_label("Provider").select_option(label=provider or "Any provider")
    page.get_by_label("From").fill(day.isoformat())
    page.get_by_label("To").fill(day.isoformat())
    page.get_by_role("button", name="Show free times").click()


def _first_slot(page: Page, at: str = "") -> Any:
    slots = page.locator("button.slot")
    if at:
        slots = slots.filter(has_text=at)
    expect(slots.first).to_be_visible()
    return slots.first


def test_book_with_a_specific_provider_and_see_it_on_the_board(page: Page, site: Site) -> None:
    day = TODAY + timedelta(days=2)  # Thursday
    sign_in(page, site)
    page.get_by_role("link", name="Book", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Book a visit")
    expect(page.get_by_text("Times in America/Denver")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "book-1-start")
    _pick_patient(page, "blake", "Jordan Blake")
    _choose_visit(page, day, "Ben Carter, NP")
    expect(page.get_by_role("heading", name=day.strftime("%A %-d %B"))).to_be_visible()
    # Every slot offered is with the chosen provider.
    where = page.locator("button.slot .slot__where").all_inner_texts()
    assert where
    assert all(w.endswith("Ben Carter, NP") for w in where), where
    assert_accessible(page)
    screenshot(page, "book-2-slots")
    slot = _first_slot(page, "09:00")
    chair = slot.locator(".slot__where").inner_text().split(" · ")[0]
    slot.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm the booking")
    expect(page.get_by_text("Screening consultation done: yes")).to_be_visible()
    page.get_by_label("The patient has someone to drive them home").check()
    assert_accessible(page)
    screenshot(page, "book-3-confirm")
    page.get_by_role("button", name="Book ").click()
    expect(page).to_have_url(re.compile(rf"/admin/board\?location=\d+&date={day}&highlight=\d+$"))
    expect(page.locator(".flash")).to_contain_text("Booked Jordan Blake")
    highlighted = page.locator(".block.is-highlight")
    expect(highlighted).to_have_count(1)
    expect(highlighted).to_contain_text("Jordan Blake")
    expect(highlighted).to_have_attribute("data-start", "09:00")
    row = page.locator(".board-chair", has=page.locator(".block.is-highlight"))
    expect(row).to_have_attribute("data-chair", chair)
    screenshot(page, "book-4-board-highlight")
    (booking,) = [b for b in _bookings_of(site, _ids(site)["jordan"]) if _local_day(b[1]) == day]
    assert booking[0] == int(page.url.rsplit("=", 1)[1])


def test_book_with_any_provider(page: Page, site: Site) -> None:
    day = TODAY + timedelta(days=3)  # Friday
    sign_in(page, site)
    page.goto(site.url("/admin/book"))
    _pick_patient(page, "riley.santos@example.org", "Riley Santos")
    _choose_visit(page, day)
    expect(page.get_by_role("heading", name="Free times")).to_contain_text("any provider")
    slot = _first_slot(page, "10:00")
    chair, provider = slot.locator(".slot__where").inner_text().split(" · ")
    slot.click()
    page.get_by_role("button", name="Book ").click()
    highlighted = page.locator(".block.is-highlight")
    expect(highlighted).to_contain_text("Riley Santos")
    expect(highlighted).to_have_attribute("data-start", "10:00")
    row = page.locator(".board-chair", has=page.locator(".block.is-highlight"))
    expect(row).to_have_attribute("data-chair", chair)
    highlighted.click()
    expect(page.locator(".facts").first).to_contain_text(provider)


def test_a_failing_gate_needs_an_override_reason_found_in_the_history(
    page: Page, site: Site
) -> None:
    day = TODAY + timedelta(days=6)  # Monday
    sign_in(page, site)
    page.goto(site.url("/admin/book"))
    _pick_patient(page, "Avery", "Avery Quinn")
    _choose_visit(page, day)
    expect(page.get_by_text("Screening consultation done: no")).to_be_visible()
    _first_slot(page, "13:00").click()
    expect(page.get_by_text("does not meet every requirement").first).to_be_visible()
    page.get_by_label("Reason for booking anyway").fill("")
    # The browser's own check is bypassed to show the server's answer next to the field.
    page.locator("form.confirm-form").evaluate("f => f.noValidate = true")
    page.get_by_role("button", name="Book ").click()
    expect(page.locator("#error-override_reason")).to_contain_text("give the reason")
    assert_accessible(page)
    screenshot(page, "book-5-override-error")
    page.get_by_label("Reason for booking anyway").fill("Consent signed on paper today")
    page.get_by_role("button", name="Book ").click()
    highlighted = page.locator(".block.is-highlight")
    expect(highlighted).to_contain_text("Avery Quinn")
    highlighted.click()  # the booking opens in the side panel, then as its own page
    page.get_by_role("dialog").get_by_role("link", name="Open full page").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Avery Quinn")
    history = page.locator(".history")
    expect(history).to_contain_text("Booked with an override")
    expect(history).to_contain_text("by Front Desk")
    expect(history).to_contain_text(
        "Consent signed on paper today (lifted: a completed screening consultation; "
        "signed treatment consent)"
    )
    assert_accessible(page)
    screenshot(page, "booking-override-history")


def test_a_double_submit_makes_one_booking(page: Page, site: Site) -> None:
    day = TODAY + timedelta(days=7)  # Tuesday next week
    jordan = _ids(site)["jordan"]
    sign_in(page, site)
    page.goto(site.url("/admin/book"))
    _pick_patient(page, "Jordan", "Jordan Blake")
    _choose_visit(page, day)
    _first_slot(page, "10:00").click()
    # A resubmitted form: the same form (same key) posted twice, one after the other,
    # then a double click on the button.
    statuses = page.locator("form.confirm-form").evaluate(
        """async f => {
            const body = () => new URLSearchParams(new FormData(f));
            const send = () => fetch(f.action, {method: 'POST', body: body(),
                                                redirect: 'manual'});
            const first = await send();
            const second = await send();
            return [first.type, second.type];
        }"""
    )
    assert statuses == ["opaqueredirect", "opaqueredirect"]
    page.get_by_role("button", name="Book ").dblclick()
    expect(page.locator(".block.is-highlight")).to_contain_text("Jordan Blake")
    assert len([b for b in _bookings_of(site, jordan) if _local_day(b[1]) == day]) == 1


def _local_day(value: Any) -> date:
    """A stored instant (an aware datetime, or SQLite's UTC text) as a Denver date."""
    instant = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(DENVER).date()


def test_the_booking_page_checks_in_completes_and_downloads_the_ics(page: Page, site: Site) -> None:
    # Riley's 10:00 visit today (tests/web/browser.py TODAYS_VISITS).
    riley = _ids(site)["riley"]
    today_id = next(b[0] for b in _bookings_of(site, riley) if _local_day(b[1]) == TODAY)
    # Its confirmation could not be delivered.
    _sql(
        site,
        "UPDATE notification SET status = 'failed', attempts = 5, "
        "last_error = 'SMTP 550 mailbox unavailable' "
        "WHERE booking_id = :b AND kind = 'confirmation'",
        b=today_id,
    )
    sign_in(page, site)
    page.goto(site.url(f"/admin/board?date={TODAY}"))
    page.locator(f'.block[data-booking="{today_id}"]').click()  # board blocks link here
    page.get_by_role("dialog").get_by_role("link", name="Open full page").click()  # side panel
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page).to_have_url(site.url(f"/admin/bookings/{today_id}"))
    expect(page.get_by_text("10:00–")).to_be_visible()
    expect(page.get_by_text("America/Denver (MST, UTC−7)").first).to_be_visible()
    expect(page.get_by_text("Front desk on")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "booking-page")
    messages = page.locator("section", has=page.get_by_role("heading", name="Messages"))
    # On a phone each message is a card: name, then status, due, sent and error, each labelled.
    assert_cards_on_a_phone(page, "table.messages")
    failed = messages.locator("tr", has_text="Confirmation")
    expect(failed).to_contain_text("Failed")
    expect(failed).to_contain_text("SMTP 550 mailbox unavailable")
    failed.get_by_role("button", name="Resend").click()
    expect(page.locator(".flash")).to_contain_text("queued to be sent again")
    expect(messages.locator("tr", has_text="Confirmation")).to_have_count(2)
    expect(page.locator(".history")).to_contain_text("Message resent")
    expect(page.get_by_role("button", name="Complete")).to_have_count(0)
    page.get_by_role("button", name="Check in").click()
    expect(page.locator(".flash")).to_contain_text("checked in")
    page.get_by_role("button", name="Complete").click()
    expect(page.locator(".flash")).to_contain_text("completed")
    expect(page.locator(".badge").first).to_have_text("Completed")
    expect(page.get_by_role("button", name="Check in")).to_have_count(0)
    expect(page.locator(".history")).to_contain_text("Checked in")
    expect(page.locator(".history")).to_contain_text("Completed")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download .ics").click()
    path = download.value.path()
    assert path is not None
    body = Path(path).read_text(encoding="utf-8")
    assert body.startswith("BEGIN:VCALENDAR")
    assert "BEGIN:VEVENT" in body
    assert download.value.suggested_filename == f"appointment-{today_id}.ics"


def test_cancel_needs_a_reason_and_says_when_it_is_late(page: Page, site: Site) -> None:
    ids = _ids(site)
    tomorrow = _api_book(
        site,
        ids["riley"],
        TODAY + timedelta(days=1),
        time(8, 0),
        override={"reason": "Squeezed in at the patient's request"},
    )
    sign_in(page, site)
    page.goto(site.url(f"/admin/bookings/{tomorrow['id']}"))
    expect(page.get_by_text("counts as a late cancellation")).to_be_visible()
    page.locator("form.cancel-form").evaluate("f => f.noValidate = true")
    page.get_by_role("button", name="Cancel the booking").click()
    expect(page.locator("#error-reason")).to_contain_text("Give the reason")
    assert_accessible(page)
    page.get_by_label("Reason for cancelling").fill("Patient has the flu")
    page.get_by_label("Who asked").select_option(label="The patient")
    page.get_by_role("button", name="Cancel the booking").click()
    expect(page.locator(".flash")).to_contain_text("late cancellation")
    expect(page.locator(".badge").first).to_have_text("Cancelled")
    expect(page.locator(".history")).to_contain_text("Patient has the flu")
    expect(page.get_by_role("button", name="Cancel the booking")).to_have_count(0)
    screenshot(page, "booking-cancelled")
    # The messages: the confirmation queued at booking, the cancellation notice.
    messages = page.locator("section", has=page.get_by_role("heading", name="Messages"))
    expect(messages).to_contain_text("Cancellation notice")


def test_reschedule_links_old_and_new(page: Page, site: Site) -> None:
    ids = _ids(site)
    day = TODAY + timedelta(days=8)  # Wednesday next week
    old = _api_book(site, ids["riley"], day, time(9, 0))
    sign_in(page, site)
    page.goto(site.url(f"/admin/bookings/{old['id']}"))
    page.get_by_role("link", name="Move to another time").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Move booking #{old['id']}")
    page.get_by_label("From").fill(day.isoformat())
    page.get_by_label("To").fill(day.isoformat())
    page.get_by_role("button", name="Show free times").click()
    assert_accessible(page)
    screenshot(page, "booking-reschedule")
    page.get_by_label("Reason for moving (optional)").fill("Patient asked for the afternoon")
    _first_slot(page, "14:00").click()
    expect(page.locator(".flash")).to_contain_text("Moved")
    new_id = int(page.url.rsplit("/", 1)[1])
    assert new_id != old["id"]
    expect(page.get_by_text("14:00–")).to_be_visible()
    expect(page.get_by_role("link", name=f"Booking #{old['id']}")).to_be_visible()
    page.get_by_role("link", name=f"Booking #{old['id']}").click()
    expect(page.locator(".badge").first).to_have_text("Cancelled")
    expect(page.locator(".history")).to_contain_text("Patient asked for the afternoon")
    expect(page.get_by_role("link", name=f"Booking #{new_id}")).to_be_visible()


def test_a_stale_action_shows_who_changed_it_and_the_current_state(page: Page, site: Site) -> None:
    ids = _ids(site)
    booking = _api_book(site, ids["jordan"], TODAY + timedelta(days=9), time(9, 0))
    sign_in(page, site)
    page.goto(site.url(f"/admin/bookings/{booking['id']}"))
    expect(page.get_by_role("button", name="Cancel the booking")).to_be_visible()
    # Meanwhile, the admin cancels it through the API.
    cancelled = httpx.post(
        site.url(f"/api/v1/bookings/{booking['id']}/cancel"),
        json={"reason": "Clinic closed for training"},
        headers=site.api_token(),
    )
    assert cancelled.status_code == 200, cancelled.text
    page.get_by_label("Reason for cancelling").fill("Patient called")
    page.get_by_role("button", name="Cancel the booking").click()
    notice = page.get_by_role("alert").filter(has_text="was changed by")
    expect(notice).to_contain_text("This booking was changed by Clinic Admin at")
    expect(notice).to_contain_text("nothing was done")
    expect(page.locator(".badge").first).to_have_text("Cancelled")
    expect(page.locator(".history")).to_contain_text("Clinic closed for training")
    expect(page.locator(".history")).not_to_contain_text("Patient called")
    assert_accessible(page)
    screenshot(page, "booking-stale")


@pytest.fixture
def one_chair(site: Site) -> Iterator[None]:
    """Every chair but Chair 1 out of service, for the race for the last free chair."""
    _sql(site, "UPDATE chair SET active = false WHERE name <> 'Chair 1'")
    yield
    _sql(site, "UPDATE chair SET active = true")


def test_two_receptionists_race_for_the_last_free_chair(
    chromium: Browser, site: Site, backend: str, one_chair: None, tmp_path: Path
) -> None:
    day = TODAY + timedelta(days=10)  # Friday next week
    ids = _ids(site)

    def race(second_url: str) -> None:
        pages = []
        for base, who, name in (
            (site.base_url, "Jordan", "Jordan Blake"),
            (second_url, "Riley", "Riley Santos"),
        ):
            context = chromium.new_context(viewport={"width": 1280, "height": 800})
            page = context.new_page()
            sign_in(page, Site(base, site.database_url, site.logins))
            page.goto(f"{base}/admin/book")
            _pick_patient(page, who, name)
            _choose_visit(page, day)
            slot = _first_slot(page, "09:00")
            expect(slot).to_contain_text("Chair 1")
            slot.click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Confirm the booking")
            pages.append(page)
        # Both press "Book" at once.
        for page in pages:
            page.locator("form.confirm-form").evaluate("f => f.requestSubmit()")
        for page in pages:
            page.wait_for_url(re.compile(r"/admin/(board\?.*|book)$"))
        winners = [p for p in pages if "/admin/board" in p.url]
        losers = [p for p in pages if "/admin/board" not in p.url]
        assert len(winners) == 1, [p.url for p in pages]
        assert len(losers) == 1
        loser = losers[0]
        expect(loser.get_by_role("alert").filter(has_text="taken")).to_contain_text(
            "that time was taken by another booking"
        )
        # The refreshed list no longer offers 09:00 in Chair 1; the choices are kept.
        expect(loser.get_by_label("Visit type")).to_have_value(str(ids["infusion"]))
        expect(loser.locator("button.slot", has_text="09:00")).to_have_count(0)
        assert_accessible(loser)
        screenshot(loser, "book-slot-taken")
        for page in pages:
            page.context.close()

    if backend == "postgresql":
        # Two server processes against one database.
        with running_server(
            site.database_url,
            app=FROZEN_APP,
            SCHEDULER_TEST_NOW=FROZEN_NOW.isoformat(),
        ) as second:
            race(second)
    else:
        race(site.base_url)
    at_nine = [
        b
        for p in (ids["jordan"], ids["riley"])
        for b in _bookings_of(site, p)
        if _local_day(b[1]) == day
    ]
    assert len(at_nine) == 1
