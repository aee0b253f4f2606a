"""The desk's messages page in headless Chromium against a live server with the demo clinic
(SQLite and PostgreSQL): after the mail server turned the clinic away, the failed messages
come first with the error in words; the desk filters, resends one and sees it queued. axe-core
checked, photographed on a desktop and a phone.

Clock: Tuesday 10 November 2026, 09:10 in Boulder (America/Denver).
"""

from __future__ import annotations

from playwright.sync_api import Page, expect
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from scheduler.db import build_engine
from scheduler.models import Notification, Patient
from scheduler.patient_access.service import request_link
from tests.conftest import make_settings
from tests.web.browser import (
    DESKTOP,
    FROZEN_NOW,
    PHONE,
    Site,
    assert_accessible,
    screenshot,
    table_overflow,
)
from tests.web.browser import sign_in as sign_in_page

AUTH_ERROR = "SMTP 535: 5.7.8 Authentication credentials invalid"


def _mail_failed(site: Site) -> None:
    """What the worker leaves when the clinic's mail password expired: every confirmation
    failed after its last attempt; and a returning patient's sign-in link failed too."""
    settings = make_settings(site.database_url)
    engine = build_engine(settings)
    try:
        factory = sessionmaker(engine, class_=Session, expire_on_commit=False)
        with factory() as session, session.begin():
            patient = session.exec(
                select(Patient).where(col(Patient.email) != "").order_by(col(Patient.id))
            ).first()
            assert patient is not None
            request_link(
                session,
                email=patient.email or "",
                date_of_birth=patient.date_of_birth,
                request_id="test",
                now=FROZEN_NOW,
                settings=settings,
            )
            failing = session.exec(
                select(Notification).where(col(Notification.kind).in_(("confirmation", "sign_in")))
            ).all()
            assert len(failing) >= 2
            for row in failing:
                row.status, row.attempts, row.last_error = "failed", 5, AUTH_ERROR
                session.add(row)
    finally:
        engine.dispose()


def test_the_desk_sees_failed_messages_first_and_resends_one(page: Page, site: Site) -> None:
    _mail_failed(site)
    sign_in_page(page, site)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Messages")).to_contain_text("failed")
    nav.get_by_role("link", name="Messages").click()
    expect(page).to_have_url(site.url("/admin/messages"))
    expect(page.get_by_role("heading", name="Messages to patients")).to_be_visible()
    expect(page.get_by_role("note")).to_contain_text("could not be sent")
    rows = page.locator("table.message-list tbody tr")
    expect(rows.first).to_have_class("is-failed")
    expect(rows.first).to_contain_text("refused the clinic's sign-in")
    expect(page.locator("table.message-list")).to_contain_text("Sign-in link")
    expect(page.get_by_text("Times in America/Denver.")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "messages", (DESKTOP, PHONE))

    page.get_by_label("Kind").select_option(label="Confirmation")
    page.get_by_label("Status").select_option(label="Failed")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(site.url("/admin/messages?status=failed&kind=confirmation"))
    expect(page.locator("table.message-list")).not_to_contain_text("Sign-in link")
    first = rows.first
    name = first.locator("th a").first.inner_text()
    first.get_by_role("button", name="Resend").click()
    expect(page.get_by_role("status")).to_contain_text("queued to be sent again")
    expect(page).to_have_url(site.url("/admin/messages?status=failed&kind=confirmation"))
    assert_accessible(page)
    screenshot(page, "messages-resent", (DESKTOP, PHONE))

    page.goto(site.url("/admin/messages?kind=confirmation&status=queued"))
    expect(page.locator("table.message-list")).to_contain_text(name)
    page.locator("table.message-list tbody tr").first.locator("th a").first.click()
    expect(page.get_by_role("heading", name="Messages")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "patient-messages", (DESKTOP, PHONE))
    # On a phone the patient's messages read as cards, nothing past the screen's edge.
    page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
    assert table_overflow(page, ".messages-section table") <= 0
