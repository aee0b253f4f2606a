"""A deployment in miniature: two API processes and one worker on one PostgreSQL, with the
rate limits in a real Redis and a real SMTP server, as docker-compose runs them.

- a client that alternates between the processes gets its login budget once, not twice;
- a booking made through either process is confirmed by the one worker, exactly once;
- ``/metrics`` from either process counts both bookings (multiprocess mode) and sees the
  outbox drained.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel import Session

from scheduler.config import Settings
from scheduler.db import build_engine
from scheduler.migrate import upgrade
from tests.clinic_fixture import make_clinic
from tests.conftest import TEST_SECRET, dispose_database, fresh_database_url, make_settings
from tests.factories import auth_headers, make_user
from tests.live import running_server
from tests.metrics.test_metrics import parse, value
from tests.notifications.smtp_sink import SmtpServer
from tests.notifications.test_worker_processes import stop, wait_for
from tests.ops.test_shared_rate_limits import redis_url  # noqa: F401  (fixture)

NEW_YORK = ZoneInfo("America/New_York")
METRICS_TOKEN = "metrics-token-for-the-multiprocess-test-0123"


def next_weekday_10(weekday: int) -> datetime:
    """10:00 New York on the given weekday at least four days away: its reminders (48 h and
    24 h before) and day-before instructions are not due, so the confirmation is the only
    message the worker sends."""
    today = datetime.now(NEW_YORK).date() + timedelta(days=4)
    day = today + timedelta(days=(weekday - today.weekday()) % 7)
    return datetime.combine(day, time(10), NEW_YORK).astimezone(UTC)


@dataclass(frozen=True)
class Deployment:
    url: str
    desk: dict[str, str]  # a front-desk bearer token
    location_id: int
    infusion_id: int
    patients: tuple[tuple[int, str], ...]  # (id, e-mail) of two eligible patients


@pytest.fixture
def deployment_db(tmp_path: Path) -> Iterator[Deployment]:
    url = fresh_database_url("postgresql", tmp_path, "multiprocess")
    upgrade(url)
    settings: Settings = make_settings(url)
    engine = build_engine(settings)
    with Session(engine) as db:
        clinic = make_clinic(db)
        desk = make_user(db, role="front_desk")
        db.commit()
        deployment = Deployment(
            url=url,
            desk=auth_headers(desk, settings, datetime.now(UTC)),
            location_id=clinic.location_id,
            infusion_id=clinic.infusion_id,
            patients=tuple(
                (p.id or 0, p.email or "") for p in (clinic.patient, clinic.other_patient)
            ),
        )
    engine.dispose()
    yield deployment
    dispose_database(url)


def start_worker(url: str, smtp: SmtpServer, data_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "SCHEDULER_DATABASE_URL": url,
        "SCHEDULER_ENVIRONMENT": "test",
        "SCHEDULER_SECRET_KEY": TEST_SECRET,
        "SCHEDULER_DATA_DIR": str(data_dir),
        "SCHEDULER_MAIL_TRANSPORT": "smtp",
        "SCHEDULER_SMTP_HOST": "127.0.0.1",
        "SCHEDULER_SMTP_PORT": str(smtp.port),
        "SCHEDULER_WORKER_POLL_SECONDS": "0.2",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "scheduler.cli", "worker"],
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@pytest.mark.timeout(300)
def test_two_api_processes_and_one_worker_behave_as_one_service(
    redis_url: str,  # noqa: F811
    deployment_db: Deployment,
    tmp_path: Path,
) -> None:
    url, desk = deployment_db.url, deployment_db.desk
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    settings = {
        "SCHEDULER_RATE_LIMIT_ENABLED": "true",
        "SCHEDULER_RATE_LIMIT_STORAGE_URI": redis_url,
        "SCHEDULER_LOGIN_RATE_LIMIT": "4/minute",
        "SCHEDULER_METRICS_TOKEN": METRICS_TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
    }
    log = tmp_path / "worker.log"
    with (
        SmtpServer() as smtp,
        running_server(url, **settings) as first,
        running_server(url, **settings) as second,
    ):
        worker = start_worker(url, smtp, tmp_path, log)
        try:
            # Bookings through each process (the patients' e-mails are what the sink sees).
            made = []
            for base, (patient_id, email), weekday in zip(
                (first, second), deployment_db.patients, (1, 2), strict=True
            ):
                response = httpx.post(
                    f"{base}/api/v1/bookings",
                    json={
                        "patient_id": patient_id,
                        "appointment_type_id": deployment_db.infusion_id,
                        "location_id": deployment_db.location_id,
                        "start_at": next_weekday_10(weekday).isoformat(),
                    },
                    headers=desk,
                    timeout=30,
                )
                assert response.status_code == 201, response.text
                made.append(email)

            def confirmations() -> Counter[str]:
                return Counter(
                    str(message["To"])
                    for message in list(smtp.sink.messages)
                    if str(message["Subject"]).startswith("Your appointment at ")
                )

            wait_for(lambda: len(smtp.sink.messages) >= 2, 120, "both confirmations")

            # Login attempts alternate between the processes: one budget of 4 in all.
            attempt = {"username": "nobody@clinic.example", "password": "wrong-password-123"}
            answers = [
                httpx.post(f"{base}/api/v1/auth/token", data=attempt, timeout=30).status_code
                for base in (first, second, first, second, first, second)
            ]

            scrape = {"Authorization": f"Bearer {METRICS_TOKEN}"}
            scrapes = [
                parse(httpx.get(f"{base}/metrics", headers=scrape, timeout=30).text)
                for base in (first, second)
            ]
        finally:
            assert stop(worker) == 0, log.read_text()

    assert answers == [401, 401, 401, 401, 429, 429]
    # Each booking confirmed once, by the one worker, whichever process took it.
    assert confirmations() == Counter(dict.fromkeys(made, 1))
    assert len(smtp.sink.messages) == 2  # nothing else was due
    for samples in scrapes:
        assert value(samples, "scheduler_bookings_created_total", source="front_desk") == 2
        assert value(samples, "scheduler_outbox_messages", state="due") == 0
        assert value(samples, "scheduler_outbox_messages", state="failed") == 0
