"""Helpers for the browser tests: a live server with the demo clinic, Chromium through
Playwright, axe-core accessibility checks and screenshots.

Chromium is Debian's package (``/usr/bin/chromium``), not Playwright's download; axe-core
comes from the npm registry, pinned in ``tests/web/js/package-lock.json`` (``make`` installs
it). Screenshots go to ``test-artifacts/screenshots/<name>-<width>x<height>.png``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from fastapi.testclient import TestClient
from playwright.sync_api import Page
from sqlmodel import Session

from scheduler.db import build_engine, build_sessionmaker
from scheduler.demo import DEMO_PASSWORD, seed_demo
from scheduler.kit.clock import FrozenClock
from scheduler.main import create_app
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]
AXE_JS = Path(__file__).resolve().parent / "js" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Every desk page is checked and photographed at each: a desktop, a tablet both ways, a phone.
DESKTOP = (1280, 800)
TABLET_LANDSCAPE = (1024, 768)
TABLET = (768, 1024)
PHONE = (390, 844)
VIEWPORTS = (DESKTOP, TABLET_LANDSCAPE, TABLET, PHONE)
DESK = "desk@demo.clinic"
ADMIN = "admin@demo.clinic"
PASSWORD = DEMO_PASSWORD


@dataclass(frozen=True)
class Site:
    """A running server with the demo clinic, and its staff logins."""

    base_url: str
    database_url: str
    logins: dict[str, str]  # e-mail -> role

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def provider_login(self) -> str:
        return next(email for email, role in self.logins.items() if role == "provider")

    def api_token(self, email: str = ADMIN) -> dict[str, str]:
        response = httpx.post(
            self.url("/api/v1/auth/token"), data={"username": email, "password": PASSWORD}
        )
        response.raise_for_status()
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


# The live servers' clock: Tuesday 10 November 2026, 09:10 in Boulder (America/Denver, UTC-7).
FROZEN_NOW = datetime(2026, 11, 10, 16, 10, tzinfo=UTC)
DENVER = ZoneInfo("America/Denver")


@dataclass(frozen=True)
class SeededVisit:
    patient: str  # "First Last"
    type_code: str
    local_start: time
    driver_confirmed: bool = False


# The day the browser tests see: Jordan is late (09:00, not checked in at 09:10).
TODAYS_VISITS = (
    SeededVisit("Jordan Blake", "ketamine-infusion", time(9, 0), driver_confirmed=True),
    SeededVisit("Riley Santos", "ketamine-infusion", time(10, 0)),
    SeededVisit("Avery Quinn", "consult", time(11, 0)),
)


def seed_demo_clinic(database_url: str) -> dict[str, str]:
    """The demo clinic, and ``TODAYS_VISITS`` booked through the API two days before
    ``FROZEN_NOW``, as a receptionist would have. Returns e-mail -> role."""
    settings = make_settings(database_url)
    engine = build_engine(settings)
    try:
        with build_sessionmaker(engine)() as session, session.begin():
            logins = seed_demo(_as_session(session), now=FROZEN_NOW - timedelta(days=30))
    finally:
        engine.dispose()
    assert logins is not None
    app = create_app(settings, clock=FrozenClock(FROZEN_NOW - timedelta(days=2)))
    with TestClient(app) as client:
        token = client.post("/api/v1/auth/token", data={"username": DESK, "password": PASSWORD})
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        location = client.get("/api/v1/locations", headers=headers).json()["items"][0]
        types = client.get("/api/v1/appointment-types", headers=headers).json()["items"]
        patients = client.get("/api/v1/patients", headers=headers).json()["items"]
        day = FROZEN_NOW.astimezone(DENVER).date()
        for visit in TODAYS_VISITS:
            first, last = visit.patient.split(" ")
            patient = next(
                p for p in patients if p["first_name"] == first and p["last_name"] == last
            )
            kind = next(t for t in types if t["code"] == visit.type_code)
            start = datetime.combine(day, visit.local_start, DENVER)
            booked = client.post(
                "/api/v1/bookings",
                headers=headers,
                json={
                    "patient_id": patient["id"],
                    "appointment_type_id": kind["id"],
                    "location_id": location["id"],
                    "start_at": start.isoformat(),
                    "driver_confirmed": visit.driver_confirmed,
                },
            )
            assert booked.status_code == 201, booked.text
    return {email: role for role, email, _ in logins}


def _as_session(session: Any) -> Session:
    assert isinstance(session, Session)
    return session


def sign_in(page: Page, site: Site, email: str = DESK, password: str = PASSWORD) -> None:
    page.goto(site.url("/admin/login"))
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


@cache
def _axe_source() -> str:
    if not AXE_JS.is_file():
        msg = f"axe-core is missing at {AXE_JS}: run `make install-web-js`"
        raise RuntimeError(msg)
    return AXE_JS.read_text(encoding="utf-8")


def assert_accessible(page: Page) -> None:
    """Run axe-core (WCAG 2.x A/AA rules and best practices) on the page as it is now and
    fail on any serious or critical violation, listing each with the elements concerned.

    axe is evaluated through the DevTools protocol, which the page's CSP does not govern,
    so the page is checked under its real policy.
    """
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(_axe_source())
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ': ' + n.failureSummary),
            }));
        }"""
    )
    bad = [v for v in result if v["impact"] in ("serious", "critical")]
    assert not bad, f"accessibility violations on {page.url}:\n" + json.dumps(bad, indent=2)


