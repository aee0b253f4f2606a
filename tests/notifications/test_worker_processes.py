"""Real ``scheduler worker`` processes against one PostgreSQL and a real SMTP server.

- two workers drain 1,000 due messages: each is delivered exactly once;
- a worker killed with ``kill -9`` mid-batch, then another started: nothing is lost, and a
  message that goes twice carries the same ``Message-ID``;
- SIGTERM stops a worker cleanly (exit 0) and gives back what it had claimed;
- ``scheduler worker --healthcheck`` follows the heartbeat.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time as clock
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, insert, text
from sqlmodel import Session, SQLModel

from scheduler.audit.service import Actor
from scheduler.bookings.schemas import BookingCreate
from scheduler.bookings.service import create_booking
from scheduler.db import build_engine
from scheduler.migrate import upgrade
from scheduler.models import Notification
from tests.clinic_fixture import make_clinic
from tests.conftest import (
    TEST_SECRET,
    dispose_database,
    fresh_database_url,
    make_settings,
)
from tests.notifications.smtp_sink import SmtpServer

MESSAGES = 1000
NEW_YORK = ZoneInfo("America/New_York")


@dataclass
class Outbox:
    url: str
    engine: Engine
    message_ids: list[str]


def next_tuesday_10() -> datetime:
    """A future visit, so the workers' no-show job leaves it alone."""
    today = datetime.now(NEW_YORK).date()
    day = today + timedelta(days=(1 - today.weekday()) % 7 or 7)
    return datetime.combine(day, time(10), NEW_YORK).astimezone(UTC)


@pytest.fixture
def outbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Outbox]:
    """A fresh PostgreSQL database with one booking and 1,000 confirmations due (or as many
    as the test's ``messages`` parameter says)."""
    messages = int(getattr(request, "param", MESSAGES))
    url = fresh_database_url("postgresql", tmp_path, "outbox")
    upgrade(url)
    engine = build_engine(make_settings(url))
    with Session(engine) as db:
        clinic = make_clinic(db)
        assert clinic.patient.id is not None
        db.commit()
        with db.begin():
            booking = create_booking(
                db,
                BookingCreate(
                    patient_id=clinic.patient.id,
                    appointment_type_id=clinic.infusion_id,
                    location_id=clinic.location_id,
                    start_at=next_tuesday_10(),
                ),
                actor=Actor(kind="system", label="system:test"),
                now=datetime.now(UTC),
            )
            # Only the 1,000 below are due: what the booking queued is set aside.
            db.execute(text("UPDATE notification SET status = 'withdrawn'"))
        ids = [f"<bulk-{i}@test.example>" for i in range(messages)]
        due = datetime.now(UTC) - timedelta(minutes=1)
        with db.begin():
            db.execute(
                insert(SQLModel.metadata.tables[Notification.__tablename__]),
                [
                    {
                        "booking_id": booking.id,
                        "kind": "confirmation",
                        "channel": "email",
                        "status": "queued",
                        "due_at": due,
                        "attempts": 0,
                        "last_error": "",
                        "message_id": message_id,
                        "claimed_by": "",
                        "created_at": due,
                        "updated_at": due,
                    }
                    for message_id in ids
                ],
            )
    yield Outbox(url, engine, ids)
    engine.dispose()
    dispose_database(url)


def start_worker(
    outbox: Outbox, smtp: SmtpServer, data_dir: Path, log: Path, **env: str
) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "SCHEDULER_DATABASE_URL": outbox.url,
        "SCHEDULER_ENVIRONMENT": "test",
        "SCHEDULER_SECRET_KEY": TEST_SECRET,
        "SCHEDULER_DATA_DIR": str(data_dir),
        "SCHEDULER_MAIL_TRANSPORT": "smtp",
        "SCHEDULER_SMTP_HOST": "127.0.0.1",
        "SCHEDULER_SMTP_PORT": str(smtp.port),
        "SCHEDULER_WORKER_POLL_SECONDS": "0.2",
        **env,
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "scheduler.cli", "worker"],
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def count(outbox: Outbox, where: str) -> int:
    with outbox.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM notification WHERE {where}")).scalar())


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = clock.monotonic() + seconds
    while not condition():
        if clock.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        clock.sleep(0.2)


def stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=30)


def bulk_sent(outbox: Outbox) -> int:
    return count(outbox, "status = 'sent' AND message_id LIKE '<bulk-%'")


@pytest.mark.timeout(600)  # a busy CI machine sends slowly; the point is "exactly once"
def test_two_workers_deliver_1000_messages_each_exactly_once(
    outbox: Outbox, smtp: SmtpServer, tmp_path: Path
) -> None:
    log = tmp_path / "workers.log"
    workers = [
        start_worker(outbox, smtp, tmp_path, log, SCHEDULER_WORKER_BATCH_SIZE="20")
        for _ in range(2)
    ]
    try:
        wait_for(lambda: bulk_sent(outbox) == len(outbox.message_ids), 500, "every message sent")
    finally:
        codes = [stop(w) for w in workers]
    assert codes == [0, 0], log.read_text()
    delivered = Counter(smtp.sink.message_ids())
    assert {m: delivered[m] for m in outbox.message_ids if delivered[m] != 1} == {}
    assert sum(delivered.values()) == len(outbox.message_ids)
    with outbox.engine.connect() as conn:
        claimers = conn.execute(text("SELECT count(DISTINCT claimed_by) FROM notification"))
        assert claimers.scalar() == 3  # both workers took some ('' for the withdrawn ones)


@pytest.mark.parametrize("outbox", [300], indirect=True)
def test_a_worker_killed_mid_batch_loses_nothing(
    outbox: Outbox, smtp: SmtpServer, tmp_path: Path
) -> None:
    smtp.sink.delay_seconds = 0.02  # a slow server: the kill lands mid-batch
    log = tmp_path / "workers.log"
    lease = {"SCHEDULER_WORKER_LEASE_SECONDS": "5", "SCHEDULER_WORKER_BATCH_SIZE": "50"}
    first = start_worker(outbox, smtp, tmp_path, log, **lease)
    wait_for(lambda: bulk_sent(outbox) >= 60, 120, "some messages sent")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    held = count(outbox, "status = 'queued' AND lease_until IS NOT NULL")
    assert held > 0  # the dead worker's claims
    smtp.sink.delay_seconds = 0.0
    second = start_worker(outbox, smtp, tmp_path, log, **lease)
    try:
        wait_for(lambda: bulk_sent(outbox) == len(outbox.message_ids), 240, "every message sent")
    finally:
        assert stop(second) == 0, log.read_text()
    delivered = Counter(smtp.sink.message_ids())
    assert all(delivered[m] >= 1 for m in outbox.message_ids)  # nothing lost
    # At most the one being sent at the kill went twice (same Message-ID, so it folds).
    assert sum(delivered.values()) - len(outbox.message_ids) <= 1


@pytest.mark.parametrize("outbox", [200], indirect=True)
def test_sigterm_stops_cleanly_and_gives_back_its_claims(
    outbox: Outbox, smtp: SmtpServer, tmp_path: Path
) -> None:
    smtp.sink.delay_seconds = 0.05
    log = tmp_path / "worker.log"
    health = [sys.executable, "-m", "scheduler.cli", "worker", "--healthcheck"]
    env = {**os.environ, "SCHEDULER_DATA_DIR": str(tmp_path), "SCHEDULER_ENVIRONMENT": "test"}
    env["SCHEDULER_SECRET_KEY"] = TEST_SECRET
    assert subprocess.run(health, env=env, check=False).returncode == 1  # never ran
    worker = start_worker(outbox, smtp, tmp_path, log, SCHEDULER_WORKER_BATCH_SIZE="200")
    wait_for(lambda: bulk_sent(outbox) >= 20, 120, "some messages sent")
    assert subprocess.run(health, env=env, check=False).returncode == 0
    assert stop(worker) == 0, log.read_text()
    sent = bulk_sent(outbox)
    assert sent < len(outbox.message_ids)
    assert count(outbox, "status = 'queued' AND lease_until IS NOT NULL") == 0
    assert count(outbox, "status = 'queued' AND attempts > 0") == 0  # given back, not spent
    assert len(smtp.sink.messages) == sent
