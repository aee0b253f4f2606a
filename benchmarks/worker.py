"""Messages per second from 2 workers to a local SMTP sink, on PostgreSQL.

Seeds one clinic with one future visit, starts an SMTP sink (``aiosmtpd``'s discarding
``Sink`` handler, in its own process) and two ``scheduler worker`` processes, waits until
both have beaten once, then queues ``--messages`` due confirmations (each rendered with its
manage link and ``.ics`` attachment, as in production) and times how long the workers take
to send them all. Target: >= 200 messages/s.

The outbox's cost on booking throughput is measured by ``benchmarks/bookings.py``: every
booking there now writes its messages (one multi-row INSERT) in the same transaction.

    .venv/bin/python benchmarks/worker.py [--messages 2000]
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from datetime import time as wall
from pathlib import Path
from zoneinfo import ZoneInfo

import _common as common
from sqlalchemy import insert, text
from sqlmodel import Session, SQLModel
from tests.clinic_fixture import make_clinic
from tests.conftest import TEST_SECRET
from tests.notifications.smtp_sink import free_port

from scheduler.audit.service import Actor
from scheduler.bookings.schemas import BookingCreate
from scheduler.bookings.service import create_booking
from scheduler.models import Notification

TARGET_RATE = 200.0
WORKERS = 2
NEW_YORK = ZoneInfo("America/New_York")


def next_tuesday_10() -> datetime:
    today = datetime.now(NEW_YORK).date()
    day = today + timedelta(days=(1 - today.weekday()) % 7 or 7)
    return datetime.combine(day, wall(10), NEW_YORK).astimezone(UTC)


def seed(url: str) -> int:
    engine = common.engine_for(url)
    with Session(engine) as db:
        clinic = make_clinic(db)
        db.commit()
        assert clinic.patient.id is not None
        booking = create_booking(
            db,
            BookingCreate(
                patient_id=clinic.patient.id,
                appointment_type_id=clinic.infusion_id,
                location_id=clinic.location_id,
                start_at=next_tuesday_10(),
            ),
            actor=Actor(kind="system", label="system:bench"),
            now=datetime.now(UTC),
        )
        db.execute(text("UPDATE notification SET status = 'withdrawn'"))
        db.commit()
    engine.dispose()
    assert booking.id is not None
    return booking.id


def queue(url: str, booking_id: int, count: int) -> None:
    engine = common.engine_for(url)
    now = datetime.now(UTC) - timedelta(seconds=1)
    rows = [
        {
            "booking_id": booking_id,
            "kind": "confirmation",
            "channel": "email",
            "status": "queued",
            "due_at": now,
            "attempts": 0,
            "last_error": "",
            "message_id": f"<bench-{i}@bench.example>",
            "claimed_by": "",
            "created_at": now,
            "updated_at": now,
        }
        for i in range(count)
    ]
    with Session(engine) as db, db.begin():
        db.execute(insert(SQLModel.metadata.tables[Notification.__tablename__]), rows)
    engine.dispose()


def sent(url: str) -> int:
    engine = common.engine_for(url)
    with engine.connect() as conn:
        value = conn.execute(
            text("SELECT count(*) FROM notification WHERE status = 'sent'")
        ).scalar()
    engine.dispose()
    return int(value or 0)


def main() -> None:
    args = common.parse_args(
        __doc__ or "",
        lambda p: p.add_argument("--messages", type=int, default=2000),
    )
    common.banner(f"worker throughput: {args.messages} messages, {WORKERS} workers, PostgreSQL")
    print(common.machine_line())
    print(f"PostgreSQL {common.postgres_version()}")
    with (
        common.fresh_database("postgresql", "notify_worker") as url,
        tempfile.TemporaryDirectory(prefix="bench_worker_") as data_dir,
    ):
        booking_id = seed(url)
        port = free_port()
        sink = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "aiosmtpd",
                "-n",
                "-c",
                "aiosmtpd.handlers.Sink",
                "-l",
                f"127.0.0.1:{port}",
            ]
        )
        env = {
            **os.environ,
            "SCHEDULER_DATABASE_URL": url,
            "SCHEDULER_ENVIRONMENT": "test",
            "SCHEDULER_SECRET_KEY": TEST_SECRET,
            "SCHEDULER_DATA_DIR": data_dir,
            "SCHEDULER_MAIL_TRANSPORT": "smtp",
            "SCHEDULER_SMTP_HOST": "127.0.0.1",
            "SCHEDULER_SMTP_PORT": str(port),
            "SCHEDULER_WORKER_POLL_SECONDS": "0.05",
            "SCHEDULER_WORKER_BATCH_SIZE": "50",
        }
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "scheduler.cli", "worker"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(WORKERS)
        ]
        try:
            beat = Path(data_dir) / "worker-heartbeat"
            deadline = time.monotonic() + 120
            while not beat.exists():
                if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
                    raise SystemExit("the workers did not start")
                time.sleep(0.1)
            time.sleep(2)  # both started and idle
            queue(url, booking_id, args.messages)
            started = time.perf_counter()
            while sent(url) < args.messages:
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            for worker in workers:
                worker.wait(timeout=30)
            sink.terminate()
            sink.wait(timeout=10)
    rate = args.messages / elapsed
    common.section("result")
    print(f"{args.messages} messages in {elapsed:.2f} s: {rate:.0f} messages/s")
    print(f"target >= {TARGET_RATE:.0f}/s: {common.verdict(rate >= TARGET_RATE)}")


if __name__ == "__main__":
    main()
