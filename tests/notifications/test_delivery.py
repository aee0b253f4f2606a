"""The worker sends what the outbox holds to a real SMTP server (aiosmtpd), on the test's
clock: the right messages with the right local times across a DST change, reminders that
follow a reschedule, none for a cancelled visit, retries then ``failed`` when the server
refuses or hangs, links that work, and the reminder opt-out.

Clock: Monday 2 March 2026, 09:00 in New York; the US clocks go forward on Sunday 8 March.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from scheduler.config import Settings
from scheduler.kit.clock import FrozenClock
from scheduler.notifications.outbox import queued_for
from scheduler.notifications.transports import OutgoingMessage, Transport, build_transport
from scheduler.worker.runner import Worker
from tests.bookings.test_bookings_api import book
from tests.clinic_fixture import Clinic
from tests.factories import auth_headers, make_patient, make_user
from tests.notifications.helpers import (
    attachments,
    drain,
    html_of,
    link_token,
    make_worker,
    text_of,
    worker_settings,
)
from tests.notifications.smtp_sink import SmtpServer

MONDAY_9_MARCH_10 = "2026-03-09T10:00:00-04:00"  # EDT, after the change
THURSDAY_10 = "2026-03-05T10:00:00-05:00"
PUBLIC = "/api/v1/public"


@pytest.fixture
def prepared(clinic: Clinic, db: Session) -> Clinic:
    clinic.infusion.fasting_hours = 6
    clinic.infusion.clear_liquids_hours = 2
    clinic.infusion.driver_required = True
    clinic.location.address = "100 Main St, New York"
    clinic.location.phone = "+1 212 555 0100"
    db.add_all([clinic.infusion, clinic.location])
    db.commit()
    return clinic


def test_messages_arrive_with_local_times_across_the_dst_change(
    client: TestClient,
    desk_headers: dict[str, str],
    prepared: Clinic,
    db: Session,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    database_url: str,
    smtp: SmtpServer,
    tmp_path: Path,
) -> None:
    response = book(client, desk_headers, prepared, start=MONDAY_9_MARCH_10)
    assert response.status_code == 201, response.text
    worker = make_worker(worker_settings(database_url, smtp, tmp_path), session_factory, clock)

    assert drain(worker) == 1  # only the confirmation is due now
    (confirmation,) = smtp.sink.messages
    assert confirmation["Subject"] == "Your appointment at Downtown on Mon 9 Mar, 10:00"
    assert confirmation["To"] == prepared.patient.email
    assert confirmation["From"] == "Downtown Clinic <desk@clinic.example>"
    text = text_of(confirmation)
    assert "Monday 9 March 2026, 10:00 Eastern Time (EDT)" in text
    assert "100 Main St, New York" in text
    assert "Stop eating at 04:00" in text
    assert "Clear liquids only until 08:00" in text
    assert "Bring a driver" in text
    assert "Monday 9 March 2026, 10:00 Eastern Time (EDT)" in html_of(confirmation)
    for part in (confirmation["Subject"], text, html_of(confirmation)):
        assert "etamine" not in part  # never the treatment
        assert prepared.patient.last_name not in part  # minimum necessary: first name only
    (ics,) = attachments(confirmation)
    assert ics.get_content_type() == "text/calendar"
    # The attachment names neither the treatment nor the patient, like the subject.
    assert ics.get_filename() == "appointment.ics"
    assert ics.get_content_charset() == "utf-8"
    assert "SUMMARY:Appointment – Downtown" in ics.get_content()
    assert "etamine" not in ics.get_content()
    assert prepared.infusion.name not in ics.get_content()
    assert prepared.patient.last_name not in ics.get_content()
    assert "TZID=America/New_York:20260309T100000" in ics.get_content()
    stored = queued_for(db, response.json()["id"])
    assert confirmation["Message-ID"] == stored[0].message_id

    # Saturday 7 March, 09:00 EST: the 48-hour reminder (48 real hours before 10:00 EDT).
    clock.set(datetime(2026, 3, 7, 14, 0, tzinfo=UTC))
    assert drain(worker) == 1
    reminder = smtp.sink.messages[-1]
    assert reminder["Subject"] == "Reminder: your appointment at Downtown on Mon 9 Mar, 10:00"
    assert "10:00 Eastern Time (EDT)" in text_of(reminder)
    assert reminder["List-Unsubscribe"].startswith("<http://127.0.0.1:8000/api/v1/public/")

    # Sunday 8 March after the change: the 24-hour reminder and the day-before instructions.
    clock.set(datetime(2026, 3, 8, 22, 0, tzinfo=UTC))  # 18:00 EDT
    assert drain(worker) == 2
    subjects = sorted(str(m["Subject"]) for m in smtp.sink.messages[-2:])
    assert subjects == [
        "Getting ready for your appointment at Downtown on Mon 9 Mar, 10:00",
        "Reminder: your appointment at Downtown on Mon 9 Mar, 10:00",
    ]
    db.expire_all()
    assert {n.status for n in queued_for(db, response.json()["id"])} == {"sent"}
    assert len(set(smtp.sink.message_ids())) == 4


def test_a_rescheduled_visit_is_reminded_of_its_new_time_only(
    client: TestClient,
    desk_headers: dict[str, str],
    prepared: Clinic,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    database_url: str,
    smtp: SmtpServer,
    tmp_path: Path,
) -> None:
    worker = make_worker(worker_settings(database_url, smtp, tmp_path), session_factory, clock)
    old = book(client, desk_headers, prepared, start=THURSDAY_10).json()["id"]
    drain(worker)
    moved = client.post(
        f"/api/v1/bookings/{old}/reschedule",
        json={"start_at": "2026-03-06T11:00:00-05:00"},
        headers=desk_headers,
    )
    assert moved.status_code == 201, moved.text
    clock.set(datetime(2026, 3, 7, tzinfo=UTC))  # after both visits' reminders were due
    drain(worker)
    subjects = [str(m["Subject"]) for m in smtp.sink.messages]
    assert subjects[:2] == [
        "Your appointment at Downtown on Thu 5 Mar, 10:00",
        "Your appointment at Downtown has moved to Fri 6 Mar, 11:00",
    ]
    assert all("Thu 5 Mar" not in s for s in subjects[2:])
    assert sorted(subjects[2:]) == [
        "Getting ready for your appointment at Downtown on Fri 6 Mar, 11:00",
        "Reminder: your appointment at Downtown on Fri 6 Mar, 11:00",
        "Reminder: your appointment at Downtown on Fri 6 Mar, 11:00",
    ]
    # The first confirmation's manage link now opens the new time.
    token = link_token(smtp.sink.messages[0])
    view = client.get(f"{PUBLIC}/manage/{token}")
    assert view.status_code == 200, view.text
    assert view.json()["start_at"] == "2026-03-06T11:00:00-05:00"


def test_a_cancelled_visit_gets_its_cancellation_and_no_reminder(
    client: TestClient,
    desk_headers: dict[str, str],
    prepared: Clinic,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    database_url: str,
    smtp: SmtpServer,
    tmp_path: Path,
) -> None:
    worker = make_worker(worker_settings(database_url, smtp, tmp_path), session_factory, clock)
    booking = book(client, desk_headers, prepared, start=THURSDAY_10).json()["id"]
    drain(worker)
    cancelled = client.post(
        f"/api/v1/bookings/{booking}/cancel",
        json={"reason": "clinic closed", "cancelled_by": "clinic"},
        headers=desk_headers,
    )
    assert cancelled.status_code == 200, cancelled.text
    clock.set(datetime(2026, 3, 6, tzinfo=UTC))
    drain(worker)
    subjects = [str(m["Subject"]) for m in smtp.sink.messages]
    assert subjects == [
        "Your appointment at Downtown on Thu 5 Mar, 10:00",
        "Your appointment at Downtown on Thu 5 Mar, 10:00 is cancelled",
    ]
    assert "The clinic has cancelled your appointment" in text_of(smtp.sink.messages[1])
    (ics,) = attachments(smtp.sink.messages[1])
    assert "STATUS:CANCELLED" in ics.get_content()


def test_a_refusing_server_means_retries_with_backoff_then_failed_and_the_worker_goes_on(
    client: TestClient,
    desk_headers: dict[str, str],
    prepared: Clinic,
    db: Session,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    database_url: str,
    smtp: SmtpServer,
    tmp_path: Path,
) -> None:
    bouncing = make_patient(
        db, first_name="Bo", email="bounce@example.org", consult_completed=True, consent_signed=True
    )
    worker = make_worker(worker_settings(database_url, smtp, tmp_path), session_factory, clock)
    bad = book(client, desk_headers, prepared, patient_id=bouncing.id, start=THURSDAY_10)
    good = book(client, desk_headers, prepared, start="2026-03-05T13:00:00-05:00")
    assert bad.status_code == good.status_code == 201
    drain(worker)
    assert [m["To"] for m in smtp.sink.messages] == [prepared.patient.email]
    first = queued_for(db, bad.json()["id"])[0]
    db.refresh(first)
    assert (first.status, first.attempts) == ("queued", 1)
    assert "550" in first.last_error
    assert "bounce@" not in first.last_error  # no address in what staff and logs see
    assert first.due_at == clock.now() + timedelta(seconds=60)

    clock.advance(timedelta(seconds=59))
    assert drain(worker) == 0  # not due yet
    clock.advance(timedelta(seconds=1))
    assert drain(worker) == 1
    db.refresh(first)
    assert first.due_at == clock.now() + timedelta(seconds=120)  # doubled
    clock.advance(timedelta(seconds=120))
    drain(worker)
    db.refresh(first)
    assert (first.status, first.attempts) == ("failed", 3)

    listed = client.get(f"/api/v1/bookings/{bad.json()['id']}/notifications", headers=desk_headers)
    shown = listed.json()[0]
    assert shown["status"] == "failed"
    assert shown["attempts"] == 3
    assert "550" in shown["last_error"]


def test_a_server_that_hangs_times_out_and_the_message_goes_on_the_next_attempt(
    client: TestClient,
    desk_headers: dict[str, str],
    prepared: Clinic,
    db: Session,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    database_url: str,
    smtp: SmtpServer,
    tmp_path: Path,
) -> None:
    settings = worker_settings(database_url, smtp, tmp_path, smtp_timeout_seconds=0.3)
    worker = make_worker(settings, session_factory, clock)
    booking = book(client, desk_headers, prepared, start=THURSDAY_10).json()["id"]
    smtp.sink.mode, smtp.sink.hang_seconds = "hang", 1.0
    drain(worker)
    first = queued_for(db, booking)[0]
    db.refresh(first)
    assert (first.status, first.attempts) == ("queued", 1)
    assert "timed out" in first.last_error
    smtp.sink.mode = "accept"
    clock.advance(timedelta(minutes=1))
    drain(worker)
    db.refresh(first)
    assert first.status == "sent"
    # The hung attempt had not handed the message over: it arrived once.
    assert smtp.sink.message_ids() == [first.message_id]


def test_a_front_desk_booking_gets_a_working_manage_link_and_can_stop_reminders(
    client: TestClient,
    settings: Settings,
    desk_headers: dict[str, str],
    prepared: Clinic,
    db: Session,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    database_url: str,
    smtp: SmtpServer,
    tmp_path: Path,
) -> None:
    worker = make_worker(worker_settings(database_url, smtp, tmp_path), session_factory, clock)
    booking = book(client, desk_headers, prepared, start=THURSDAY_10).json()["id"]
    clock.set(datetime(2026, 3, 3, 15, 0, tzinfo=UTC))  # the 48-hour reminder is due
    drain(worker)
    confirmation, reminder = smtp.sink.messages
    view = client.get(f"{PUBLIC}/manage/{link_token(confirmation)}")
    assert view.status_code == 200, view.text
    assert view.json()["start_at"] == "2026-03-05T10:00:00-05:00"
    assert client.get(f"{PUBLIC}/manage/not-a-real-token").status_code == 404

    opt_out = link_token(reminder, "opt-out")
    page = client.get(f"{PUBLIC}/reminders/{opt_out}/opt-out")
    assert page.status_code == 200
    assert '<form method="post"' in page.text  # a GET alone changes nothing
    done = client.post(f"{PUBLIC}/reminders/{opt_out}/opt-out")
    assert done.status_code == 200, done.text
    assert client.post(f"{PUBLIC}/reminders/unknown/opt-out").status_code == 404

    clock.set(datetime(2026, 3, 5, tzinfo=UTC))
    drain(worker)
    assert len(smtp.sink.messages) == 2  # no more reminders
    db.expire_all()
    states = {(n.kind, n.status, n.last_error) for n in queued_for(db, booking)}
    assert ("reminder", "withdrawn", "the patient opted out") in states
    assert ("instructions", "withdrawn", "the patient opted out") in states
    # Cancelling still tells the patient.
    later = auth_headers(
        make_user(db, role="front_desk", email="late@clinic.example"), settings, clock.now()
    )
    cancelled = client.post(
        f"/api/v1/bookings/{booking}/cancel",
        json={"reason": "patient called", "cancelled_by": "patient"},
        headers=later,
    )
    assert cancelled.status_code == 200, cancelled.text
    drain(worker)
    assert smtp.sink.messages[-1]["Subject"].endswith("is cancelled")


def test_staff_resend_a_sent_message_as_a_new_copy(
    client: TestClient,
    desk_headers: dict[str, str],
    prepared: Clinic,
    db: Session,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    database_url: str,
    smtp: SmtpServer,
    tmp_path: Path,
) -> None:
    worker = make_worker(worker_settings(database_url, smtp, tmp_path), session_factory, clock)
    booking = book(client, desk_headers, prepared, start=THURSDAY_10).json()["id"]
    drain(worker)
    sent = queued_for(db, booking)[0]
    resent = client.post(f"/api/v1/notifications/{sent.id}/resend", headers=desk_headers)
    assert resent.status_code == 201, resent.text
    assert resent.json()["status"] == "queued"
    drain(worker)
    first, second = smtp.sink.messages
    assert first["Subject"] == second["Subject"]
    assert first["Message-ID"] != second["Message-ID"]


def test_the_file_transport_writes_eml_files_and_logs_no_personal_data(
    client: TestClient,
    desk_headers: dict[str, str],
    prepared: Clinic,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    database_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    worker = make_worker(worker_settings(database_url, None, tmp_path), session_factory, clock)
    book(client, desk_headers, prepared, start=THURSDAY_10)
    with caplog.at_level(logging.INFO, logger="scheduler"):
        drain(worker)
    (eml,) = (tmp_path / "outbox").glob("*.eml")
    assert b"Subject: Your appointment at Downtown on Thu 5 Mar, 10:00" in eml.read_bytes()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert str(eml) in logged
    for personal in (prepared.patient.email, prepared.patient.first_name, "Thu 5 Mar"):
        assert personal not in logged


def test_a_server_slow_to_confirm_a_message_does_not_get_it_twice(
    client: TestClient,
    desk_headers: dict[str, str],
    prepared: Clinic,
    db: Session,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    database_url: str,
    smtp: SmtpServer,
    tmp_path: Path,
) -> None:
    """The server keeps the message but answers the end of its data after the command
    timeout (a loaded machine): the worker waits for that answer instead of taking the
    silence as a failure and sending the message again on a new connection."""
    worker = make_worker(worker_settings(database_url, smtp, tmp_path), session_factory, clock)
    booking = book(client, desk_headers, prepared, start=THURSDAY_10).json()["id"]
    smtp.sink.delay_seconds = 1.5  # past the 1 s timeout of every other reply
    assert drain(worker) == 1
    time.sleep(2 * smtp.sink.delay_seconds)  # any second copy reaches the server meanwhile
    stored = queued_for(db, booking)[0]
    db.refresh(stored)
    assert smtp.sink.message_ids() == [stored.message_id]
    assert (stored.status, stored.attempts) == ("sent", 1)


def test_a_message_the_server_never_confirms_is_failed_not_sent_again(
    client: TestClient,
    desk_headers: dict[str, str],
    prepared: Clinic,
    db: Session,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    database_url: str,
    smtp: SmtpServer,
    tmp_path: Path,
) -> None:
    """Past the wait for its confirmation the message may have arrived: the worker does not
    send it again; staff see why it failed and may resend it."""
    settings = worker_settings(
        database_url, smtp, tmp_path, smtp_timeout_seconds=0.3, smtp_data_timeout_seconds=0.5
    )
    worker = make_worker(settings, session_factory, clock)
    booking = book(client, desk_headers, prepared, start=THURSDAY_10).json()["id"]
    smtp.sink.delay_seconds = 1.5
    assert drain(worker) == 1
    smtp.sink.delay_seconds = 0.0
    clock.advance(timedelta(hours=1))
    assert drain(worker) == 0
    time.sleep(2.0)  # a copy the server kept after all has arrived by now
    stored = queued_for(db, booking)[0]
    db.refresh(stored)
    assert smtp.sink.message_ids() in ([], [stored.message_id])  # never two
    assert (stored.status, stored.attempts) == ("failed", 1)
    assert "did not confirm the message within 0.5 s" in stored.last_error
    assert "may have arrived" in stored.last_error
    assert prepared.patient.email not in stored.last_error


class _TakingTime:
    """The real SMTP transport, on a clock that moves ``step`` with each message sent, and
    ``meanwhile`` run at the end of each sending (another worker's round)."""

    def __init__(
        self, inner: Transport, clock: FrozenClock, step: timedelta, meanwhile: Any
    ) -> None:
        self.inner, self.clock, self.step, self.meanwhile = inner, clock, step, meanwhile

    def send(self, message: OutgoingMessage) -> None:
        self.inner.send(message)
        self.clock.advance(self.step)
        self.meanwhile()

    def close(self) -> None:
        self.inner.close()


def test_a_batch_slower_than_its_lease_keeps_its_claims_so_no_other_worker_sends_them(
    client: TestClient,
    desk_headers: dict[str, str],
    prepared: Clinic,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    database_url: str,
    smtp: SmtpServer,
    tmp_path: Path,
) -> None:
    """Each message takes 60 s (within one send's worst case, 4 x 1 s + 60 s) against a
    100 s lease: a second worker looking after each message finds nothing to take."""
    settings = worker_settings(database_url, smtp, tmp_path, worker_lease_seconds=100)
    for hour in (10, 12, 14):
        start = f"2026-03-05T{hour}:00:00-05:00"
        assert book(client, desk_headers, prepared, start=start).status_code == 201
    other = make_worker(settings, session_factory, clock, name="w2")
    taken_by_other: list[int] = []
    slow = _TakingTime(
        build_transport(settings),
        clock,
        timedelta(seconds=60),
        lambda: taken_by_other.append(other.send_due()),
    )
    worker = Worker(settings, session_factory=session_factory, clock=clock, transport=slow)
    assert worker.send_due() == 3
    assert taken_by_other == [0, 0, 0]
    ids = smtp.sink.message_ids()
    assert len(ids) == len(set(ids)) == 3
