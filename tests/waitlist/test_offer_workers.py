"""Two worker processes run the waitlist round at the same moment against one PostgreSQL:
no time is ever held (so offered) for two entries, no entry gets two offers, and every
entry that could get a time gets one.

Twice: with the job's advisory lock as in production, and with it bypassed, so both
processes walk the queue side by side (entries ``FOR UPDATE SKIP LOCKED``, holds placed
under the booking locks).

Clock: Monday 2 March 2026, 09:00 in New York; the entries want Tuesday 3 March, 9:00-12:00.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from scheduler.auth.actors import Actor
from scheduler.db import build_engine
from scheduler.migrate import upgrade
from scheduler.models import Hold, WaitlistEntry, WaitlistOffer
from scheduler.waitlist.schemas import WaitlistEntryCreate
from scheduler.waitlist.service import add_entry
from tests.clinic_fixture import make_clinic
from tests.conftest import DEFAULT_NOW, dispose_database, fresh_database_url, make_settings
from tests.factories import make_patient

ENTRIES = 12
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    url = fresh_database_url("postgresql", tmp_path, "waitlist")
    upgrade(url)
    engine = build_engine(make_settings(url))
    actor = Actor(kind="system", label="system:test")
    with Session(engine) as db:
        clinic = make_clinic(db)
        for i in range(ENTRIES):
            patient = make_patient(
                db,
                first_name=f"P{i}",
                email=f"p{i}@example.org",
                consult_completed=True,
                consent_signed=True,
            )
            assert patient.id is not None
            add_entry(
                db,
                WaitlistEntryCreate.model_validate(
                    {
                        "patient_id": patient.id,
                        "location_id": clinic.location_id,
                        "appointment_type_id": clinic.infusion_id,
                        "earliest_date": "2026-03-03",
                        "latest_date": "2026-03-03",
                        "earliest_time": "09:00",
                        "latest_time": "12:00",
                    }
                ),
                actor=actor,
                now=DEFAULT_NOW,
            )
            db.commit()
    yield url, engine
    engine.dispose()
    dispose_database(url)


def _two_processes(url: str, lock: str) -> list[int]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    command = [sys.executable, "-m", "tests.waitlist.offer_round", url, "3", lock]
    processes = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    made = []
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err.decode()
        made.append(int(out.decode().strip().splitlines()[-1]))
    return made


@pytest.mark.parametrize("job_lock", ["taken", "bypassed"])
def test_two_worker_processes_never_offer_one_time_twice(
    queue: tuple[str, Engine], job_lock: str
) -> None:
    url, engine = queue
    made = _two_processes(url, job_lock)
    with Session(engine) as db:
        offers = list(db.exec(select(WaitlistOffer).order_by(col(WaitlistOffer.id))))
        holds = {h.id: h for h in db.exec(select(Hold))}
        statuses = Counter(e.status for e in db.exec(select(WaitlistEntry)))
    assert sum(made) == len(offers) > 0
    # One offer per entry at most, each on a hold of its own.
    assert len({o.entry_id for o in offers}) == len(offers)
    assert len({o.hold_id for o in offers}) == len(offers)
    assert statuses["offered"] == len(offers)
    # No two held times overlap on one chair (turnover included).
    by_chair: dict[int | None, list[Hold]] = {}
    for offer in offers:
        hold = holds[offer.hold_id]
        by_chair.setdefault(hold.chair_id, []).append(hold)
    for chair_holds in by_chair.values():
        chair_holds.sort(key=lambda h: h.chair_start_at or h.start_at)
        for earlier, later in pairwise(chair_holds):
            assert earlier.chair_end_at is not None
            assert later.chair_start_at is not None
            assert earlier.chair_end_at <= later.chair_start_at
    # Nobody left waiting while a time was free: a third round by one process offers nothing.
    assert _two_processes(url, "taken") == [0, 0]
