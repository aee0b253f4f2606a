"""First run: ``scheduler create-admin`` makes a login that works, without a terminal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from scheduler.migrate import upgrade
from tests.conftest import dispose_database, fresh_database_url, make_settings
from tests.ops.test_backup import client_for, run_cli

PASSWORD = "correct horse battery staple"


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A database of its own: the command commits, unlike the suite's rolled-back tests."""
    url = fresh_database_url(backend, tmp_path, "create_admin")
    upgrade(url)
    yield url
    dispose_database(url)


def login(client: TestClient, email: str, password: str) -> int:
    answer = client.post("/api/v1/auth/token", data={"username": email, "password": password})
    return int(answer.status_code)


def test_create_admin_from_stdin_then_sign_in(database_url: str, tmp_path: Path) -> None:
    email = "it@clinic.example"
    made = run_cli(
        database_url,
        tmp_path,
        "create-admin",
        "--email",
        email,
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert made.returncode == 0, made.stderr
    assert f"created admin {email}" in made.stdout
    with client_for(make_settings(database_url)) as client:
        assert login(client, email, PASSWORD) == 200
        assert login(client, email, PASSWORD + "x") == 401

    again = run_cli(
        database_url,
        tmp_path,
        "create-admin",
        "--email",
        email,
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert again.returncode != 0
    assert "already exists" in again.stderr


def test_a_short_password_is_refused_without_echoing_it(database_url: str, tmp_path: Path) -> None:
    short = "hunter2"
    refused = run_cli(
        database_url,
        tmp_path,
        "create-admin",
        "--email",
        "x@clinic.example",
        "--password-stdin",
        stdin=short + "\n",
    )
    assert refused.returncode != 0
    assert "password" in refused.stderr
    assert short not in refused.stderr + refused.stdout
