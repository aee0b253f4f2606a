"""Messages prepared together in one claimed batch (which share each visit's loaded rows and
``.ics``, and the zone's VTIMEZONE) read exactly as if prepared alone: each carries its own
visit's calendar and time, its own patient's name and its row's ``Message-ID``; a message
sent again after a worker died mid-batch is the same message (same ``Message-ID``, same
calendar); no subject names the treatment, also with a clinic name outside ASCII.

Clock: Monday 2 March 2026, 09:00 in New York.
"""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from scheduler.kit.clock import FrozenClock
from scheduler.models import Booking
from scheduler.notifications import delivery
from scheduler.notifications.outbox import queued_for
from tests.bookings.test_bookings_api import book
from tests.clinic_fixture import Clinic
from tests.notifications.helpers import attachments, drain, make_worker, text_of, worker_settings
from tests.notifications.smtp_sink import SmtpServer

CLINIC = "Clínica Süd"  # an encoded subject and sender name must still read back as written
THURSDAY_10 = "2026-03-05T10:00:00-05:00"
THURSDAY_13 = "2026-03-05T13:00:00-05:00"


def calendar_of(message: EmailMessage) -> tuple[str, dict[str, str]]:
    (ics,) = attachments(message)
    assert ics.get_content_type() == "text/calendar"
    assert ics.get_filename() == "appointment.ics"
    params = {key: value for key, value in ics.get_params() or [] if value}
    return str(ics.get_content()), params


def never_names_the_treatment(message: EmailMessage, clinic: Clinic) -> None:
    parts = [str(message["Subject"]), text_of(message)]
    parts += [str(part.get_content()) for part in attachments(message)]
    for part in parts:
        assert "etamine" not in part
        assert clinic.infusion.name not in part


def test_messages_prepared_in_one_batch_each_carry_their_own_visit(
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
    clinic.location.name = CLINIC
    db.add(clinic.location)
    db.commit()
    first = book(client, desk_headers, clinic, start=THURSDAY_10)
    second = book(
        client, desk_headers, clinic, start=THURSDAY_13, patient_id=clinic.other_patient.id
    )
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    sender = f"{CLINIC} <desk@clinic.example>"
    settings = worker_settings(database_url, smtp, tmp_path, mail_from=sender)
    worker = make_worker(settings, session_factory, clock)

    assert worker.send_due() == 2  # both confirmations in one claimed batch
    by_recipient = {str(m["To"]): m for m in smtp.sink.messages}
    cases = [
        (first.json()["id"], clinic.patient, clinic.other_patient, "10:00", "T100000"),
        (second.json()["id"], clinic.other_patient, clinic.patient, "13:00", "T130000"),
    ]
    for booking_id, patient, other, time, wall in cases:
        assert patient.email is not None
        message = by_recipient[patient.email]
        assert message["Subject"] == f"Your appointment at {CLINIC} on Thu 5 Mar, {time}"
        assert message["From"] == sender
        assert message["Message-ID"] == queued_for(db, booking_id)[0].message_id
        assert f"Hello {patient.first_name}," in text_of(message)
        assert other.first_name not in text_of(message)
        ics, params = calendar_of(message)
        assert params["method"] == "PUBLISH"
        assert params["charset"] == "utf-8"
        booking = db.get(Booking, booking_id)
        assert booking is not None
        assert f"UID:{booking.ical_uid}" in ics
        assert f"DTSTART;TZID=America/New_York:20260305{wall}" in ics
        assert ics.count("BEGIN:VTIMEZONE") == 1
        assert ics.count("BEGIN:VEVENT") == 1
        never_names_the_treatment(message, clinic)


def test_a_message_sent_again_after_a_worker_died_is_the_same_message(
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
    settings = worker_settings(database_url, smtp, tmp_path)
    booking = book(client, desk_headers, clinic, start=THURSDAY_10).json()["id"]
    drain(make_worker(settings, session_factory, clock, name="first"))
    cancelled = client.post(
        f"/api/v1/bookings/{booking}/cancel",
        json={"reason": "clinic closed", "cancelled_by": "clinic"},
        headers=desk_headers,
    )
    assert cancelled.status_code == 200, cancelled.text

    # A worker claims the cancellation, sends it, and dies before recording that it did.
    dying = make_worker(settings, session_factory, clock, name="dying")
    with session_factory() as session, session.begin():
        (claimed,) = delivery.claim(
            session,
            worker_id="dying",
            now=clock.now(),
            limit=10,
            lease=timedelta(seconds=settings.worker_lease_seconds),
            settings=settings,
        )
    assert claimed.message is not None
    dying.transport.send(claimed.message)
    dying.transport.close()

    # Its lease runs out; another worker sends the message again.
    clock.advance(timedelta(seconds=settings.worker_lease_seconds + 1))
    assert drain(make_worker(settings, session_factory, clock, name="second")) == 1
    confirmation, *twice = smtp.sink.messages
    assert len(twice) == 2
    sent, again = twice
    stored = next(n for n in queued_for(db, booking) if n.kind == "cancellation")
    assert sent["Message-ID"] == again["Message-ID"] == stored.message_id
    assert confirmation["Message-ID"] != stored.message_id
    assert sent["Subject"] == again["Subject"]
    assert str(sent["Subject"]).endswith("is cancelled")
    assert calendar_of(sent) == calendar_of(again)
    ics, params = calendar_of(again)
    assert params["method"] == "CANCEL"
    assert "STATUS:CANCELLED" in ics
    for message in (confirmation, sent, again):
        never_names_the_treatment(message, clinic)
