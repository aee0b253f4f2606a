"""Waitlist offers keep the clinic's quiet hours (21:00-08:00 in New York here): a slot freed at
night is offered by the first round at 08:00, not at 02:00; a start too close to 08:00 for its
notice is not offered at all; offers made before 21:00 still expire at night and pass on in
the morning. The worker's own rounds, with the injected clock.

The slot is Tuesday 3 March 2026, 10:00 (the infusion's notice is 60 minutes).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from scheduler.config import Settings
from scheduler.kit.clock import FrozenClock
from scheduler.models import Notification
from tests.bookings.test_bookings_api import book
from tests.clinic_fixture import Clinic
from tests.notifications.helpers import make_worker, worker_settings
from tests.series.test_series_api import desk_at
from tests.waitlist.helpers import add_entry, cancel, entry_status, full_tuesday, offers

TUESDAY_10_UTC = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)
MONDAY_2330_NY = datetime(2026, 3, 3, 4, 30, tzinfo=UTC)
TUESDAY_8_NY = datetime(2026, 3, 3, 13, 0, tzinfo=UTC)


def _offer_mails(db: Session) -> list[Notification]:
    db.expire_all()
    return list(db.exec(select(Notification).where(col(Notification.kind) == "waitlist_offer")))


def test_a_slot_freed_at_night_is_offered_at_eight(
    client: TestClient,
    desk_headers: dict[str, str],
    clinic: Clinic,
    db: Session,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    database_url: str,
    tmp_path: Path,
    settings: Settings,
) -> None:
    tuesday = full_tuesday(client, desk_headers, clinic, db)
    worker = make_worker(worker_settings(database_url, None, tmp_path), session_factory, clock)
    clock.set(MONDAY_2330_NY)
    # a late-evening cancellation
    cancel(client, desk_at(db, settings, clock.now()), tuesday.cancel_me)
    for at in (
        MONDAY_2330_NY,
        TUESDAY_8_NY - timedelta(hours=6),
        TUESDAY_8_NY - timedelta(minutes=1),
    ):
        clock.set(at)
        worker.run_jobs()
        assert offers(db) == [], at
        assert _offer_mails(db) == []
        assert entry_status(db, tuesday.first) == "waiting"

    clock.set(TUESDAY_8_NY)
    worker.run_jobs()
    (offer,) = offers(db)
    assert offer.entry_id == tuesday.first  # the same order as by day
    assert offer.start_at == TUESDAY_10_UTC
    assert offer.created_at == TUESDAY_8_NY
    assert offer.expires_at == TUESDAY_10_UTC - timedelta(minutes=60)  # the notice, not 2 h
    (mail,) = _offer_mails(db)
    assert mail.due_at == TUESDAY_8_NY
    assert mail.patient_id == tuesday.first_patient.id


def test_a_start_too_close_to_eight_for_its_notice_is_not_offered(
    client: TestClient,
    desk_headers: dict[str, str],
    clinic: Clinic,
    db: Session,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    database_url: str,
    tmp_path: Path,
    settings: Settings,
) -> None:
    """Tuesday 09:00 freed at night: at 08:00 it is an hour ahead, its notice is an hour, so
    no time is left to answer an offer; nothing is sent."""
    taken = book(client, desk_headers, clinic, start="2026-03-03T09:00:00-05:00")
    assert taken.status_code == 201, taken.text
    assert clinic.other_patient.id is not None
    entry = add_entry(
        client,
        desk_headers,
        clinic,
        clinic.other_patient.id,
        earliest_time="09:00",
        latest_time="09:10",
    )
    worker = make_worker(worker_settings(database_url, None, tmp_path), session_factory, clock)
    clock.set(MONDAY_2330_NY)
    cancel(client, desk_at(db, settings, clock.now()), taken.json()["id"])
    for at in (MONDAY_2330_NY, TUESDAY_8_NY, TUESDAY_8_NY + timedelta(minutes=5)):
        clock.set(at)
        worker.run_jobs()
    assert offers(db) == []
    assert _offer_mails(db) == []
    assert entry_status(db, entry) == "waiting"


@pytest.mark.parametrize(
    ("made_at", "offered_to"),
    [
        pytest.param(datetime(2026, 3, 3, 1, 59, tzinfo=UTC), "first", id="offered_at_2059"),
        pytest.param(datetime(2026, 3, 3, 2, 0, tzinfo=UTC), None, id="not_at_2100"),
    ],
)
def test_an_offer_made_before_nine_runs_its_course_and_passes_on_in_the_morning(
    client: TestClient,
    desk_headers: dict[str, str],
    clinic: Clinic,
    db: Session,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    database_url: str,
    tmp_path: Path,
    made_at: datetime,
    offered_to: str | None,
) -> None:
    tuesday = full_tuesday(client, desk_headers, clinic, db)
    worker = make_worker(worker_settings(database_url, None, tmp_path), session_factory, clock)
    cancel(client, desk_headers, tuesday.cancel_me)
    clock.set(made_at)
    worker.run_jobs()
    if offered_to is None:
        assert offers(db) == []
        return
    (first,) = offers(db)
    assert first.entry_id == tuesday.first
    assert first.expires_at == made_at + timedelta(minutes=120)
    clock.set(made_at + timedelta(minutes=121))  # 23:00: expired, not passed on at night
    worker.run_jobs()
    (expired,) = offers(db)
    assert expired.status == "expired"
    assert entry_status(db, tuesday.second) == "waiting"
    clock.set(TUESDAY_8_NY)
    worker.run_jobs()
    expired, second = offers(db)
    assert second.entry_id == tuesday.second
    assert second.start_at == TUESDAY_10_UTC
