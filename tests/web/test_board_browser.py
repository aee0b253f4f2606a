"""The day board and the week view in headless Chromium against a live server (SQLite and
PostgreSQL): a booking made through the API shows in its chair at its time; DST days show
their real hours; axe-core finds nothing serious; screenshots at 1280x800 and 768x1024."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, text

from tests.web.browser import (
    DENVER,
    DESKTOP,
    FROZEN_NOW,
    PHONE,
    TABLET,
    TABLET_LANDSCAPE,
    TODAYS_VISITS,
    Site,
    assert_accessible,
    screenshot,
    sign_in,
)


def _ids(site: Site) -> dict[str, Any]:
    engine = create_engine(site.database_url)
    try:
        with engine.connect() as conn:
            location_id = conn.execute(text("SELECT id FROM location ORDER BY id")).scalar_one()
            chair_id = conn.execute(
                text("SELECT id FROM chair WHERE name = 'Chair 3' AND location_id = :l"),
                {"l": location_id},
            ).scalar_one()
            chair1 = conn.execute(
                text("SELECT id FROM chair WHERE name = 'Chair 1' AND location_id = :l"),
                {"l": location_id},
            ).scalar_one()
            type_id = conn.execute(
                text("SELECT id FROM appointment_type WHERE code = 'ketamine-infusion'")
            ).scalar_one()
            consult_id = conn.execute(
                text("SELECT id FROM appointment_type WHERE code = 'consult'")
            ).scalar_one()
            patient = conn.execute(
                text(
                    "SELECT id, first_name, last_name FROM patient "
                    "WHERE consult_completed AND consent_signed ORDER BY id"
                )
            ).first()
    finally:
        engine.dispose()
    assert patient is not None
    return {
        "location": location_id,
        "chair": chair_id,
        "chair1": chair1,
        "type": type_id,
        "consult": consult_id,
        "patient": patient[0],
        "name": f"{patient[1]} {patient[2]}",
    }


TODAY = FROZEN_NOW.astimezone(DENVER).date()  # the live server's today: Tuesday


def test_home_is_todays_board_with_the_now_line(page: Page, site: Site) -> None:
    sign_in(page, site)
    expect(page).to_have_url(site.url("/admin/"))
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text("Front Range Infusion Clinic")
    expect(heading).to_contain_text(TODAY.strftime("%A %-d %B %Y"))
    expect(heading).to_contain_text("today")
    expect(page.locator(".board-now")).to_have_attribute("data-now", "09:10")
    # The visits booked for today (tests/web/browser.py TODAYS_VISITS) are on the board.
    for visit in TODAYS_VISITS:
        block = page.locator(".block", has_text=visit.patient)
        expect(block).to_contain_text(visit.local_start.strftime("%H:%M"))
        lane = ".board-lane" if visit.type_code == "consult" else ".board-chair"
        expect(page.locator(lane).locator(".block", has_text=visit.patient)).to_have_count(1)
    assert_accessible(page)
    screenshot(page, "day-board")


# Each block's patient name as the eye sees it: whether it is cut (an ellipsis, or a line
# clamped), whether a word of it is split over two lines, whether it and the status stay
# inside the block; and the block's tooltip.
_BLOCK_NAMES = """() => [...document.querySelectorAll('.block')].map(block => {
    const box = block.getBoundingClientRect();
    const who = block.querySelector('.block__who');
    const status = block.querySelector('.status');
    // Squeezed by even a fraction of a pixel below the width its word needs, the status
    // ends in an ellipsis.
    const squeezed = el => { const width = el.getBoundingClientRect().width;
        el.style.flex = 'none'; el.style.maxWidth = 'none';
        const needed = el.getBoundingClientRect().width;
        el.style.flex = ''; el.style.maxWidth = ''; return needed - width > 0.001; };
    const inside = el => { const r = el.getBoundingClientRect();
        return r.width > 0 && r.left >= box.left - 0.5 && r.right <= box.right + 0.5
            && r.top >= box.top - 0.5 && r.bottom <= box.bottom + 0.5; };
    const text = who.firstChild, split = [];
    let at = 0;
    for (const word of text.data.split(' ')) {
        const range = document.createRange();
        range.setStart(text, at);
        range.setEnd(text, at + word.length);
        if (range.getClientRects().length > 1) split.push(word);
        at += word.length + 1;
    }
    return {name: who.textContent.trim(), title: block.title, split,
            cut: who.scrollWidth > who.clientWidth || who.scrollHeight > who.clientHeight + 1,
            nameInside: inside(who), statusInside: inside(status),
            statusCut: squeezed(status)};
})"""


@pytest.mark.parametrize(
    "size",
    [DESKTOP, TABLET_LANDSCAPE, (820, 1180), PHONE],
    ids=["desktop", "tablet-landscape", "tablet", "phone"],
)
def test_every_block_shows_its_patients_whole_name_and_status(
    page: Page, site: Site, size: tuple[int, int]
) -> None:
    """The 1-hour consultation's block is narrow (about 60px on a tablet): the name wraps
    to a second line instead of ending in "…", and the status is still written whole."""
    page.set_viewport_size({"width": size[0], "height": size[1]})
    sign_in(page, site)
    if size[0] > 900:  # a tablet held sideways shows (nearly) the whole day, as a desktop does
        frame = page.locator(".board-scroll")
        width, overflow = frame.evaluate("f => [f.clientWidth, f.scrollWidth - f.clientWidth]")
        assert overflow <= width * 0.1, f"the day scrolls {overflow}px sideways at {size[0]}px"
    blocks = page.evaluate(_BLOCK_NAMES)
    assert sorted(b["name"] for b in blocks) == sorted(v.patient for v in TODAYS_VISITS)
    for block in blocks:
        assert not block["cut"], f"{block['name']} is cut short at {size[0]}px"
        assert not block["split"], f"{block['name']}: {block['split']} split at {size[0]}px"
        assert block["nameInside"], f"{block['name']} overflows its block at {size[0]}px"
        assert block["statusInside"], f"{block['name']}'s status is off its block at {size[0]}px"
        assert not block["statusCut"], f"{block['name']}'s status is cut at {size[0]}px"
        assert block["title"].startswith(block["name"] + ", ")  # the tooltip stays
    assert_accessible(page)


# Every text the now line crosses: it must be painted over the line (hit testing follows the
# paint order, so the topmost element at a point of the line is what the eye sees there).
_TEXT_UNDER_THE_NOW_LINE = """() => {
    const line = document.querySelector('.board-now');
    line.style.pointerEvents = 'auto';
    const crossed = [], hidden = [];
    const texts = document.querySelectorAll(
        '.block__text > *, .status, .load, .board-section__title, .row-label');
    for (const text of texts) {
        text.scrollIntoView({block: 'center', inline: 'nearest'});
        const x = line.getBoundingClientRect().left + 1;
        const box = text.getBoundingClientRect();
        if (!(box.left < x && x < box.right && box.height)) continue;
        crossed.push(text.textContent.trim());
        const hit = document.elementFromPoint(x, box.top + box.height / 2);
        if (!text.contains(hit)) hidden.push(text.textContent.trim());
    }
    line.style.pointerEvents = '';
    return {crossed, hidden};
}"""


@pytest.mark.parametrize("size", [DESKTOP, TABLET, PHONE], ids=["desktop", "tablet", "phone"])
def test_the_now_line_hides_no_text_and_its_label_no_block(
    page: Page, site: Site, size: tuple[int, int]
) -> None:
    page.set_viewport_size({"width": size[0], "height": size[1]})
    sign_in(page, site)  # today's board, opened at "now" on a narrow screen
    # 09:10 crosses Jordan Blake's 09:00 infusion (name, type, status) and the load strip.
    result = page.evaluate(_TEXT_UNDER_THE_NOW_LINE)
    assert any("Jordan Blake" in text for text in result["crossed"]), result
    assert not result["hidden"], f"the now line hides {result['hidden']}"
    label = page.locator(".board-now__label")
    expect(label).to_have_text("now 09:10")
    expect(label).to_be_visible()
    box = label.bounding_box()
    line = page.locator(".board-now").bounding_box()
    assert box is not None
    assert line is not None
    assert box["x"] < line["x"] < box["x"] + box["width"]  # on the line
    for other in page.locator(".block, .board-hour").all():
        other_box = other.bounding_box()
        assert other_box is not None
        apart = (
            box["x"] + box["width"] <= other_box["x"] + 0.5
            or other_box["x"] + other_box["width"] <= box["x"] + 0.5
            or box["y"] + box["height"] <= other_box["y"] + 0.5
            or other_box["y"] + other_box["height"] <= box["y"] + 0.5
        )
        assert apart, f"the now label covers {other.text_content()!r}"
    screenshot(page, f"day-board-now-{size[0]}", sizes=(size,))


@pytest.fixture(scope="module")
def booked(site: Site) -> dict[str, Any]:
    """An infusion at 10:00 Denver time in Chair 3, booked through the API."""
    ids = _ids(site)
    day = TODAY + timedelta(days=2)  # beyond the types' 24-hour minimum notice
    start = datetime.combine(day, time(10, 0), tzinfo=DENVER)
    response = httpx.post(
        site.url("/api/v1/bookings"),
        json={
            "patient_id": ids["patient"],
            "appointment_type_id": ids["type"],
            "location_id": ids["location"],
            "chair_id": ids["chair"],
            "start_at": start.isoformat(),
        },
        headers=site.api_token(),
    )
    assert response.status_code == 201, response.text
    booking_id = response.json()["id"]
    consult = httpx.post(
        site.url("/api/v1/bookings"),
        json={
            "patient_id": ids["patient"],
            "appointment_type_id": ids["consult"],
            "location_id": ids["location"],
            "start_at": datetime.combine(day, time(14, 0), tzinfo=DENVER).isoformat(),
        },
        headers=site.api_token(),
    )
    assert consult.status_code == 201, consult.text
    hold = httpx.post(
        site.url("/api/v1/holds"),
        json={
            "appointment_type_id": ids["type"],
            "location_id": ids["location"],
            "chair_id": ids["chair1"],
            "start_at": datetime.combine(day, time(8, 30), tzinfo=DENVER).isoformat(),
        },
        headers=site.api_token(),
    )
    assert hold.status_code == 201, hold.text
    return {**ids, "day": day, "booking": booking_id, "consult_booking": consult.json()["id"]}


def test_a_board_narrowed_to_a_phone_opens_its_time_axis_at_now(page: Page, site: Site) -> None:
    # Loaded wide (the axis fits, nothing to scroll), then the window narrows, as a tablet
    # turned or a window dragged: the axis must open where "now" is, not at midnight.
    page.set_viewport_size({"width": DESKTOP[0], "height": DESKTOP[1]})
    sign_in(page, site)
    region = page.locator(".board-scroll")
    assert region.evaluate("r => r.scrollLeft") == 0
    page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
    expect(page.locator(".board-now")).to_be_in_viewport()
    assert region.evaluate("r => r.scrollLeft") > 0


def test_the_board_shows_a_booking_in_its_chair_at_its_time(
    page: Page, site: Site, booked: dict[str, Any]
) -> None:
    sign_in(page, site)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Front Range Infusion Clinic")
    page.get_by_label("Date").fill(booked["day"].isoformat())
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(
        booked["day"].strftime("%A %-d %B %Y")
    )
    expect(page.get_by_text("Times in America/Denver")).to_be_visible()

    chair = page.get_by_role("group", name="Chair 3", exact=True)
    block = chair.get_by_role("link", name=booked["name"])
    expect(block).to_be_visible()
    expect(block).to_contain_text("Ketamine infusion")
    expect(block).to_contain_text("10:00–11:40")
    expect(block).to_contain_text("booked")
    expect(block).to_have_attribute("href", f"/admin/bookings/{booked['booking']}")
    # The block starts under the 10:00 label, and no other chair has it.
    hour = page.locator('[data-hour="10:00"]').bounding_box()
    box = block.bounding_box()
    assert hour is not None
    assert box is not None
    assert abs(box["x"] - hour["x"]) < 4
    expect(page.get_by_role("group", name="Chair 1", exact=True).get_by_role("link")).to_have_count(
        0
    )
    # The hold (a thicker, dashed border) still has room for its type's line.
    hold = page.locator(".block--hold")
    expect(hold).to_contain_text("Ketamine infusion")
    assert hold.evaluate(
        """b => { const r = b.getBoundingClientRect();
            const t = b.querySelector('.block__what').getBoundingClientRect();
            return t.width > 0 && t.left >= r.left && t.right <= r.right
                && t.bottom <= r.bottom; }"""
    ), "the hold's type is out of sight"
    # The nurse's load strip counts the patient while monitored.
    assert_accessible(page)
    screenshot(page, "day-board-booked")


def test_previous_and_next_day_and_the_location_switcher(
    page: Page, site: Site, booked: dict[str, Any]
) -> None:
    sign_in(page, site)
    page.goto(site.url(f"/admin/board?location={booked['location']}&date={booked['day']}"))
    page.get_by_role("link", name="Next day").click()
    expect(page.get_by_label("Date")).to_have_value((booked["day"] + timedelta(days=1)).isoformat())
    page.get_by_role("link", name="Previous day").click()
    expect(page.get_by_label("Date")).to_have_value(booked["day"].isoformat())
    expect(page.get_by_label("Location")).to_have_value(str(booked["location"]))


@pytest.mark.parametrize(
    ("day", "hours", "repeated"),
    [
        pytest.param("2027-03-14", 23, None, id="spring_forward_gap"),
        pytest.param("2027-11-07", 25, "01:00 MST", id="fall_back_fold"),
    ],
)
def test_dst_day_boards_show_the_real_hours(
    page: Page, site: Site, booked: dict[str, Any], day: str, hours: int, repeated: str | None
) -> None:
    sign_in(page, site)
    page.goto(site.url(f"/admin/board?location={booked['location']}&date={day}"))
    expect(page.locator("[data-hour]")).to_have_count(hours)
    expect(page.get_by_text(f"this day has {hours} hours")).to_be_visible()
    labels = page.locator("[data-hour]").evaluate_all("els => els.map(e => e.dataset.hour)")
    assert ("02:00" in labels) is (hours != 23)
    if repeated:
        assert labels.count("01:00") == 1
        assert repeated in labels
    assert_accessible(page)
    screenshot(page, f"day-board-{day}")


def test_week_view(page: Page, site: Site, booked: dict[str, Any]) -> None:
    sign_in(page, site)
    page.goto(site.url(f"/admin/week?location={booked['location']}&date={booked['day']}"))
    row = page.get_by_role("row").filter(has_text=booked["day"].strftime("%a %-d %b"))
    expect(row).to_contain_text("1 chair visit")
    assert_accessible(page)
    screenshot(page, "week")
    row.get_by_role("link").click()
    expect(page.get_by_label("Date")).to_have_value(booked["day"].isoformat())


def test_the_board_refreshes_itself_with_a_new_booking(
    page: Page, site: Site, booked: dict[str, Any]
) -> None:
    day = booked["day"] + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    page.clock.install()
    sign_in(page, site)
    page.goto(site.url(f"/admin/board?location={booked['location']}&date={day}"))
    chair = page.get_by_role("group", name="Chair 3", exact=True)
    expect(chair.get_by_role("link")).to_have_count(0)
    response = httpx.post(
        site.url("/api/v1/bookings"),
        json={
            "patient_id": booked["patient"],
            "appointment_type_id": booked["type"],
            "location_id": booked["location"],
            "chair_id": booked["chair"],
            "start_at": datetime.combine(day, time(9, 0), tzinfo=DENVER).isoformat(),
        },
        headers=site.api_token(),
    )
    assert response.status_code == 201, response.text
    page.clock.run_for(31_000)
    expect(chair.get_by_role("link", name=booked["name"])).to_be_visible()
