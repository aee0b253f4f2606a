"""The desk's messages page and the patient page's messages, in process (frozen clock):
failed first with the error in plain words, kinds in words, links to the patient and the
booking, times in the clinic's zone, the GET filters, Resend where it makes sense (and a
refusal in words where it does not), no message body, and roles."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from scheduler.config import Settings
from scheduler.kit.clock import FrozenClock
from scheduler.models import Notification
from scheduler.patient_access.service import request_link
from tests.bookings.test_bookings_api import book
from tests.clinic_fixture import Clinic
from tests.factories import auth_headers, make_user
from tests.web.inprocess import csrf_of, sign_in

# Monday 2 March 2026, 09:10 in New York (UTC-5).
MONDAY_9_10 = datetime(2026, 3, 2, 14, 10, tzinfo=UTC)
THURSDAY_10 = "2026-03-05T10:00:00-05:00"
AUTH_ERROR = "SMTP 535: 5.7.8 Authentication credentials invalid"


def _fail(db: Session, notification_id: int, error: str) -> None:
    """What the worker leaves after its last attempt (tests/notifications covers the worker)."""
    row = db.get(Notification, notification_id)
    assert row is not None
    row.status, row.attempts, row.last_error = "failed", 3, error
    db.add(row)
    db.commit()


def _setup(
    browser: TestClient, db: Session, clinic: Clinic, settings: Settings, clock: FrozenClock
) -> tuple[int, Notification, Notification]:
    """A booking whose confirmation failed (the clinic's mail password), and a returning
    patient's sign-in link that failed too; the desk is signed in."""
    clock.set(MONDAY_9_10)
    desk = make_user(db, role="front_desk", email="desk@clinic.example")
    headers = auth_headers(desk, settings, clock.now())
    booking = book(browser, headers, clinic, start=THURSDAY_10).json()["id"]
    request_link(
        db,
        email=clinic.other_patient.email,
        date_of_birth=clinic.other_patient.date_of_birth,
        request_id="test",
        now=clock.now(),
        settings=settings,
    )
    db.commit()
    confirmation = db.exec(
        select(Notification).where(
            Notification.booking_id == booking, Notification.kind == "confirmation"
        )
    ).one()
    link = db.exec(select(Notification).where(Notification.kind == "sign_in")).one()
    assert confirmation.id is not None
    assert link.id is not None
    _fail(db, confirmation.id, AUTH_ERROR)
    _fail(db, link.id, "SMTP refused the recipient ([550])")
    sign_in(browser, desk.email)
    return booking, confirmation, link


def _rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr.*?</tr>", body, flags=re.S)


def test_failed_messages_come_first_in_words_with_links_and_the_clinic_zone(
    browser: TestClient, clinic: Clinic, db: Session, settings: Settings, clock: FrozenClock
) -> None:
    booking, confirmation, _ = _setup(browser, db, clinic, settings, clock)
    page = browser.get("/admin/messages")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert (
        '<a href="/admin/messages" aria-current="page">Messages <span class="nav-badge">2'
        '<span class="visually-hidden"> failed</span></span></a>'
    ) in page.text
    # The badge is on every desk page, from the session check's transaction.
    assert '<span class="nav-badge">2<' in browser.get("/admin/today").text
    assert "2 messages could not be sent." in page.text
    rows = _rows(page.text)
    assert len(rows) == 4  # confirmation, two reminders, the sign-in link
    assert all('class="is-failed"' in row for row in rows[:2])
    assert not any('class="is-failed"' in row for row in rows[2:])
    sign_in_row = next(r for r in rows if "Sign-in link" in r)
    other = clinic.other_patient
    assert f'<a href="/admin/patients/{other.id}">{other.first_name} {other.last_name}</a>' in (
        sign_in_row
    )
    assert "/admin/bookings/" not in sign_in_row  # about no visit
    assert "The patient&#39;s address was refused" in sign_in_row
    assert "Resend" not in sign_in_row  # a sign-in link is never resent
    confirmation_row = next(r for r in rows if "Confirmation" in r)
    assert f'<a href="/admin/bookings/{booking}">booking {booking}</a>' in confirmation_row
    assert "refused the clinic&#39;s sign-in" in confirmation_row
    assert AUTH_ERROR in confirmation_row  # the technical text too, for whoever fixes it
    assert "Due Mon 2 Mar, 09:10 EST" in confirmation_row
    assert f'action="/admin/messages/{confirmation.id}/resend"' in confirmation_row
    assert "Times in America/New_York." in page.text
    reminder_row = next(r for r in rows if "Reminder" in r)
    assert "Not sent" in reminder_row
    assert "Resend" not in reminder_row  # only failed messages
    # Minimum necessary: no message content, no address.
    assert "Stop eating" not in page.text
    assert other.email not in page.text


def test_the_filters_are_a_get_form_and_unknown_values_show_everything(
    browser: TestClient, clinic: Clinic, db: Session, settings: Settings, clock: FrozenClock
) -> None:
    _setup(browser, db, clinic, settings, clock)
    failed = browser.get("/admin/messages", params={"status": "failed"})
    assert [("Sign-in link" in r or "Confirmation" in r) for r in _rows(failed.text)] == [
        True,
        True,
    ]
    assert '<option value="failed" selected>Failed</option>' in failed.text
    reminders = _rows(browser.get("/admin/messages", params={"kind": "reminder"}).text)
    assert len(reminders) == 2
    assert all("Reminder" in r for r in reminders)
    none = browser.get("/admin/messages", params={"status": "sent"})
    assert "No messages match these filters." in none.text
    tampered = browser.get("/admin/messages", params={"status": "lost", "kind": "x"})
    assert tampered.status_code == 200
    assert len(_rows(tampered.text)) == 4


def test_resend_queues_a_copy_and_a_sign_in_link_is_refused_in_words(
    browser: TestClient, clinic: Clinic, db: Session, settings: Settings, clock: FrozenClock
) -> None:
    booking, confirmation, link = _setup(browser, db, clinic, settings, clock)
    token = csrf_of(browser, "/admin/messages")
    no_csrf = browser.post(f"/admin/messages/{confirmation.id}/resend", data={})
    assert no_csrf.status_code == 403
    done = browser.post(
        f"/admin/messages/{confirmation.id}/resend",
        data={"csrftoken": token, "status": "failed", "kind": ""},
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/admin/messages?status=failed"
    shown = browser.get(done.headers["location"])
    assert "The message is queued to be sent again." in shown.text
    copies = db.exec(
        select(Notification).where(
            Notification.booking_id == booking,
            Notification.kind == "confirmation",
            Notification.status == "queued",
        )
    ).all()
    assert len(copies) == 1

    refused = browser.post(f"/admin/messages/{link.id}/resend", data={"csrftoken": token})
    assert refused.status_code == 409
    assert "A sign-in link works once" in refused.text
    assert 'class="error-summary"' in refused.text


def test_the_patient_page_lists_their_messages_sign_in_links_included(
    browser: TestClient, clinic: Clinic, db: Session, settings: Settings, clock: FrozenClock
) -> None:
    _setup(browser, db, clinic, settings, clock)
    other = browser.get(f"/admin/patients/{clinic.other_patient.id}")
    assert other.status_code == 200
    section = other.text.split('id="messages-title"', 1)[1].split("</section>", 1)[0]
    assert "Sign-in link" in section
    assert "Failed" in section
    assert "The patient&#39;s address was refused" in section
    booked = browser.get(f"/admin/patients/{clinic.patient.id}")
    section = booked.text.split('id="messages-title"', 1)[1].split("</section>", 1)[0]
    assert "Confirmation" in section
    assert "Sign-in link" not in section  # another patient's
    assert section.count("Reminder") == 2


def test_providers_have_no_messages_page(
    browser: TestClient, clinic: Clinic, db: Session, clock: FrozenClock
) -> None:
    make_user(db, role="provider", email="nurse@clinic.example", provider_id=clinic.nurse.id)
    clock.set(MONDAY_9_10)
    sign_in(browser, "nurse@clinic.example")
    assert browser.get("/admin/messages").status_code == 403
    assert ">Messages<" not in browser.get("/admin/my-schedule").text


def test_a_resent_message_stops_counting_as_failed_and_cannot_be_resent_twice(
    browser: TestClient, clinic: Clinic, db: Session, settings: Settings, clock: FrozenClock
) -> None:
    booking, confirmation, link = _setup(browser, db, clinic, settings, clock)
    before = browser.get("/admin/messages").text
    assert "2 messages could not be sent." in before
    assert '<span class="nav-badge">2<' in before
    token = csrf_of(browser, "/admin/messages")
    done = browser.post(f"/admin/messages/{confirmation.id}/resend", data={"csrftoken": token})
    assert done.status_code == 303

    after = browser.get("/admin/messages").text
    # Only the sign-in link still waits for staff; the confirmation was sent again.
    assert "1 message could not be sent." in after
    assert '<span class="nav-badge">1<' in after
    original = next(r for r in _rows(after) if f"/admin/bookings/{booking}" in r and "Failed" in r)
    assert "A newer one was sent" in original
    assert "Resend" not in original
    page = browser.get(f"/admin/bookings/{booking}").text
    assert "Sent again below" in page

    again = browser.post(f"/admin/messages/{confirmation.id}/resend", data={"csrftoken": token})
    assert again.status_code == 409
    assert "A newer message of this kind was already sent" in again.text
    copies = db.exec(
        select(Notification).where(
            Notification.booking_id == booking, Notification.kind == "confirmation"
        )
    ).all()
    assert len(copies) == 2

    # A new sign-in link the patient asks for settles the failed one the same way.
    request_link(
        db,
        email=clinic.other_patient.email,
        date_of_birth=clinic.other_patient.date_of_birth,
        request_id="test-2",
        now=clock.now(),
        settings=settings,
    )
    db.commit()
    settled = browser.get("/admin/messages").text
    assert "could not be sent" not in settled
    assert "nav-badge" not in settled
    assert link.id is not None
