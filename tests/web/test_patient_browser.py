"""Patients book and manage their visits in a real browser (headless Chromium), at phone
(390x844) and desktop (1280x800) sizes, with axe-core on every page, screenshots of each
step at phone size, and a live server on the demo clinic (Boulder, Mountain Time).

The server's clock is the instant in a file (``tests/web/frozen_app.py``), so a test moves
time: a hold running out while the patient types, a cut-off passing. Each test starts at
``FROZEN_NOW`` (Tuesday 10 November 2026, 09:10 in Boulder).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlmodel import col, select

from scheduler.db import build_engine, build_sessionmaker
from scheduler.kit.clock import FrozenClock
from scheduler.models import Booking
from tests.live import running_server
from tests.notifications.helpers import drain, link_token, make_worker, text_of, worker_settings
from tests.notifications.smtp_sink import SmtpServer
from tests.web.browser import (
    DENVER,
    FROZEN_NOW,
    PHONE,
    Site,
    assert_accessible,
    screenshot,
    seed_demo_clinic,
)
from tests.web.frozen_app import APP

DESKTOP = (1280, 800)
ROSA = {
    "First name": "Rosa",
    "Last name": "Marquez",
    "Date of birth": "1990-04-12",
    "E-mail address": "rosa.marquez@example.org",
    "Mobile phone": "+1 303 555 0199",
}


@pytest.fixture(scope="module")
def clock_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = Path(tmp_path_factory.mktemp("clock")) / "now"
    path.write_text(FROZEN_NOW.isoformat())
    return path


@pytest.fixture(scope="module")
def server_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(tmp_path_factory.mktemp("patient-log")) / "server.log"


@pytest.fixture(scope="module")
def patient_site(site_database: str, clock_file: Path, server_log: Path) -> Iterator[Site]:
    logins = seed_demo_clinic(site_database)
    with running_server(
        site_database, log_file=server_log, app=APP, SCHEDULER_TEST_CLOCK_FILE=str(clock_file)
    ) as base_url:
        yield Site(base_url=base_url, database_url=site_database, logins=logins)


@pytest.fixture(autouse=True)
def time_starts_at_frozen_now(clock_file: Path) -> Iterator[None]:
    clock_file.write_text(FROZEN_NOW.isoformat())
    yield
    clock_file.write_text(FROZEN_NOW.isoformat())


def set_time(clock_file: Path, at: datetime) -> None:
    clock_file.write_text(at.isoformat())


def new_context(chromium: Browser, size: tuple[int, int], **options: Any) -> BrowserContext:
    width, height = size
    return chromium.new_context(viewport={"width": width, "height": height}, **options)


def only_local(requested: list[str]) -> None:
    elsewhere = [
        u for u in requested if urlsplit(u).hostname != "127.0.0.1" and not u.startswith("data:")
    ]
    assert not elsewhere, f"pages requested other hosts: {elsewhere}"


@pytest.fixture
def phone(chromium: Browser) -> Iterator[Page]:
    context = new_context(chromium, PHONE)
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    yield context.new_page()
    context.close()
    only_local(requested)


def check(page: Page, name: str | None = None) -> None:
    """axe on the page as it is; a screenshot of the step at the page's size. Without
    JavaScript axe cannot run (the same pages are checked with it by the other tests)."""
    if page.context.pages and _scripts_on(page):
        assert_accessible(page)
    if name:
        size = page.viewport_size
        assert size is not None
        screenshot(page, f"patient-{name}", sizes=((size["width"], size["height"]),))


NO_SCRIPT_CONTEXTS: set[int] = set()


def _scripts_on(page: Page) -> bool:
    return id(page.context) not in NO_SCRIPT_CONTEXTS


def to_times(page: Page, site: Site, name: str | None = None) -> None:
    page.goto(site.url("/book"))
    expect(page.get_by_role("heading", name="What would you like to book?")).to_be_visible()
    check(page, name and f"{name}-1-visit")
    page.get_by_role("link", name="Choose a time for Screening consultation").click()
    expect(page.get_by_role("heading", name="Choose a time")).to_be_visible()
    expect(page.get_by_text("Mountain Time")).to_be_visible()


def pick_first_time(page: Page, name: str | None = None, day: str | None = None) -> str:
    """Choose the first free day (or ``day``) and its first time; returns the time's label."""
    check(page, name and f"{name}-2-month")
    days = page.locator(f'a.day--free[href*="day={day}"]' if day else "a.day--free")
    days.first.click()
    check(page, name and f"{name}-3-day")
    button = page.locator(".time-button").first
    label = button.inner_text().splitlines()[0]
    button.click()
    expect(page.get_by_role("heading", name="Your details")).to_be_visible()
    return label


