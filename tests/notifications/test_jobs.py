"""The worker's periodic jobs: no-show marking (only what it should, once), expired holds,
old idempotency records.

Clock: Monday 2 March 2026, 09:00 in New York. The visits are on Tuesday 3 March.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from scheduler.models import AuditEvent, Booking, Hold, IdempotencyRecord
from scheduler.worker import jobs
from scheduler.worker.runner import Worker
from tests.bookings.test_bookings_api import book
from tests.clinic_fixture import Clinic
from tests.kit_clock import moved
from tests.notifications.helpers import worker_settings


def _status(db: Session, booking_id: int) -> str:
    db.expire_all()
    booking = db.get(Booking, booking_id)
    assert booking is not None
    return booking.status


def test_noshow_marks_only_booked_visits_whose_local_day_is_over_and_only_once(
    client: TestClient,
    desk_headers: dict[str, str],
    clinic: Clinic,
    db: Session,
    session_factory: sessionmaker[Session],
) -> None:
    def visit(start: str, patient_id: int | None = None) -> int:
        response = book(client, desk_headers, clinic, start=start, patient_id=patient_id)
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    missed = visit("2026-03-03T09:00:00-05:00")
    in_chair = visit("2026-03-03T11:00:00-05:00", patient_id=clinic.other_patient.id)
    cancelled = visit("2026-03-03T13:00:00-05:00")
    tomorrow = visit("2026-03-04T09:00:00-05:00")
    assert client.post(f"/api/v1/bookings/{in_chair}/check-in", headers=desk_headers).is_success
    assert client.post(
        f"/api/v1/bookings/{cancelled}/cancel",
        json={"reason": "called", "cancelled_by": "patient"},
        headers=desk_headers,
    ).is_success

    def run_at(local: str) -> list[int]:
        now = datetime.fromisoformat(local).astimezone(UTC)
        with session_factory() as session, session.begin():
            return jobs.mark_noshows(session, now=now, grace_minutes=None)

    # Tuesday 23:59 local: the day is not over, nobody is a no-show yet.
    assert run_at("2026-03-03T23:59:00-05:00") == []
    # Wednesday 00:30: Tuesday's booked visit is; the one in the chair, the cancelled one and
    # Wednesday's are not.
    assert run_at("2026-03-04T00:30:00-05:00") == [missed]
    assert run_at("2026-03-04T00:31:00-05:00") == []  # once
    assert _status(db, missed) == "noshow"
    assert _status(db, in_chair) == "checked-in"
    assert _status(db, cancelled) == "cancelled"
    assert _status(db, tomorrow) == "booked"
    events = db.exec(
        select(AuditEvent).where(
            AuditEvent.entity_id == missed, AuditEvent.action == "booking.no-show"
        )
    ).all()
    assert [(e.actor, e.reason) for e in events] == [
        ("system:worker", "not checked in by the end of the grace period")
    ]


def test_noshow_with_a_configured_grace_period(
    client: TestClient,
    desk_headers: dict[str, str],
    clinic: Clinic,
    db: Session,
    session_factory: sessionmaker[Session],
) -> None:
    visit = book(client, desk_headers, clinic, start="2026-03-03T09:00:00-05:00").json()["id"]
    end = datetime(2026, 3, 3, 15, 40, tzinfo=UTC)  # 10:40 local (100 minutes)
    with session_factory() as session, session.begin():
        assert jobs.mark_noshows(session, now=end + timedelta(minutes=29), grace_minutes=30) == []
    with session_factory() as session, session.begin():
        assert jobs.mark_noshows(session, now=end + timedelta(minutes=30), grace_minutes=30) == [
            visit
        ]
    assert _status(db, visit) == "noshow"


def test_expired_holds_are_released_and_old_idempotency_records_purged(
    client: TestClient,
    desk_headers: dict[str, str],
    clinic: Clinic,
    db: Session,
    session_factory: sessionmaker[Session],
    database_url: str,
    tmp_path: Path,
) -> None:
    held = client.post(
        "/api/v1/holds",
        json={
            "appointment_type_id": clinic.infusion_id,
            "location_id": clinic.location_id,
            "start_at": "2026-03-03T09:00:00-05:00",
        },
        headers={**desk_headers, "Idempotency-Key": "hold-1"},
    )
    assert held.status_code == 201, held.text
    live = client.post(
        "/api/v1/holds",
        json={
            "appointment_type_id": clinic.infusion_id,
            "location_id": clinic.location_id,
            "start_at": "2026-03-03T12:00:00-05:00",
        },
        headers=desk_headers,
    )
    assert live.status_code == 201, live.text
    hold_id = held.json()["id"]
    # A day later the first hold has long expired; the second one is made to last.
    with session_factory() as session, session.begin():
        second = session.get(Hold, live.json()["id"])
        assert second is not None
        second.expires_at = datetime(2026, 3, 4, tzinfo=UTC)
        session.add(second)
    settings = worker_settings(database_url, None, tmp_path)
    assert settings.hold_minutes == 10
    worker = Worker(
        settings, session_factory=session_factory, clock=moved(timedelta(hours=25)), worker_id="w"
    )
    worker.run_jobs()
    db.expire_all()
    expired = db.get(Hold, hold_id)
    assert expired is not None
    assert expired.released_at == expired.expires_at
    still = db.get(Hold, live.json()["id"])
    assert still is not None
    assert still.released_at is None
    keys = [r.key for r in db.exec(select(IdempotencyRecord)).all()]
    assert "hold-1" not in keys
