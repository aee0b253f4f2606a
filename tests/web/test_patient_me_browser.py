"""A returning patient in a real browser at phone size (390x844), axe-core on every page:
asks for a link, gets it by e-mail (a real SMTP server), follows it, sees their visits and
books an infusion, which the demo clinic lets only eligible patients book online.

The demo's Jordan Blake has had the consultation and signed the consent; the live server's
clock is frozen at ``FROZEN_NOW`` (Tuesday 10 November 2026, 09:10 in Boulder).
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from scheduler.db import build_engine, build_sessionmaker
from scheduler.kit.clock import FrozenClock
from tests.notifications.helpers import drain, make_worker, text_of, worker_settings
from tests.notifications.smtp_sink import SmtpServer
from tests.web.browser import FROZEN_NOW, PHONE, Site, assert_accessible, screenshot


def check(page: Page, name: str) -> None:
    assert_accessible(page)
    screenshot(page, f"patient-me-{name}", sizes=(PHONE,))


def test_a_returning_patient_signs_in_by_email_and_books_an_infusion(
    chromium: Browser, site: Site, tmp_path: Path
) -> None:
    width, height = PHONE
    context = chromium.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    with SmtpServer() as smtp:
        page.goto(site.url("/book"))
        page.get_by_role("link", name="Sign in with your e-mail").click()
        expect(page.get_by_role("heading", name="See your visits")).to_be_visible()
        check(page, "1-ask")
        page.get_by_label("E-mail address").fill("jordan.blake@example.org")
        page.get_by_label("Date of birth").fill("1979-09-30")
        page.get_by_role("button", name="E-mail me a link").click()
        expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
        check(page, "2-sent")
        settings = worker_settings(site.database_url, smtp, tmp_path)
        engine = build_engine(settings)
        try:
            worker = make_worker(settings, build_sessionmaker(engine), FrozenClock(FROZEN_NOW))
            drain(worker)
        finally:
            engine.dispose()
        mails = [m for m in smtp.sink.messages if "sign-in" in str(m["Subject"])]
        assert len(mails) == 1  # (the demo's visits send their own confirmations too)
        assert "jordan.blake@example.org" in str(mails[0]["To"])
        assert "ketamine" not in str(mails[0]["Subject"]).lower()
        found = re.search(r"(/me/link/[A-Za-z0-9_\-]+)", text_of(mails[0]))
        assert found
    page.goto(site.url(found.group(1)))
    expect(page.get_by_role("heading", name="Sign in to see your visits")).to_be_visible()
    check(page, "3-link")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Your visits")).to_be_visible()
    expect(page.get_by_text("Signed in as Jordan Blake")).to_be_visible()
    check(page, "4-visits")
    page.get_by_role("link", name="Book a visit").first.click()
    expect(page.get_by_role("heading", name="What would you like to book?")).to_be_visible()
    check(page, "5-types")
    page.get_by_role("link", name="Choose a time for Ketamine infusion").click()
    expect(page.get_by_role("heading", name="Choose a time")).to_be_visible()
    page.locator("a.day--free").first.click()
    page.locator(".time-button").first.click()
    expect(page.get_by_role("heading", name="Your details")).to_be_visible()
    expect(page.get_by_text("Booking for Jordan Blake")).to_be_visible()
    check(page, "6-details")
    for box in page.locator('input[type="checkbox"]').all():
        box.check()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Check and book")).to_be_visible()
    check(page, "7-review")
    page.get_by_role("button", name="Book this visit").click()
    expect(page.get_by_role("heading", name="You're booked")).to_be_visible()
    expect(page.get_by_text("Ketamine infusion").first).to_be_visible()
    check(page, "8-booked")
    page.goto(site.url("/me/visits"))
    expect(page.get_by_text("Ketamine infusion").first).to_be_visible()
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width  # no horizontal scrolling at phone size
    context.close()