def fill_details(page: Page, person: dict[str, str] = ROSA) -> None:
    for label, value in person.items():
        page.get_by_label(label, exact=True).fill(value)


def book_consultation(
    page: Page,
    site: Site,
    name: str | None = None,
    person: dict[str, str] = ROSA,
    day: str | None = None,
) -> str:
    """The whole flow; returns the manage page's URL."""
    to_times(page, site, name)
    label = pick_first_time(page, name, day)
    expect(page.get_by_text("We are holding this time for you")).to_be_visible()
    page.get_by_role("button", name="Continue").click()  # nothing filled in: errors
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    check(page, name and f"{name}-4-details-errors")
    fill_details(page, person)
    check(page, name and f"{name}-4-details")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Check and book")).to_be_visible()
    expect(page.get_by_text(f"{person['First name']} {person['Last name']}")).to_be_visible()
    check(page, name and f"{name}-5-review")
    page.get_by_role("button", name="Book this visit").click()
    expect(page.get_by_role("heading", name="You're booked")).to_be_visible()
    expect(page.get_by_text(label, exact=False).first).to_be_visible()
    expect(page.get_by_text("1200 Pearl St, Boulder, CO 80302")).to_be_visible()
    check(page, name and f"{name}-6-confirmation")
    return page.url


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_new_patient_books_a_consultation_and_gets_the_email(
    chromium: Browser,
    patient_site: Site,
    size: tuple[int, int],
    tmp_path: Path,
    server_log: Path,
) -> None:
    context = new_context(chromium, size)
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    page = context.new_page()
    with SmtpServer() as smtp:
        email = f"rosa.{size[0]}@example.org"
        person = {**ROSA, "E-mail address": email}
        manage = book_consultation(
            page, patient_site, "book" if size == PHONE else None, person=person
        )
        token = urlsplit(manage).path.split("/")[2]
        ics = page.get_by_role("link", name="Add to my calendar (.ics)")
        with page.expect_download() as download:
            ics.click()
        assert download.value.suggested_filename == "appointment.ics"
        settings = worker_settings(patient_site.database_url, smtp, tmp_path)
        engine = build_engine(settings)
        try:
            worker = make_worker(settings, build_sessionmaker(engine), FrozenClock(FROZEN_NOW))
            assert drain(worker) >= 1
        finally:
            engine.dispose()
        mails = [m for m in smtp.sink.messages if email in str(m["To"])]
        assert mails, [str(m["To"]) for m in smtp.sink.messages]
        message = mails[-1]
        assert "Rosa" not in str(message["Subject"])  # no personal data in subjects
        emailed = link_token(message)
        assert f"/manage/{emailed}" in text_of(message)
    page.goto(patient_site.url(f"/manage/{emailed}"))
    expect(page.get_by_role("heading", name="Your visit")).to_be_visible()
    check(page)
    context.close()
    only_local(requested)
    log = server_log.read_text()
    assert token not in log
    assert emailed not in log


def test_the_whole_flow_works_without_javascript(chromium: Browser, patient_site: Site) -> None:
    context = new_context(chromium, PHONE, java_script_enabled=False)
    NO_SCRIPT_CONTEXTS.add(id(context))
    page = context.new_page()
    nobody = {**ROSA, "First name": "Noa", "E-mail address": "noa@example.org"}
    manage = book_consultation(page, patient_site, "nojs", person=nobody, day="2026-11-23")
    page.get_by_role("link", name="Choose another time").click()
    page.locator("a.day--free").nth(1).click()
    page.locator(".time-button").last.click()
    expect(page.get_by_role("heading", name="Move your visit?")).to_be_visible()
    page.get_by_role("button", name="Move my visit").click()
    expect(page.get_by_text("Your visit has moved to the new time.")).to_be_visible()
    page.goto(manage.split("?")[0] + "/cancel")
    page.get_by_role("button", name="Yes, cancel my visit").click()
    expect(page.get_by_text("Your visit is cancelled.")).to_be_visible()
    NO_SCRIPT_CONTEXTS.discard(id(context))
    context.close()


