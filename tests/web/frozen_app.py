"""The app on a frozen clock, for live servers in tests (``running_server(app=...)``).

``SCHEDULER_TEST_NOW`` (ISO 8601 with an offset) is the instant the server's clock shows for
its whole life, so a browser test can look at a known day: today's arrivals, a late patient,
a DST day on the board. Choose an instant in the past: the API's bearer tokens carry their
issue time, and PyJWT refuses a token issued in the future of the real clock.

``SCHEDULER_TEST_CLOCK_FILE`` instead: the clock shows the instant written in that file
(ISO 8601), read on every call, so a test moves the server's time by rewriting it (a hold
that expires while the patient types, a cut-off that passes).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI

from scheduler.kit.clock import Clock, FrozenClock
from scheduler.main import create_app as create_real_app

APP = "tests.web.frozen_app:create_app"


class FileClock:
    """The instant written in a file, read on every call."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def now(self) -> datetime:
        return datetime.fromisoformat(self.path.read_text().strip()).astimezone(UTC)


def create_app() -> FastAPI:
    clock: Clock | None = None
    if file := os.environ.get("SCHEDULER_TEST_CLOCK_FILE"):
        clock = FileClock(Path(file))
    elif value := os.environ.get("SCHEDULER_TEST_NOW"):
        clock = FrozenClock(datetime.fromisoformat(value))
    return create_real_app(clock=clock)
