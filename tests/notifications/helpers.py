"""Shared set-up: a worker on the test's transaction, talking to the test's SMTP server."""

from __future__ import annotations

import re
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from scheduler.config import Settings
from scheduler.kit.clock import FrozenClock
from scheduler.worker.runner import Worker
from tests.conftest import make_settings
from tests.notifications.smtp_sink import SmtpServer


def worker_settings(
    database_url: str, smtp: SmtpServer | None, tmp: Path, **extra: Any
) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp,
        "mail_from": "Downtown Clinic <desk@clinic.example>",
        "notification_max_attempts": 3,
        "notification_retry_base_seconds": 60,
        "smtp_timeout_seconds": 1.0,
    }
    if smtp is not None:
        values.update(mail_transport="smtp", smtp_host="127.0.0.1", smtp_port=smtp.port)
    values.update(extra)
    return make_settings(database_url, **values)


def make_worker(
    settings: Settings, factory: sessionmaker[Session], clock: FrozenClock, name: str = "w1"
) -> Worker:
    return Worker(settings, session_factory=factory, clock=clock, worker_id=name)


def drain(worker: Worker) -> int:
    """Send everything due now; how many messages were claimed."""
    total = 0
    while claimed := worker.send_due():
        total += claimed
    return total


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())  # type: ignore[attr-defined]


def html_of(message: EmailMessage) -> str:
    body = message.get_body(("html",))
    assert body is not None
    return str(body.get_content())  # type: ignore[attr-defined]


def link_token(message: EmailMessage, kind: str = "manage") -> str:
    pattern = (
        r"/manage/([A-Za-z0-9_\-]+)"
        if kind == "manage"
        else (r"/public/reminders/([A-Za-z0-9_\-]+)/opt-out")
    )
    found = re.search(pattern, text_of(message))
    assert found is not None, text_of(message)
    return found.group(1)


def attachments(message: EmailMessage) -> list[EmailMessage]:
    return [part for part in message.iter_attachments() if isinstance(part, EmailMessage)]
