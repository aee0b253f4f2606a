"""Clocks for tests that run a worker at a moment relative to the suite's default "now"."""

from __future__ import annotations

from datetime import timedelta

from scheduler.kit.clock import FrozenClock
from tests.conftest import DEFAULT_NOW


def moved(delta: timedelta) -> FrozenClock:
    return FrozenClock(DEFAULT_NOW + delta)
