"""Two API processes on one PostgreSQL count each client's requests once, in Redis.

With the in-memory store each process would keep its own counters and a client would get
twice its limit by alternating between them (what a load balancer does for it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from scheduler.migrate import upgrade
from tests.conftest import dispose_database, fresh_database_url
from tests.live import free_port, running_server


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs redis-server (.ci/run installs it)")
        pytest.skip("redis-server not installed")
    port = free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}"
    client = redis.Redis.from_url(url)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if client.ping():
                    break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.1)
        yield url
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    url = fresh_database_url("postgresql", tmp_path, "shared_limits")
    upgrade(url)
    yield url
    dispose_database(url)


def test_two_api_processes_share_one_login_budget(redis_url: str, pg_url: str) -> None:
    settings = {
        "SCHEDULER_RATE_LIMIT_ENABLED": "true",
        "SCHEDULER_RATE_LIMIT_STORAGE_URI": redis_url,
        "SCHEDULER_LOGIN_RATE_LIMIT": "4/minute",
    }
    attempt = {"username": "nobody@clinic.example", "password": "wrong-password-123"}
    with running_server(pg_url, **settings) as first, running_server(pg_url, **settings) as second:
        answers = [
            httpx.post(f"{base}/api/v1/auth/token", data=attempt, timeout=30).status_code
            for base in (first, second, first, second, first, second)
        ]
    # Four attempts in all, wherever they landed; then both processes refuse.
    assert answers == [401, 401, 401, 401, 429, 429]
