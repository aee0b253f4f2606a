"""``scheduler worker --healthcheck`` reads the heartbeat file the worker writes each round."""

from __future__ import annotations

import os
import time
from pathlib import Path

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from scheduler.worker.runner import Worker, healthcheck, heartbeat_path
from tests.conftest import make_settings


def test_the_heartbeat_is_fresh_after_a_round_and_stale_later(tmp_path: Path) -> None:
    settings = make_settings(
        f"sqlite:///{tmp_path / 'unused.db'}",
        data_dir=tmp_path,
        worker_heartbeat_max_age_seconds=60,
    )
    assert not healthcheck(settings)  # no worker ever ran here
    worker = Worker(settings, session_factory=sessionmaker(class_=Session), worker_id="w")
    worker.beat()
    assert healthcheck(settings)
    old = time.time() - 61
    os.utime(heartbeat_path(settings), (old, old))
    assert not healthcheck(settings)
