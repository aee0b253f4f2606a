"""The waitlist in headless Chromium against a live server with the demo clinic (SQLite and
PostgreSQL): the desk adds a patient (after a field error), the worker's round offers them a
free time, and the patient takes it through the offer page. Every page checked with axe-core
and photographed at every size the helper takes (desktop, tablets, phone).

Clock: Tuesday 10 November 2026, 09:10 in Boulder (America/Denver).
"""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from scheduler.db import build_engine
from scheduler.models import WaitlistOffer
from scheduler.waitlist.tokens import offer_token
from scheduler.worker import jobs
from tests.conftest import TEST_SECRET, make_settings
from tests.web.browser import (
    FROZEN_NOW,
    PHONE,
    Site,
    assert_accessible,
    screenshot,
    sign_in,
)


def _nav_link(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Main").get_by_role("link", name="Waitlist")


def _offer_round(site: Site) -> str:
    """Run the worker's waitlist round at the frozen time; the newest offer's link token."""
    engine = build_engine(make_settings(site.database_url))
    try:
        factory = sessionmaker(engine, class_=Session, expire_on_commit=False)
        with factory() as session, session.begin():
            jobs.offer_waitlist_slots(
                session, now=FROZEN_NOW, offer_minutes=120, secret_key=TEST_SECRET
            )
        with factory() as session:
            offer = session.exec(
                select(WaitlistOffer).order_by(col(WaitlistOffer.id).desc())
            ).first()
            assert offer is not None
            return offer_token(TEST_SECRET, offer.nonce)
    finally:
        engine.dispose()


def test_desk_adds_a_patient_and_the_patient_takes_the_offered_time(page: Page, site: Site) -> None:
    sign_in(page, site)
    _nav_link(page).click()
    expect(page).to_have_url(site.url("/admin/waitlist"))
    expect(page.get_by_role("heading", name="Waitlist", exact=False)).to_be_visible()
    assert_accessible(page)
    screenshot(page, "waitlist-empty")

    form = page.locator("form[action='/admin/waitlist'][method='post']")
    form.get_by_label("Patient", exact=True).fill("Santos")
    form.get_by_label("Type of visit").select_option(label="Ketamine infusion")
    form.get_by_label("First day").fill("2026-11-12")
    form.get_by_label("Last day").fill("2026-11-11")
    form.get_by_role("button", name="Add to the waitlist").click()
    expect(page.locator("#error-latest_date")).to_contain_text("must not be before the first")
    expect(page.locator("#field-patient")).to_have_value("Santos")
    assert_accessible(page)
    screenshot(page, "waitlist-add-error")

    form.get_by_label("Last day").fill("2026-11-13")
    form.get_by_role("button", name="Add to the waitlist").click()
    expect(page.get_by_role("status")).to_contain_text("is on the waitlist")
    expect(page.locator("table.waitlist")).to_contain_text("Riley Santos")
    assert_accessible(page)
    screenshot(page, "waitlist")

    token = _offer_round(site)
    page.reload()
    expect(page.locator("table.waitlist")).to_contain_text("Offer sent")
    assert_accessible(page)

    offer = page.context.new_page()
    offer.goto(site.url(f"/waitlist/offer/{token}"))
    expect(offer.get_by_role("heading", name="A time has opened for you")).to_be_visible()
    assert_accessible(offer)
    screenshot(offer, "waitlist-offer")
    offer.get_by_role("button", name="Book this time").click()
    expect(offer.get_by_role("heading", name="You're booked")).to_be_visible()
    assert_accessible(offer)
    screenshot(offer, "waitlist-offer-booked", (PHONE,))

    page.goto(site.url("/admin/waitlist?show=all"))
    expect(page.locator("table.waitlist")).to_contain_text("Booked")