def _api_booking(site: Site, start: str) -> str:
    """A consultation booked through the public API; its manage token."""
    with httpx.Client(base_url=site.base_url) as http:
        location = http.get("/api/v1/public/locations").json()[0]["id"]
        kinds = http.get(f"/api/v1/public/locations/{location}/appointment-types").json()
        consult = next(k for k in kinds if k["code"] == "consult")["id"]
        held = http.post(
            "/api/v1/public/holds",
            json={"appointment_type_id": consult, "location_id": location, "start_at": start},
        )
        assert held.status_code == 201, held.text
        booked = http.post(
            "/api/v1/public/bookings",
            json={
                "hold_id": held.json()["hold_id"],
                "patient": {
                    "first_name": "Sam",
                    "last_name": "Lee",
                    "date_of_birth": "1980-01-02",
                    "email": "sam.lee@example.org",
                    "phone": "+1 303 555 0142",
                },
            },
            headers={"X-Booking-Session": held.json()["session_token"]},
        )
        assert booked.status_code == 201, booked.text
        return str(booked.json()["manage_token"])


def _first_free(site: Site, day: str) -> str:
    with httpx.Client(base_url=site.base_url) as http:
        page = http.get(f"/book/times?location=1&type=1&day={day}")
        found = re.search(r'name="start" value="([^"]+)"', page.text)
        assert found, page.text
        return found.group(1)


def test_cancel_inside_the_cutoff_states_the_policy_first(phone: Page, patient_site: Site) -> None:
    token = _api_booking(patient_site, _first_free(patient_site, "2026-11-17"))
    phone.goto(patient_site.url(f"/manage/{token}"))
    check(phone, "manage-1-visit")
    phone.get_by_role("link", name="Cancel this visit").click()
    expect(phone.get_by_role("heading", name="Our cancellation policy")).to_be_visible()
    expect(phone.get_by_text("You can cancel online until")).to_be_visible()
    check(phone, "manage-2-cancel")
    phone.get_by_label("Reason (optional)").fill("Feeling better")
    phone.get_by_role("button", name="Yes, cancel my visit").click()
    expect(phone.get_by_text("Your visit is cancelled.")).to_be_visible()
    check(phone, "manage-3-cancelled")


def test_past_the_cutoff_the_clinic_phone_replaces_the_cancel_button(
    phone: Page, patient_site: Site, clock_file: Path
) -> None:
    start = _first_free(patient_site, "2026-11-18")
    token = _api_booking(patient_site, start)
    set_time(clock_file, datetime.fromisoformat(start) - timedelta(hours=3))
    phone.goto(patient_site.url(f"/manage/{token}"))
    expect(phone.get_by_text("It is too close to your visit")).to_be_visible()
    expect(phone.get_by_role("link", name="Cancel this visit")).to_have_count(0)
    phone.goto(patient_site.url(f"/manage/{token}/cancel"))
    expect(phone.get_by_role("heading", name="Too late to cancel online")).to_be_visible()
    expect(phone.get_by_role("button", name="Yes, cancel my visit")).to_have_count(0)
    policy = phone.get_by_role("region", name="Too late to cancel online")
    expect(policy.get_by_role("link", name="Call +1 303 555 0100")).to_be_visible()
    check(phone, "manage-4-too-late")


def test_reschedule_keeps_the_visit_until_the_new_time_is_confirmed(
    phone: Page, patient_site: Site
) -> None:
    old_start = _first_free(patient_site, "2026-11-19")
    token = _api_booking(patient_site, old_start)
    phone.goto(patient_site.url(f"/manage/{token}"))
    phone.get_by_role("link", name="Choose another time").click()
    expect(phone.get_by_role("heading", name="Choose a new time")).to_be_visible()
    phone.goto(patient_site.url(f"/manage/{token}/reschedule?day=2026-11-20"))
    check(phone, "reschedule-1-picker")
    phone.locator(".time-button").first.click()
    expect(phone.get_by_role("heading", name="Move your visit?")).to_be_visible()
    check(phone, "reschedule-2-confirm")
    engine = build_engine(worker_settings(patient_site.database_url, None, Path()))
    try:
        with build_sessionmaker(engine)() as db:
            before = db.exec(select(Booking).where(col(Booking.status) == "booked")).all()
        phone.get_by_role("button", name="Move my visit").click()
        expect(phone.get_by_text("Your visit has moved to the new time.")).to_be_visible()
        expect(phone.get_by_text("Friday 20 November 2026")).to_be_visible()
        check(phone, "reschedule-3-moved")
        with build_sessionmaker(engine)() as db:
            after = db.exec(select(Booking).where(col(Booking.status) == "booked")).all()
    finally:
        engine.dispose()
    assert len(after) == len(before)  # moved, not added


