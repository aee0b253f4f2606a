"""A signed-in patient joins the waitlist in a real browser, at phone size (390x844) and at
1280x800, axe-core on every page: signs in by the e-mailed link (a real SMTP server), asks
to be told when an earlier infusion frees up, sees the entry on "my visits", removes it.

The demo's Jordan Blake may book infusions; the live server's clock is frozen at
``FROZEN_NOW`` (Tuesday 10 November 2026, 09:10 in Boulder).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from scheduler.db import build_engine, build_sessionmaker
from scheduler.kit.clock import FrozenClock
from tests.notifications.helpers import drain, make_worker, text_of, worker_settings
from tests.notifications.smtp_sink import SmtpServer
from tests.web.browser import DESKTOP, FROZEN_NOW, PHONE, Site, assert_accessible, screenshot


def check(page: Page, name: str, size: tuple[int, int]) -> None:
    assert_accessible(page)
    screenshot(page, f"patient-waitlist-{name}", sizes=(size,))
    assert page.evaluate("document.documentElement.scrollWidth") <= size[0]


def sign_in(page: Page, site: Site, tmp_path: Path) -> None:
    with SmtpServer() as smtp:
        page.goto(site.url("/me"))
        page.get_by_label("E-mail address").fill("jordan.blake@example.org")
        page.get_by_label("Date of birth").fill("1979-09-30")
        page.get_by_role("button", name="E-mail me a link").click()
        expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
        settings = worker_settings(site.database_url, smtp, tmp_path)
        engine = build_engine(settings)
        try:
            drain(make_worker(settings, build_sessionmaker(engine), FrozenClock(FROZEN_NOW)))
        finally:
            engine.dispose()
        mails = [m for m in smtp.sink.messages if "sign-in" in str(m["Subject"])]
        found = re.search(r"(/me/link/[A-Za-z0-9_\-]+)", text_of(mails[-1]))
        assert found
    page.goto(site.url(found.group(1)))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Your visits")).to_be_visible()


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_patient_joins_the_waitlist_sees_the_entry_and_removes_it(
    chromium: Browser, site: Site, tmp_path: Path, size: tuple[int, int]
) -> None:
    width, height = size
    context = chromium.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    sign_in(page, site, tmp_path)
    expect(page.get_by_text("You are not waiting for an earlier time.")).to_be_visible()
    page.get_by_role("link", name="Tell me if an earlier time frees up").click()
    expect(page.get_by_role("heading", name="Tell me if an earlier time frees up")).to_be_visible()
    check(page, "1-form", size)
    page.get_by_role("button", name="Put me on the waiting list").click()  # no type chosen
    expect(page.get_by_text("There is a problem")).to_be_visible()
    check(page, "2-error", size)
    kind = page.get_by_label("Type of visit")
    kind.select_option(label=kind.locator("option", has_text="Ketamine infusion").inner_text())
    page.get_by_label("Until").fill("2026-11-27")
    page.get_by_label("Not before").fill("08:00")
    page.get_by_label("Not after").fill("12:00")
    page.get_by_role("button", name="Put me on the waiting list").click()
    expect(page.get_by_role("heading", name="Waiting for an earlier time")).to_be_visible()
    expect(page.get_by_text("to 27 November 2026, 8:00 am to 12:00 pm")).to_be_visible()
    check(page, "3-waiting", size)
    page.get_by_role("button", name=re.compile("Remove")).click()
    expect(page.get_by_text("You are not waiting for an earlier time.")).to_be_visible()
    context.close()
