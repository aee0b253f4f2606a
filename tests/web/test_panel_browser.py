"""The desk's side panel and keyboard shortcuts in headless Chromium against a live server
(SQLite and PostgreSQL): a booking opens over the board and is checked in from there, Escape
gives focus back to its block; the shortcuts move the board's day, open their help and can be
turned off; without JavaScript, or on a phone, a block still goes to the booking's page."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import Browser, Page, expect

from tests.web.browser import (
    DENVER,
    DESKTOP,
    FROZEN_NOW,
    PHONE,
    TABLET,
    TABLET_LANDSCAPE,
    Site,
    assert_accessible,
    screenshot,
    sign_in,
)

TODAY = FROZEN_NOW.astimezone(DENVER).date()


def _date_of(page: Page) -> str:
    return str(page.get_by_label("Date").input_value())


def test_a_block_opens_in_the_side_panel_and_escape_gives_focus_back(
    page: Page, site: Site
) -> None:
    sign_in(page, site)
    block = page.locator(".block", has_text="Riley Santos")
    booking_id = block.get_attribute("data-booking")
    block.click()
    panel = page.get_by_role("dialog", name=re.compile("Riley Santos"))
    expect(panel).to_be_visible()
    # The board stays; the address bar shows the booking (a reload opens its page).
    expect(
        page.get_by_role("heading", name=re.compile("Front Range Infusion Clinic"))
    ).to_be_visible()
    expect(page).to_have_url(site.url(f"/admin/bookings/{booking_id}"))
    expect(panel).to_contain_text("Ketamine infusion")
    expect(panel).to_contain_text("10:00")
    expect(panel).to_contain_text("America/Denver")
    expect(panel).to_contain_text("Chair")
    expect(panel).to_contain_text("Booked")
    expect(panel).to_contain_text("Not confirmed")  # the driver acknowledgement
    expect(panel.get_by_role("button", name="Check in")).to_be_visible()
    expect(panel.get_by_role("link", name="Open full page")).to_have_attribute(
        "href", f"/admin/bookings/{booking_id}"
    )
    # Focus moved into the panel, to the booking's name.
    expect(panel.get_by_role("heading", level=1)).to_be_focused()
    # The panel covers the right of the page, the board stays in view on its left.
    box = panel.bounding_box()
    assert box is not None
    assert box["x"] > 300
    assert abs(box["x"] + box["width"] - 1280) < 2
    assert_accessible(page)
    screenshot(page, "board-panel", (DESKTOP, TABLET_LANDSCAPE, TABLET), full_page=False)
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(page.locator(f'[data-booking="{booking_id}"]')).to_be_focused()
    expect(page).to_have_url(site.url("/admin/"))
    # Back closes the panel too, and Forward opens it again.
    block.click()
    expect(panel).to_be_visible()
    page.go_back()
    expect(panel).to_be_hidden()
    expect(page).to_have_url(site.url("/admin/"))
    page.go_forward()
    expect(panel).to_be_visible()
    expect(page).to_have_url(site.url(f"/admin/bookings/{booking_id}"))


def test_check_in_from_the_panel_and_the_board_shows_it(page: Page, site: Site) -> None:
    sign_in(page, site)
    block = page.locator(".block", has_text="Jordan Blake")
    expect(block).to_contain_text("late")
    block.click()
    panel = page.get_by_role("dialog", name=re.compile("Jordan Blake"))
    panel.get_by_role("button", name="Check in").click()
    expect(panel.get_by_role("status")).to_have_text("Done: the booking is checked in now.")
    expect(panel.get_by_role("status")).to_be_focused()
    expect(panel).to_contain_text("Checked in")
    expect(panel.get_by_role("button", name="Complete")).to_be_visible()
    # The board behind refreshed at once (not after its 30 seconds).
    expect(page.locator(".block", has_text="Jordan Blake")).to_contain_text("in chair")
    panel.get_by_role("button", name="Close the booking panel").click()
    expect(panel).to_be_hidden()
    expect(page.locator(".block", has_text="Jordan Blake")).to_be_focused()


def test_a_visit_on_today_opens_in_the_panel(page: Page, site: Site) -> None:
    sign_in(page, site)
    page.goto(site.url("/admin/today"))
    page.get_by_role("link", name="Avery Quinn").click()
    panel = page.get_by_role("dialog", name=re.compile("Avery Quinn"))
    expect(panel).to_contain_text("Screening consultation")
    expect(page.get_by_role("heading", name="Today's arrivals")).to_be_visible()
    # Ctrl+click still opens the page itself (in a new tab here), never the panel.
    page.keyboard.press("Escape")
    expect(page).to_have_url(site.url("/admin/today"))
    with page.context.expect_page() as tab:
        page.get_by_role("link", name="Avery Quinn").click(modifiers=["Control"])
    expect(tab.value).to_have_url(re.compile(r"/admin/bookings/\d+$"))
    expect(panel).to_be_hidden()


def test_the_shortcuts_move_the_board_and_open_their_help(page: Page, site: Site) -> None:
    sign_in(page, site)
    tomorrow = (TODAY + timedelta(days=1)).isoformat()
    page.keyboard.press("n")
    expect(page).to_have_url(re.compile(f"date={tomorrow}"))
    page.keyboard.press("n")
    expect(page).to_have_url(re.compile(f"date={TODAY + timedelta(days=2)}"))
    page.keyboard.press("p")
    expect(page).to_have_url(re.compile(f"date={tomorrow}"))
    page.keyboard.press("t")
    expect(page).to_have_url(re.compile(f"date={TODAY}"))

    # Typing in a field is typing: the date field keeps focus and the day stays.
    page.get_by_label("Date").focus()
    page.keyboard.press("n")
    page.keyboard.press("?")
    expect(page.get_by_label("Date")).to_be_focused()
    expect(page).to_have_url(re.compile(f"date={TODAY}"))
    expect(page.get_by_role("dialog")).to_have_count(0)

    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("?")
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_dialog).to_be_visible()
    expect(help_dialog).to_contain_text("Book a visit")
    expect(help_dialog).to_contain_text("Find a patient")
    assert_accessible(page)
    screenshot(page, "shortcuts-help", (DESKTOP, TABLET), full_page=False)
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()

    page.keyboard.press("b")
    expect(page).to_have_url(site.url("/admin/book"))
    page.keyboard.press("/")
    expect(page).to_have_url(site.url("/admin/patients#field-q"))
    expect(page.get_by_label("Find a patient")).to_be_focused()


def test_the_shortcuts_can_be_turned_off(page: Page, site: Site) -> None:
    sign_in(page, site)
    page.get_by_role("button", name="Keyboard shortcuts").click()
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    switch = help_dialog.get_by_label("Use the single-key shortcuts")
    expect(switch).to_be_checked()
    switch.uncheck()
    help_dialog.get_by_role("button", name="Close").click()
    expect(help_dialog).to_be_hidden()
    page.reload()
    page.keyboard.press("n")
    page.keyboard.press("?")
    expect(help_dialog).to_be_hidden()
    expect(page.get_by_label("Date")).to_have_value(TODAY.isoformat())
    # The footer's button still opens the list, where they are turned back on.
    page.get_by_role("button", name="Keyboard shortcuts").click()
    expect(switch).not_to_be_checked()
    switch.check()
    page.keyboard.press("Escape")
    page.keyboard.press("n")
    expect(page).to_have_url(re.compile(f"date={TODAY + timedelta(days=1)}"))


def test_without_javascript_a_block_goes_to_the_booking_page(chromium: Browser, site: Site) -> None:
    context = chromium.new_context(
        viewport={"width": 1280, "height": 800}, java_script_enabled=False
    )
    try:
        page = context.new_page()
        sign_in(page, site)
        expect(page.get_by_role("button", name="Keyboard shortcuts")).to_be_hidden()
        page.locator(".block", has_text="Riley Santos").click()
        expect(page).to_have_url(re.compile(r"/admin/bookings/\d+$"))
        expect(page.get_by_role("heading", level=1)).to_contain_text("Riley Santos")
        expect(page.get_by_role("dialog")).to_have_count(0)
    finally:
        context.close()


def test_on_a_phone_a_block_goes_to_the_booking_page(page: Page, site: Site) -> None:
    page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
    sign_in(page, site)
    page.locator(".block", has_text="Riley Santos").click()
    expect(page).to_have_url(re.compile(r"/admin/bookings/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Riley Santos")


def test_a_quote_or_backslash_key_is_ignored_without_a_script_error(page: Page, site: Site) -> None:
    """Keys that are not shortcuts do nothing, even those a CSS selector cannot hold as typed."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, site)
    page.locator("body").click(position={"x": 5, "y": 5})
    for key in ('"', "\\", "'", "]"):
        page.keyboard.press(key)
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    assert errors == []


