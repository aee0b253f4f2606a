"""Backup and restore round trip, through the real ``scheduler`` command, on both databases.

The clinic books two visits, is backed up, then books a third. Restoring the backup into a
new, empty database gives a database at the migrations' head that passes ``alembic check`` and
serves the two backed-up bookings exactly as before, and not the later one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from scheduler.config import Settings
from scheduler.db import build_engine
from scheduler.kit.clock import FrozenClock
from scheduler.main import create_app
from scheduler.migrate import check, upgrade
from tests.bookings.test_bookings_api import book
from tests.clinic_fixture import make_clinic
from tests.conftest import (
    DEFAULT_NOW,
    TEST_SECRET,
    dispose_database,
    fresh_database_url,
    make_settings,
)
from tests.factories import auth_headers, make_user


def cli_env(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "SCHEDULER_DATABASE_URL": url,
        "SCHEDULER_ENVIRONMENT": "test",
        "SCHEDULER_SECRET_KEY": TEST_SECRET,
    }


def run_cli(url: str, cwd: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scheduler.cli", *args],
        env=cli_env(url),
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def source_url(backend: str, tmp_path: Path) -> Iterator[str]:
    url = fresh_database_url(backend, tmp_path, "backup_source")
    upgrade(url)
    yield url
    dispose_database(url)


@pytest.fixture
def empty_url(backend: str, tmp_path: Path) -> Iterator[str]:
    url = fresh_database_url(backend, tmp_path, "backup_restored")
    yield url
    dispose_database(url)


def seed(settings: Settings) -> tuple[Any, dict[str, str]]:
    engine = build_engine(settings)
    with Session(engine, expire_on_commit=False) as db:
        clinic = make_clinic(db)
        headers = auth_headers(make_user(db, role="front_desk"), settings, DEFAULT_NOW)
    engine.dispose()
    return clinic, headers


def client_for(settings: Settings) -> TestClient:
    return TestClient(create_app(settings, clock=FrozenClock(DEFAULT_NOW)))


def test_backup_and_restore_round_trip(source_url: str, empty_url: str, tmp_path: Path) -> None:
    source = make_settings(source_url)
    clinic, headers = seed(source)
    with client_for(source) as client:
        kept = [
            book(client, headers, clinic, start=start).json()
            for start in ("2026-03-03T09:00:00-05:00", "2026-03-03T13:00:00-05:00")
        ]
        assert all("id" in b for b in kept), kept

    backup_file = tmp_path / "clinic.backup"
    done = run_cli(source_url, tmp_path, "backup", str(backup_file))
    assert done.returncode == 0, done.stderr
    assert backup_file.stat().st_size > 0
    assert "password" not in done.stdout + done.stderr
    to_stdout = subprocess.run(
        [sys.executable, "-m", "scheduler.cli", "backup", "-"],
        env=cli_env(source_url),
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert to_stdout.returncode == 0, to_stdout.stderr
    assert to_stdout.stdout[:5] == backup_file.read_bytes()[:5]  # "SQLit" / "PGDMP"

    with client_for(source) as client:
        later = book(client, headers, clinic, start="2026-03-04T09:00:00-05:00").json()

    # Through standard input, as `docker compose exec -T api scheduler restore - < file` does.
    restored = subprocess.run(
        [sys.executable, "-m", "scheduler.cli", "restore", "-"],
        env=cli_env(empty_url),
        cwd=tmp_path,
        input=backup_file.read_bytes(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert restored.returncode == 0, restored.stderr
    check(empty_url)  # the restored schema is exactly what the migrations describe
    with client_for(make_settings(empty_url)) as client:
        assert client.get("/readyz").status_code == 200
        for booking in kept:
            served = client.get(f"/api/v1/bookings/{booking['id']}", headers=headers)
            assert served.status_code == 200
            assert served.json() == booking
        assert client.get(f"/api/v1/bookings/{later['id']}", headers=headers).status_code == 404

    # Over a database that holds data, only when asked; then it is yesterday's state again.
    refused = run_cli(source_url, tmp_path, "restore", str(backup_file))
    assert refused.returncode != 0
    assert "--clean" in refused.stderr
    with client_for(source) as client:
        assert client.get(f"/api/v1/bookings/{later['id']}", headers=headers).status_code == 200
    replaced = run_cli(source_url, tmp_path, "restore", "--clean", str(backup_file))
    assert replaced.returncode == 0, replaced.stderr
    check(source_url)
    with client_for(source) as client:
        assert client.get(f"/api/v1/bookings/{later['id']}", headers=headers).status_code == 404
        first = client.get(f"/api/v1/bookings/{kept[0]['id']}", headers=headers)
        assert first.json() == kept[0]


def test_restore_of_a_missing_file_says_so(source_url: str, tmp_path: Path) -> None:
    missing = run_cli(source_url, tmp_path, "restore", str(tmp_path / "nope.backup"))
    assert missing.returncode != 0
    assert "no backup file" in missing.stderr
