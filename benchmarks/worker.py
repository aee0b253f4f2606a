"""Messages per second from 2 workers to a local SMTP sink, on PostgreSQL.

Seeds one clinic and ``--visits`` future visits (each of its own patient; the default, one
per message, is what a real outbox holds: a claimed batch rarely has two messages about one
visit), starts an SMTP sink (``aiosmtpd``'s discarding ``Sink`` handler, in its own process)
and two ``scheduler worker`` processes, waits until both have beaten once, then queues
``--messages`` due confirmations (each rendered with its manage link and ``.ics``
attachment, as in production) and times how long the workers take to send them all.
Target: >= 200 messages/s.

Besides the rate it reports the workers' own CPU per message (from /proc), which a loaded
machine disturbs far less than the rate. ``--compare-ref REF`` runs the same measurement
with the workers of another commit (its ``src/`` exported by ``git archive`` and put first
on the workers' PYTHONPATH; the schema must be the same), alternating the two ``--rounds``
times, so that both figures come from the same minutes of the same machine.

The outbox's cost on booking throughput is measured by ``benchmarks/bookings.py``: every
booking there now writes its messages (one multi-row INSERT) in the same transaction.

    .venv/bin/python benchmarks/worker.py [--messages 2000] [--visits N]
    .venv/bin/python benchmarks/worker.py --compare-ref main --rounds 2
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as wall
from io import BytesIO
from pathlib import Path
from typing import Any
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
from scheduler.models import Booking, Notification

TARGET_RATE = 200.0
WORKERS = 2
STALL_SECONDS = 60
NEW_YORK = ZoneInfo("America/New_York")


def next_tuesday_10() -> datetime:
    today = datetime.now(NEW_YORK).date()
    day = today + timedelta(days=(1 - today.weekday()) % 7 or 7)
    return datetime.combine(day, wall(10), NEW_YORK).astimezone(UTC)


def seed(url: str, visits: int) -> list[int]:
    """A clinic and ``visits`` booked visits, one a day at 10:00 from next Tuesday, each of
    its own patient. The ids of the bookings."""
    engine = common.engine_for(url)
    with Session(engine) as db:
        clinic = make_clinic(db)
        db.commit()
        assert clinic.patient.id is not None
        first = create_booking(
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
        db.commit()
        assert first.id is not None
        row: dict[str, Any] = dict(
            db.execute(text("SELECT * FROM booking WHERE id = :id"), {"id": first.id})
            .mappings()
            .one()
        )
        row.pop("id")
        patients = common.insert_patients(db, visits - 1)
        rows = []
        for day, patient_id in enumerate(patients, start=1):
            shift = timedelta(days=day)
            rows.append(
                {
                    **row,
                    "patient_id": patient_id,
                    **{
                        name: row[name] + shift
                        for name in ("start_at", "end_at", "chair_start_at", "chair_end_at")
                        if row[name] is not None
                    },
                    "ical_uid": f"bench-{day}@infusion-scheduler",
                }
            )
        if rows:
            db.execute(insert(Booking), rows)
        # Only the messages queued below are due: what the first booking queued is set aside.
        db.execute(text("UPDATE notification SET status = 'withdrawn'"))
        db.commit()
        ids = [int(i) for i in db.execute(text("SELECT id FROM booking ORDER BY id")).scalars()]
        common.analyze(db)
    engine.dispose()
    return ids


def queue(url: str, booking_ids: list[int], count: int) -> None:
    """``count`` due confirmations, spread over the bookings in turn."""
    engine = common.engine_for(url)
    now = datetime.now(UTC) - timedelta(seconds=1)
    rows = [
        {
            "booking_id": booking_ids[i % len(booking_ids)],
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


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of the processes so far."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def load() -> str:
    return "/".join(f"{value:.1f}" for value in os.getloadavg())


def export_source(ref: str, into: Path) -> Path:
    """``src/`` of the commit ``ref``, written under ``into``: the directory to import from."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", ref, "src"],
        cwd=common.ROOT,
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


