"""The patient month grid (``/book/times``) is right on the next request after every kind of
change, although the app keeps the grid's answers (``availability/cache.py``): a booking
taking a day's last time, its cancellation, a hold and its running out, the notice cut-off
passing, a closure, a provider's exception, a weekly rule edited, the type's terms. Through
the app, on SQLite and PostgreSQL.

Clock: Monday 2 March 2026, 09:00 in New York. The nurse of tests/clinic_fixture.py works
weekdays 8-17 and is away on Thursday 5 March until 16:00, so that day's one free
consultation (60 minutes) starts at 16:00.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from scheduler.kit.clock import FrozenClock
from scheduler.models import AvailabilityException, AvailabilityRule
from tests.clinic_fixture import Clinic
from tests.web.test_patient_pages import ROSA, book_as, csrf, hold_time

NEW_YORK = ZoneInfo("America/New_York")
THURSDAY = "Thursday 5 March"
THURSDAY_16 = "2026-03-05T16:00:00-05:00"
FREE_DAY = re.compile(r'aria-label="(\w+ \d+ \w+), free times"')


@pytest.fixture
def online(clinic: Clinic, db: Session) -> Clinic:
    clinic.consult.self_schedulable = True
    db.add(clinic.consult)
    db.add(
        AvailabilityException(
            provider_id=clinic.nurse.id,
            location_id=clinic.location_id,
            kind="unavailable",
            start_at=datetime(2026, 3, 5, 8, tzinfo=NEW_YORK),
            end_at=datetime(2026, 3, 5, 16, tzinfo=NEW_YORK),
        )
    )
    db.commit()
    return clinic


def free_days(browser: TestClient, clinic: Clinic, month: str = "2026-03") -> set[str]:
    page = browser.get(
        f"/book/times?location={clinic.location_id}&type={clinic.consult.id}&month={month}"
    )
    assert page.status_code == 200, page.text
    return set(FREE_DAY.findall(page.text))


def test_a_booking_of_a_days_last_time_closes_it_and_its_cancellation_opens_it(
    app: FastAPI, browser: TestClient, online: Clinic
) -> None:
    assert THURSDAY in free_days(browser, online)
    assert free_days(browser, online) == free_days(browser, online)
    assert app.state.open_starts_cache.hits >= 2  # the same question: from the cache
    details = hold_time(browser, online, THURSDAY_16)
    hits = app.state.open_starts_cache.hits
    assert THURSDAY not in free_days(browser, online)  # held for this browser's patient
    manage = book_as(browser, details, ROSA).split("?")[0]
    assert THURSDAY not in free_days(browser, online)  # booked
    step = browser.get(f"{manage}/cancel")
    done = browser.post(f"{manage}/cancel", data={"reason": "x", "csrftoken": csrf(step.text)})
    assert done.status_code == 303, done.text
    assert THURSDAY in free_days(browser, online)  # free again at once
    assert app.state.open_starts_cache.hits == hits  # each change was seen, none cached


def test_a_hold_closes_the_day_until_it_runs_out(
    browser: TestClient, online: Clinic, clock: FrozenClock
) -> None:
    assert THURSDAY in free_days(browser, online)
    hold_time(browser, online, THURSDAY_16)
    assert THURSDAY not in free_days(browser, online)
    clock.advance(timedelta(minutes=11))  # nothing written: the hold just ran out
    assert THURSDAY in free_days(browser, online)


def test_a_day_closes_when_the_notice_cut_off_passes_its_last_time(
    app: FastAPI, browser: TestClient, online: Clinic, clock: FrozenClock
) -> None:
    clock.advance(datetime(2026, 3, 5, 14, 59, tzinfo=NEW_YORK) - clock.now())
    assert THURSDAY in free_days(browser, online)  # 16:00 is an hour and a minute away
    hits = app.state.open_starts_cache.hits
    clock.advance(timedelta(minutes=2))
    assert THURSDAY not in free_days(browser, online)  # less than the hour's notice
    assert app.state.open_starts_cache.hits == hits + 1  # from the cache, cut off anew


def test_calendar_changes_show_on_the_next_request(
    browser: TestClient, online: Clinic, db: Session
) -> None:
    before = free_days(browser, online)
    assert {"Friday 6 March", "Tuesday 10 March", THURSDAY} <= before
    assert "Saturday 7 March" not in before
    # A closure of the whole clinic on Friday.
    db.add(
        AvailabilityException(
            location_id=online.location_id,
            kind="unavailable",
            start_at=datetime(2026, 3, 6, tzinfo=NEW_YORK),
            end_at=datetime(2026, 3, 7, tzinfo=NEW_YORK),
        )
    )
    db.commit()
    assert free_days(browser, online) == before - {"Friday 6 March"}
    # The nurse comes in on Saturday morning (an "extra" exception)...
    db.add(
        AvailabilityException(
            provider_id=online.nurse.id,
            location_id=online.location_id,
            kind="extra",
            start_at=datetime(2026, 3, 7, 9, tzinfo=NEW_YORK),
            end_at=datetime(2026, 3, 7, 12, tzinfo=NEW_YORK),
        )
    )
    db.commit()
    # ... but the clinic is closed on Saturdays (opening hours): no change.
    assert free_days(browser, online) == before - {"Friday 6 March"}
    # Her Tuesdays end at 8:30 from now on: too short for a consultation.
    tuesday = db.exec(
        select(AvailabilityRule).where(
            col(AvailabilityRule.provider_id) == online.nurse.id, col(AvailabilityRule.weekday) == 1
        )
    ).one()
    tuesday.end_time = time(8, 30)
    db.add(tuesday)
    db.commit()
    after_rule = free_days(browser, online)
    assert not any(day.startswith("Tuesday") for day in after_rule)
    assert after_rule == {d for d in before if not d.startswith("Tuesday")} - {"Friday 6 March"}
    # The consultation now needs four days' notice: Wednesday's and Thursday's times are
    # too soon (Thursday's one time, 16:00, is 79 hours away).
    online.consult.min_notice_minutes = 4 * 24 * 60
    db.add(online.consult)
    db.commit()
    assert {"Wednesday 4 March", THURSDAY} & free_days(browser, online) == set()
    # The nurse leaves: nobody does consultations here any more, so there is no picker.
    online.nurse.active = False
    db.add(online.nurse)
    db.commit()
    gone = browser.get(f"/book/times?location={online.location_id}&type={online.consult.id}")
    assert gone.status_code == 404