def page_overflow(page: Page) -> int:
    """How many pixels the page scrolls sideways (0: it fits the window). Wide tables and
    the board scroll inside their own frames, which does not count."""
    return int(
        page.evaluate(
            "() => { const e = document.scrollingElement || document.documentElement;"
            " return e.scrollWidth - e.clientWidth; }"
        )
    )


def screenshot(
    page: Page,
    name: str,
    sizes: tuple[tuple[int, int], ...] = VIEWPORTS,
    *,
    full_page: bool = True,
) -> list[Path]:
    """Save the page at each of ``sizes`` (full page, or the window only when ``full_page`` is
    false: a dialog fixed to the window is drawn as the user sees it), then restore the viewport.

    Fails when the page scrolls sideways at that size (a sideways scroll on a tablet or a
    phone hides columns and buttons)."""
    safe = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    original = page.viewport_size
    paths = []
    for width, height in sizes:
        page.set_viewport_size({"width": width, "height": height})
        overflow = page_overflow(page)
        assert overflow <= 0, f"{page.url} is {overflow}px wider than a {width}px window"
        path = SCREENSHOTS / f"{safe}-{width}x{height}.png"
        page.screenshot(path=str(path), full_page=full_page)
        paths.append(path)
    if original:
        page.set_viewport_size(original)
    return paths


def table_overflow(page: Page, selector: str) -> int:
    """How many pixels the widest part of the table ``selector`` (its frame or any cell's
    content) reaches past the window's right edge, or past its frame's visible width (the frame
    scrolls sideways); 0 or less: it reads without sideways scrolling."""
    return int(
        page.evaluate(
            """sel => {
                const table = document.querySelector(sel);
                const frame = table.closest('.table-wrap') || table;
                let right = frame.scrollWidth - frame.clientWidth;
                for (const el of table.querySelectorAll('*')) {
                    right = Math.max(right, el.getBoundingClientRect().right - window.innerWidth);
                }
                return Math.ceil(right);
            }""",
            selector,
        )
    )


def accessibility_roles(page: Page) -> list[str]:
    """The roles in Chromium's own accessibility tree of the page (what a screen reader is
    given), e.g. ``table``, ``row``, ``rowheader``, ``columnheader``, ``cell``."""
    session = page.context.new_cdp_session(page)
    try:
        tree = session.send("Accessibility.getFullAXTree")
    finally:
        session.detach()
    return [str(n["role"]["value"]) for n in tree["nodes"] if "role" in n and not n.get("ignored")]


def assert_cards_on_a_phone(page: Page, selector: str) -> None:
    """At phone size the table ``selector`` (class ``data--cards``) reads as cards: nothing in
    it reaches past the screen, its first row's cells stand one under the other, each after its
    column's name, and a screen reader is still given a table with headers and cells. The
    viewport is restored afterwards."""
    original = page.viewport_size
    page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
    try:
        assert table_overflow(page, selector) <= 0
        row = page.locator(f"{selector} tbody tr").first
        boxes = [
            cell.bounding_box()
            for cell in row.locator(":scope > th, :scope > td").all()
            if cell.is_visible()
        ]
        tops = [box["y"] for box in boxes if box is not None]
        assert len(tops) >= 2
        assert tops == sorted(set(tops)), f"not one under the other: {tops}"
        labelled = row.locator(":scope > [data-label]").first
        shown = labelled.evaluate("td => getComputedStyle(td, '::before').content")
        assert shown not in ("none", "normal", ""), shown
        roles = accessibility_roles(page)
        for role in ("table", "columnheader", "rowheader", "cell"):
            assert role in roles, f"{role} missing from the accessibility tree: {set(roles)}"
        assert_accessible(page)
    finally:
        if original:
            page.set_viewport_size(original)


TAP_HEIGHT = 44  # px: the smallest target a finger hits reliably (WCAG 2.5.5)


def small_tap_targets(page: Page) -> list[str]:
    """The visible buttons, fields, drop-downs, disclosure toggles and menu links of the page
    that are less than ``TAP_HEIGHT`` pixels high, described by tag and text."""
    return list(
        page.evaluate(
            """min => [...document.querySelectorAll(
                'button, .button, select, summary, .site-nav a,'
                + ' input:not([type="hidden"], [type="checkbox"], [type="radio"])')]
              .filter(el => el.getClientRects().length && !el.closest('.visually-hidden'))
              .filter(el => el.getBoundingClientRect().height < min - 0.5)
              .map(el => el.tagName.toLowerCase() + ' "' + (el.textContent || el.name || '')
                   .trim().slice(0, 40) + '" ' + Math.round(el.getBoundingClientRect().height)
                   + 'px')""",
            TAP_HEIGHT,
        )
    )