@dataclass(frozen=True)
class Run:
    label: str
    messages: int
    elapsed: float
    worker_cpu: float
    load_before: str
    load_after: str

    @property
    def rate(self) -> float:
        return self.messages / self.elapsed

    def line(self) -> str:
        return (
            f"{self.label:<22} {self.messages} messages in {self.elapsed:6.2f} s ="
            f" {self.rate:6.0f}/s | worker CPU {self.worker_cpu / self.messages * 1000:5.2f}"
            f" ms/message | load {self.load_before} -> {self.load_after}"
        )


def run_once(label: str, source: Path | None, *, messages: int, visits: int) -> Run:
    with (
        common.fresh_database("postgresql", f"notify_worker_{os.getpid()}") as url,
        tempfile.TemporaryDirectory(prefix="bench_worker_") as data_dir,
    ):
        booking_ids = seed(url, visits)
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
        if source is not None:
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(source), os.environ.get("PYTHONPATH", "")) if p
            )
            where = subprocess.run(
                [sys.executable, "-c", "import scheduler; print(scheduler.__file__)"],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            if not where.startswith(str(source)):
                raise SystemExit(f"the workers would not run {label}'s code but {where}")
        log = Path(data_dir) / "workers.log"
        with log.open("wb") as out:
            workers = [
                subprocess.Popen(
                    [sys.executable, "-m", "scheduler.cli", "worker"],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
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
            pids = [w.pid for w in workers]
            load_before = load()
            cpu_before = cpu_seconds(pids)
            queue(url, booking_ids, messages)
            started = progressed = time.perf_counter()
            done = 0
            while done < messages:
                time.sleep(0.05)
                if (now := sent(url)) > done:
                    done, progressed = now, time.perf_counter()
                elif time.perf_counter() - progressed > STALL_SECONDS:
                    tail = log.read_text(errors="replace")[-3000:]
                    raise SystemExit(f"{label}: no message sent for {STALL_SECONDS} s\n{tail}")
            elapsed = time.perf_counter() - started
            worker_cpu = cpu_seconds(pids) - cpu_before
            load_after = load()
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            for worker in workers:
                worker.wait(timeout=30)
            sink.terminate()
            sink.wait(timeout=10)
    run = Run(label, messages, elapsed, worker_cpu, load_before, load_after)
    print(run.line(), flush=True)
    return run


def main() -> None:
    def options(parser: Any) -> None:
        parser.add_argument("--messages", type=int, default=2000)
        parser.add_argument(
            "--visits", type=int, default=0, help="visits the messages are about (0: one each)"
        )
        parser.add_argument("--compare-ref", default="", help="also measure this commit")
        parser.add_argument("--rounds", type=int, default=1)

    args = common.parse_args(__doc__ or "", options)
    visits = args.visits or args.messages
    common.banner(
        f"worker throughput: {args.messages} messages about {visits} visits,"
        f" {WORKERS} workers, PostgreSQL"
    )
    print(common.machine_line())
    print(f"PostgreSQL {common.postgres_version()}")
    with tempfile.TemporaryDirectory(prefix="bench_worker_ref_") as ref_dir:
        plan: list[tuple[str, Path | None]] = [("this tree", None)]
        if args.compare_ref:
            plan.insert(0, (args.compare_ref, export_source(args.compare_ref, Path(ref_dir))))
        common.section("runs (alternating)" if args.compare_ref else "runs")
        runs = [
            run_once(label, source, messages=args.messages, visits=visits)
            for _ in range(args.rounds)
            for label, source in plan
        ]
    common.section("result (median of the rounds)")
    rates: dict[str, float] = {}
    for label, _ in plan:
        mine = [r for r in runs if r.label == label]
        rates[label] = statistics.median(r.rate for r in mine)
        cpu = statistics.median(r.worker_cpu / r.messages * 1000 for r in mine)
        print(f"{label:<22} {rates[label]:6.0f} messages/s, worker CPU {cpu:5.2f} ms/message")
    rate = rates["this tree"]
    if args.compare_ref:
        print(f"this tree / {args.compare_ref}: {rate / rates[args.compare_ref]:.2f}x")
    print(f"target >= {TARGET_RATE:.0f}/s: {common.verdict(rate >= TARGET_RATE)}")


if __name__ == "__main__":
    main()
