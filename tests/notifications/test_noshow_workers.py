"""Two workers run the no-show job at the same moment against one PostgreSQL: every overdue
visit becomes ``noshow`` exactly once, with exactly one audit event, and nothing else moves.

Twice: with the job's advisory lock as in production (one worker does the round, the other
skips it), and with that lock bypassed, so both walk the same rows side by side and only the
per-row lock and the status check stand between a visit and a second marking.

Clock: the visits are Tuesday 3 to Thursday 5 March 2026 in New York (booked on Monday 2);
the workers run on Saturday 7 March.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from scheduler.auth.actors import Actor
from scheduler.bookings.schemas import BookingCreate
from scheduler.bookings.service import create_booking
from scheduler.db import build_engine
from scheduler.kit.clock import FrozenClock
from scheduler.migrate import upgrade
from scheduler.models import AuditEvent, Booking
from scheduler.worker import jobs
from scheduler.worker.runner import Worker
from tests.clinic_fixture import make_clinic
from tests.conftest import DEFAULT_NOW, dispose_database, fresh_database_url, make_settings

SATURDAY = datetime(2026, 3, 7, 17, 0, tzinfo=UTC)
ROUNDS = 3


class Visits:
    def __init__(self, url: str, engine: Engine, overdue: list[int], future: int) -> None:
        self.url, self.engine, self.overdue, self.future = url, engine, overdue, future


@pytest.fixture
def visits(tmp_path: Path) -> Iterator[Visits]:
    """A fresh PostgreSQL database with 24 consultations booked Tuesday to Thursday (one
    patient, one an hour from 9:00 to 16:00) and one the next Tuesday."""
    url = fresh_database_url("postgresql", tmp_path, "noshow")
    upgrade(url)
    engine = build_engine(make_settings(url))
    actor = Actor(kind="system", label="system:test")
    ids: list[int] = []
    with Session(engine) as db:
        clinic = make_clinic(db)
        consult_id, patient_id = clinic.consult.id, clinic.patient.id
        assert consult_id is not None
        assert patient_id is not None
        db.commit()

        def book(start: datetime) -> int:
            with db.begin():
                booking = create_booking(
                    db,
                    BookingCreate(
                        patient_id=patient_id,
                        appointment_type_id=consult_id,
                        location_id=clinic.location_id,
                        start_at=start,
                    ),
                    actor=actor,
                    now=DEFAULT_NOW,
                )
            return booking.id

        for day in (3, 4, 5):
            for hour in range(9, 17):
                # 9:00 EST is 14:00 UTC (before the change on 8 March).
                ids.append(book(datetime(2026, 3, day, hour + 5, 0, tzinfo=UTC)))
        future = book(datetime(2026, 3, 10, 13, 0, tzinfo=UTC))  # 9:00 EDT
    yield Visits(url, engine, ids, future)
    engine.dispose()
    dispose_database(url)


def _run_side_by_side(visits: Visits, tmp_path: Path) -> list[BaseException]:
    """Two workers, each with its own engine (as two processes would), run their periodic
    jobs ``ROUNDS`` times, starting each round together."""
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def work(name: str) -> None:
        settings = make_settings(visits.url, data_dir=tmp_path / name)
        engine = build_engine(settings)
        try:
            worker = Worker(
                settings,
                session_factory=sessionmaker(engine, class_=Session, expire_on_commit=False),
                clock=FrozenClock(SATURDAY),
                worker_id=name,
            )
            for _ in range(ROUNDS):
                barrier.wait(timeout=60)
                worker.run_jobs()
        except BaseException as exc:  # reported to the test's thread
            errors.append(exc)
            barrier.abort()
        finally:
            engine.dispose()

    threads = [threading.Thread(target=work, args=(name,)) for name in ("w1", "w2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return errors


@pytest.mark.parametrize("job_lock", ["taken", "bypassed"])
def test_two_workers_mark_each_overdue_visit_once(
    visits: Visits, job_lock: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if job_lock == "bypassed":
        monkeypatch.setattr(jobs, "take_job_lock", lambda session, name: True)
    assert _run_side_by_side(visits, tmp_path) == []
    with Session(visits.engine) as db:
        statuses = dict(
            db.exec(
                select(Booking.id, Booking.status).where(  # type: ignore[call-overload]
                    col(Booking.id).in_([*visits.overdue, visits.future])
                )
            ).all()
        )
        events = db.exec(select(AuditEvent).where(AuditEvent.action == "booking.no-show")).all()
    assert {statuses[i] for i in visits.overdue} == {"noshow"}
    assert statuses[visits.future] == "booked"
    per_visit = Counter(e.entity_id for e in events)
    assert per_visit == Counter(visits.overdue)  # each overdue visit once, nothing else
    assert {e.actor for e in events} == {"system:worker"}
    assert len(visits.overdue) == 24
    assert {e.occurred_at for e in events} == {SATURDAY}  # by the workers, not before
