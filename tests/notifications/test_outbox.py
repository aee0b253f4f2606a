"""The outbox is written with the change: what a booking, a confirmation, a reschedule and a
cancellation queue or withdraw, a rolled-back change queues nothing, and staff see it all.

Clock: Monday 2 March 2026, 09:00 in New York (tests/conftest.py).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from scheduler.audit.service import Actor
from scheduler.bookings.schemas import BookingCreate
from scheduler.bookings.service import create_booking
from scheduler.config import Settings
from scheduler.kit.clock import FrozenClock
from scheduler.models import AuditEvent, Notification
from scheduler.notifications.outbox import queued_for
from tests.bookings.test_bookings_api import book
from tests.clinic_fixture import Clinic
from tests.factories import auth_headers, make_provider, make_user

WEDNESDAY_10 = "2026-03-04T10:00:00-05:00"  # 15:00 UTC
THURSDAY_10 = "2026-03-05T10:00:00-05:00"


@pytest.fixture
def prepared(clinic: Clinic, db: Session) -> Clinic:
    """The infusion needs fasting (6 h, clear liquids until 2 h before) and a driver."""
    clinic.infusion.fasting_hours = 6
    clinic.infusion.clear_liquids_hours = 2
    clinic.infusion.driver_required = True
    db.add(clinic.infusion)
    db.commit()
    return clinic


def kinds(db: Session, booking_id: int) -> list[tuple[str, str, str]]:
    db.expire_all()
    return [
        (n.kind, n.status, n.due_at.astimezone(UTC).strftime("%d %H:%M"))
        for n in queued_for(db, booking_id)
    ]


def test_a_booking_queues_its_confirmation_reminders_and_instructions(
    client: TestClient, desk_headers: dict[str, str], prepared: Clinic, db: Session
) -> None:
    response = book(client, desk_headers, prepared, start=THURSDAY_10)
    assert response.status_code == 201, response.text
    assert kinds(db, response.json()["id"]) == [
        ("confirmation", "queued", "02 14:00"),  # now
        ("reminder", "queued", "03 15:00"),  # 48 h before
        ("reminder", "queued", "04 15:00"),  # 24 h before
        ("instructions", "queued", "04 23:00"),  # 18:00 local the day before
    ]


def test_a_reschedule_withdraws_the_old_reminders_and_schedules_new_ones(
    client: TestClient, desk_headers: dict[str, str], prepared: Clinic, db: Session
) -> None:
    old = book(client, desk_headers, prepared, start=THURSDAY_10).json()["id"]
    moved = client.post(
        f"/api/v1/bookings/{old}/reschedule",
        json={"start_at": "2026-03-06T11:00:00-05:00"},
        headers=desk_headers,
    )
    assert moved.status_code == 201, moved.text
    assert {status for _, status, _ in kinds(db, old)} == {"withdrawn"}
    assert kinds(db, moved.json()["id"]) == [
        ("rescheduled", "queued", "02 14:00"),
        ("reminder", "queued", "04 16:00"),
        ("reminder", "queued", "05 16:00"),
        ("instructions", "queued", "05 23:00"),
    ]


def test_a_cancellation_withdraws_reminders_and_queues_the_cancellation(
    client: TestClient, desk_headers: dict[str, str], prepared: Clinic, db: Session
) -> None:
    booking = book(client, desk_headers, prepared, start=THURSDAY_10).json()["id"]
    response = client.post(
        f"/api/v1/bookings/{booking}/cancel",
        json={"reason": "clinic closed", "cancelled_by": "clinic"},
        headers=desk_headers,
    )
    assert response.status_code == 200, response.text
    assert kinds(db, booking) == [
        ("confirmation", "withdrawn", "02 14:00"),  # not yet sent: it would now be wrong
        ("cancellation", "queued", "02 14:00"),
        ("reminder", "withdrawn", "03 15:00"),
        ("reminder", "withdrawn", "04 15:00"),
        ("instructions", "withdrawn", "04 23:00"),
    ]


def test_a_pending_booking_gets_its_messages_when_confirmed(
    client: TestClient, desk_headers: dict[str, str], prepared: Clinic, db: Session
) -> None:
    prepared.infusion.requires_approval = True
    db.add(prepared.infusion)
    db.commit()
    booking = book(client, desk_headers, prepared, start=THURSDAY_10).json()["id"]
    assert kinds(db, booking) == []
    response = client.post(f"/api/v1/bookings/{booking}/confirm", headers=desk_headers)
    assert response.status_code == 200, response.text
    assert [kind for kind, _, _ in kinds(db, booking)] == [
        "confirmation",
        "reminder",
        "reminder",
        "instructions",
    ]


def test_a_rolled_back_booking_leaves_no_message(
    prepared: Clinic, session_factory: sessionmaker[Session], clock: FrozenClock, db: Session
) -> None:
    assert prepared.patient.id is not None
    before = len(db.exec(select(Notification)).all())

    def failing_request() -> None:
        with session_factory() as session, session.begin():
            create_booking(
                session,
                BookingCreate(
                    patient_id=prepared.patient.id or 0,
                    appointment_type_id=prepared.infusion_id,
                    location_id=prepared.location_id,
                    start_at=datetime.fromisoformat(THURSDAY_10),
                ),
                actor=Actor(kind="system", label="system:test"),
                now=clock.now(),
            )
            assert len(session.exec(select(Notification)).all()) == before + 4
            raise RuntimeError("the request failed after the booking was written")

    with pytest.raises(RuntimeError):
        failing_request()
    db.expire_all()
    assert len(db.exec(select(Notification)).all()) == before


def test_staff_see_a_bookings_messages_and_providers_only_their_own(
    client: TestClient,
    desk_headers: dict[str, str],
    prepared: Clinic,
    db: Session,
    settings: Settings,
    clock: FrozenClock,
) -> None:
    booking = book(client, desk_headers, prepared, start=THURSDAY_10).json()["id"]
    listed = client.get(f"/api/v1/bookings/{booking}/notifications", headers=desk_headers)
    assert listed.status_code == 200, listed.text
    first = listed.json()[0]
    assert first["kind"] == "confirmation"
    assert first["status"] == "queued"
    assert first["attempts"] == 0
    assert first["last_error"] == ""
    assert "email" not in first  # no address, no content

    other = make_provider(db, name="Other Nurse")
    provider = make_user(db, role="provider", email="p@clinic.example", provider_id=other.id)
    headers = auth_headers(provider, settings, clock.now())
    hidden = client.get(f"/api/v1/bookings/{booking}/notifications", headers=headers)
    assert hidden.status_code == 404
    assert client.get(f"/api/v1/bookings/{booking}/notifications").status_code == 401


def test_resend_of_a_queued_message_is_refused_and_of_an_unknown_one_404(
    client: TestClient, desk_headers: dict[str, str], prepared: Clinic, db: Session
) -> None:
    booking = book(client, desk_headers, prepared, start=THURSDAY_10).json()["id"]
    queued = queued_for(db, booking)[0]
    refused = client.post(f"/api/v1/notifications/{queued.id}/resend", headers=desk_headers)
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    missing = client.post("/api/v1/notifications/999999/resend", headers=desk_headers)
    assert missing.status_code == 404
    assert not db.exec(select(AuditEvent).where(AuditEvent.action == "notification.resend")).all()


def test_a_message_names_a_visit_or_a_patient_and_one_about_nobody_is_refused(
    clinic: Clinic, db: Session, clock: FrozenClock
) -> None:
    """Sign-in links and waitlist offers are about a patient, not a visit; a message about
    no one could never be addressed, so the database refuses it."""
    now = clock.now()

    def message(patient_id: int | None, tag: str) -> Notification:
        return Notification(
            patient_id=patient_id,
            kind="sign_in",
            due_at=now,
            message_id=f"<{tag}@test>",
            created_at=now,
            updated_at=now,
        )

    db.add(message(clinic.patient.id, "patient"))
    db.commit()
    db.add(message(None, "nobody"))
    with pytest.raises(IntegrityError):
        db.commit()
    db.rollback()


def test_every_queued_message_starts_fresh_with_its_own_message_id(
    client: TestClient,
    desk_headers: dict[str, str],
    prepared: Clinic,
    db: Session,
    clock: FrozenClock,
) -> None:
    """The columns a booking's and a cancellation's messages are written with: what the
    worker claims by (queued, never tried, unclaimed) and a Message-ID of their own."""
    booking = book(client, desk_headers, prepared, start=THURSDAY_10).json()["id"]
    cancelled = client.post(
        f"/api/v1/bookings/{booking}/cancel",
        json={"reason": "clinic closed", "cancelled_by": "clinic"},
        headers=desk_headers,
    )
    assert cancelled.status_code == 200, cancelled.text
    db.expire_all()
    messages = queued_for(db, booking)
    assert sorted(m.kind for m in messages) == [
        "cancellation",
        "confirmation",
        "instructions",
        "reminder",
        "reminder",
    ]
    assert len({m.message_id for m in messages}) == len(messages)
    for message in messages:
        assert message.booking_id == booking
        assert message.patient_id is None  # its patient is the booking's
        assert message.channel == "email"
        assert message.attempts == 0
        assert message.lease_until is None
        assert message.claimed_by == ""
        assert message.sent_at is None
        assert message.created_at == clock.now()
        assert re.fullmatch(r"<[0-9a-f]{32}@[a-z0-9.-]+>", message.message_id)
    cancellation = next(m for m in messages if m.kind == "cancellation")
    assert (cancellation.status, cancellation.last_error) == ("queued", "")
    assert cancellation.updated_at == cancellation.due_at == clock.now()
