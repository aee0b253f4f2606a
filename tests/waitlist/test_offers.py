"""The worker offers freed slots to the waitlist: a cancellation makes exactly one offer, to
the right entry, carried by a message whose link books it; an ignored offer passes on.

Clock: Monday 2 March 2026, 09:00 in New York; the slot is Tuesday 3 March, 10:00.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from scheduler.kit.clock import FrozenClock
from scheduler.models import Booking, Hold, Notification, Series
from scheduler.waitlist.accept_service import accept_offer
from tests.clinic_fixture import Clinic
from tests.notifications.helpers import drain, make_worker, text_of, worker_settings
from tests.notifications.smtp_sink import SmtpServer
from tests.waitlist.helpers import (
    add_entry,
    cancel,
    entry_status,
    full_tuesday,
    offer_token,
    offers,
)

TUESDAY_10_UTC = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)


def test_a_cancellation_makes_one_offer_to_the_first_entry_and_its_link_books_it(
    client: TestClient,
    desk_headers: dict[str, str],
    clinic: Clinic,
    db: Session,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    database_url: str,
    smtp: SmtpServer,
    tmp_path: Path,
) -> None:
    tuesday = full_tuesday(client, desk_headers, clinic, db)
    worker = make_worker(worker_settings(database_url, smtp, tmp_path), session_factory, clock)
    worker.run_jobs()
    assert offers(db) == []  # nothing is free in their window

    cancel(client, desk_headers, tuesday.cancel_me)
    worker.run_jobs()
    worker.run_jobs()  # a second round changes nothing
    (offer,) = offers(db)
    assert offer.entry_id == tuesday.first
    assert offer.start_at == TUESDAY_10_UTC
    assert offer.expires_at == clock.now() + timedelta(minutes=120)
    assert entry_status(db, tuesday.first) == "offered"
    assert entry_status(db, tuesday.second) == "waiting"
    hold = db.get(Hold, offer.hold_id)
    assert hold is not None
    assert hold.patient_id == tuesday.first_patient.id
    assert hold.expires_at == offer.expires_at

    drain(worker)
    (mail,) = [m for m in smtp.sink.messages if m["To"] == tuesday.first_patient.email]
    assert mail["Subject"] == "A time has opened at Downtown on Tue 3 Mar, 10:00"
    assert "infusion" not in mail["Subject"].lower()
    assert "Tuesday 3 March 2026, 10:00 Eastern Time (EST)" in text_of(mail)
    token = offer_token(mail)
    assert token not in str(offer.model_dump())  # only its hash is stored
    notification = db.get(Notification, offer.notification_id)
    assert notification is not None
    assert notification.status == "sent"
    assert notification.patient_id == tuesday.first_patient.id

    with session_factory() as session, session.begin():
        booking_id = accept_offer(session, token, now=clock.now())
    db.expire_all()
    booking = db.get(Booking, booking_id)
    assert booking is not None
    assert booking.patient_id == tuesday.first_patient.id
    assert booking.start_at == TUESDAY_10_UTC
    assert booking.status == "booked"
    assert entry_status(db, tuesday.first) == "booked"
    assert [o.status for o in offers(db)] == ["accepted"]
    worker.run_jobs()
    assert len(offers(db)) == 1  # the booked time is not offered again


def test_an_ignored_offer_expires_and_passes_to_the_next_entry(
    client: TestClient,
    desk_headers: dict[str, str],
    clinic: Clinic,
    db: Session,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    database_url: str,
    tmp_path: Path,
) -> None:
    tuesday = full_tuesday(client, desk_headers, clinic, db)
    worker = make_worker(worker_settings(database_url, None, tmp_path), session_factory, clock)
    cancel(client, desk_headers, tuesday.cancel_me)
    worker.run_jobs()
    (first,) = offers(db)
    assert first.entry_id == tuesday.first

    clock.advance(timedelta(minutes=119))
    worker.run_jobs()
    assert [o.status for o in offers(db)] == ["offered"]  # not yet

    clock.advance(timedelta(minutes=2))
    worker.run_jobs()
    expired, second = offers(db)
    assert expired.status == "expired"
    hold = db.get(Hold, expired.hold_id)
    assert hold is not None
    assert hold.released_at is not None
    assert second.entry_id == tuesday.second
    assert second.start_at == TUESDAY_10_UTC
    assert entry_status(db, tuesday.first) == "waiting"  # still on the list for another time
    assert entry_status(db, tuesday.second) == "offered"


def test_an_offer_never_outlives_the_slots_notice_and_a_series_that_would_slip_goes_first(
    client: TestClient,
    desk_headers: dict[str, str],
    clinic: Clinic,
    db: Session,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    database_url: str,
    tmp_path: Path,
) -> None:
    tuesday = full_tuesday(client, desk_headers, clinic, db)
    # The second patient has an active course with no visit booked ahead: it goes first.
    db.add(Series(patient_id=tuesday.second_patient.id, label="Induction", created_at=clock.now()))
    db.commit()
    cancel(client, desk_headers, tuesday.cancel_me)
    clock.set(TUESDAY_10_UTC - timedelta(minutes=90))  # 8:30, notice is 60 minutes
    worker = make_worker(worker_settings(database_url, None, tmp_path), session_factory, clock)
    worker.run_jobs()
    (offer,) = offers(db)
    assert offer.entry_id == tuesday.second
    assert offer.expires_at == TUESDAY_10_UTC - timedelta(minutes=60)


def test_entries_expire_after_their_last_day_in_the_clinics_zone(
    client: TestClient,
    desk_headers: dict[str, str],
    clinic: Clinic,
    db: Session,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    database_url: str,
    tmp_path: Path,
) -> None:
    assert clinic.patient.id is not None
    entry = add_entry(
        client, desk_headers, clinic, clinic.patient.id, earliest_time="18:00", latest_time="19:00"
    )
    worker = make_worker(worker_settings(database_url, None, tmp_path), session_factory, clock)
    # 23:59 on Tuesday in New York (04:59 UTC Wednesday): still Tuesday there.
    clock.set(datetime(2026, 3, 4, 4, 59, tzinfo=UTC))
    worker.run_jobs()
    assert entry_status(db, entry) == "waiting"
    clock.set(datetime(2026, 3, 4, 5, 0, tzinfo=UTC))
    worker.run_jobs()
    assert entry_status(db, entry) == "expired"
    assert offers(db) == []
    assert db.exec(select(Booking).where(col(Booking.source) == "waitlist")).all() == []
