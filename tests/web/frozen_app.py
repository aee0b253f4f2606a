"""The app on a frozen clock, for live servers in tests (``running_server(app=...)``).

``SCHEDULER_TEST_NOW`` (ISO 8601 with an offset) is the instant the server's clock shows for
its whole life, so a browser test can look at a known day: today's arrivals, a late patient,
a DST day on the board. Choose an instant in the past: the API's bearer tokens carry their
issue time, and PyJWT refuses a token issued in the future of the real clock.
"""

from __future__ import annotations

import os
from datetime import datetime

from fastapi import FastAPI

from scheduler.kit.clock import FrozenClock
from scheduler.main import create_app as create_real_app

APP = "tests.web.frozen_app:create_app"


def create_app() -> FastAPI:
    value = os.environ.get("SCHEDULER_TEST_NOW")
    clock = FrozenClock(datetime.fromisoformat(value)) if value else None
    return create_real_app(clock=clock)