def test_a_hold_that_expires_while_typing_offers_the_nearest_times(
    phone: Page, patient_site: Site, clock_file: Path
) -> None:
    to_times(phone, patient_site)
    pick_first_time(phone)
    expect(phone.locator("[data-countdown]")).to_contain_text(" min ")  # our script counts
    fill_details(phone)
    set_time(clock_file, FROZEN_NOW + timedelta(minutes=11))
    phone.get_by_role("button", name="Continue").click()
    expect(phone.get_by_role("heading", name="Your held time has expired")).to_be_visible()
    check(phone, "book-expired")
    alternatives = phone.locator(".time-button")
    assert alternatives.count() >= 1
    alternatives.first.click()
    expect(phone.get_by_role("heading", name="Your details")).to_be_visible()


def _take_all_but_one(site: Site, start: str) -> None:
    """Other people hold ``start`` until one place is left (the clinic has several
    providers, so a time is usually free more than once)."""
    taken: list[dict[str, Any]] = []
    with httpx.Client(base_url=site.base_url) as http:
        for _ in range(20):
            held = http.post(
                "/api/v1/public/holds",
                json={"appointment_type_id": 1, "location_id": 1, "start_at": start},
                cookies={},
            )
            http.cookies.clear()
            if held.status_code != 201:
                break
            taken.append(held.json())
        assert taken, "the time was not free at all"
        last = taken[-1]
        released = http.delete(
            f"/api/v1/public/holds/{last['hold_id']}",
            headers={"X-Booking-Session": last["session_token"]},
        )
        assert released.status_code == 204, released.text


def test_two_patients_want_the_same_time_and_the_second_gets_alternatives(
    chromium: Browser, patient_site: Site
) -> None:
    first = new_context(chromium, PHONE)
    second = new_context(chromium, PHONE)
    pages = [first.new_page(), second.new_page()]
    for each in pages:
        each.goto(patient_site.url("/book/times?location=1&type=1&day=2026-11-24"))
    wanted = pages[0].locator(".time-button").first.get_attribute("value")
    assert wanted is not None
    assert wanted == pages[1].locator(".time-button").first.get_attribute("value")
    _take_all_but_one(patient_site, wanted)
    pages[0].locator(f'.time-button[value="{wanted}"]').click()
    expect(pages[0].get_by_role("heading", name="Your details")).to_be_visible()
    pages[1].locator(f'.time-button[value="{wanted}"]').click()
    expect(pages[1].get_by_role("heading", name="That time is not available")).to_be_visible()
    check(pages[1], "book-taken")
    offered = [b.get_attribute("value") for b in pages[1].locator(".time-button").all()]
    assert offered
    assert wanted not in offered
    pages[1].locator(".time-button").first.click()
    expect(pages[1].get_by_role("heading", name="Your details")).to_be_visible()
    first.close()
    second.close()


def test_a_dst_week_shows_the_clinic_local_times(
    phone: Page, patient_site: Site, clock_file: Path
) -> None:
    """Clocks go forward on Sunday 14 March 2027 in Boulder: the first time of Friday the
    12th (MST, UTC-7) and of Monday the 15th (MDT, UTC-6) are both the clinic's opening.
    (Seen from 1 March 2027: visits are bookable up to 90 days ahead.)"""
    set_time(clock_file, datetime(2027, 3, 1, 9, 0, tzinfo=DENVER))
    answers = {}
    for day in ("2027-03-12", "2027-03-15"):
        phone.goto(patient_site.url(f"/book/times?location=1&type=1&month=2027-03&day={day}"))
        button = phone.locator(".time-button").first
        answers[day] = (button.inner_text().splitlines()[0], button.get_attribute("value"))
        legend = phone.locator("legend").first.inner_text()
        assert ("MST" if day.endswith("12") else "MDT") in legend
    check(phone, "book-dst-week")
    assert answers["2027-03-12"][0] == answers["2027-03-15"][0] == "8:00 am"
    assert str(answers["2027-03-12"][1]).endswith("-07:00")
    assert str(answers["2027-03-15"][1]).endswith("-06:00")
    start = datetime.fromisoformat(str(answers["2027-03-15"][1]))
    assert start.astimezone(DENVER).hour == 8
