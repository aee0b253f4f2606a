"""/readyz: ready only when the database answers AND is at the migrations' head."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from scheduler.main import create_app
from scheduler.migrate import downgrade, head_revisions, upgrade
from tests.conftest import dispose_database, fresh_database_url, make_settings


@pytest.fixture
def fresh_url(backend: str, tmp_path: Path) -> Iterator[str]:
    url = fresh_database_url(backend, tmp_path, "readyz")
    yield url
    dispose_database(url)


def test_not_ready_until_migrated_to_head(fresh_url: str) -> None:
    upgrade(fresh_url)
    downgrade(fresh_url, "-1")
    with TestClient(create_app(make_settings(fresh_url))) as client:
        behind = client.get("/readyz")
        assert behind.status_code == 503
        assert behind.headers["content-type"].startswith("application/problem+json")
        assert behind.json()["code"] == "migrations_pending"
        assert "scheduler migrate" in behind.json()["detail"]
        assert client.get("/healthz").status_code == 200  # alive, just not ready

        upgrade(fresh_url)
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json() == {"status": "ready", "database": "ok", "migrations": "head"}


def test_a_never_migrated_database_is_not_ready(fresh_url: str) -> None:
    with TestClient(create_app(make_settings(fresh_url))) as client:
        answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["code"] == "migrations_pending"
    assert "revision none" in answer.json()["detail"]
    assert head_revisions()


def test_an_unreachable_database_is_not_ready() -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    with TestClient(create_app(make_settings(url))) as client:
        answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["code"] == "database_unavailable"