# (width, height, touch screen, button shown): a desktop and a tablet-sized window with a
# keyboard and mouse keep the button; a touch tablet and any phone, which have no keyboard, don't.
_SHORTCUTS_BUTTON_CASES = (
    (1280, 800, False, True),
    (820, 1180, False, True),
    (390, 844, False, False),
    (820, 1180, True, False),
    (390, 844, True, False),
)


def test_the_shortcuts_button_shows_only_where_there_is_a_keyboard(
    chromium: Browser, site: Site
) -> None:
    for touch in (False, True):
        context = chromium.new_context(
            viewport={"width": 1280, "height": 800}, has_touch=touch, is_mobile=touch
        )
        try:
            page = context.new_page()
            sign_in(page, site)
            button = page.get_by_role("button", name="Keyboard shortcuts")
            for width, height, on_touch, shown in _SHORTCUTS_BUTTON_CASES:
                if on_touch != touch:
                    continue
                page.set_viewport_size({"width": width, "height": height})
                page.reload()
                where = f"{width}px{' touch' if touch else ''}"
                if shown:
                    expect(button, where).to_be_visible()
                    box = button.bounding_box()
                    assert box is not None
                    assert box["x"] >= 0, where
                    assert box["x"] + box["width"] <= width, where
                else:
                    expect(button, where).to_be_hidden()
                    # No empty footer strip left behind at the foot of the page.
                    footer = page.locator(".site-footer").bounding_box()
                    assert footer is None or footer["height"] == 0, where
                assert_accessible(page)
        finally:
            context.close()
