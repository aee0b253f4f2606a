"""`scheduler serve` as production runs it: two processes, JSON logs, a clean stop on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from scheduler.migrate import upgrade
from tests.conftest import TEST_SECRET
from tests.live import free_port


def test_production_serve_logs_json_lines_without_paths_or_queries(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    upgrade(url)
    port = free_port()
    env = {
        **os.environ,
        "SCHEDULER_DATABASE_URL": url,
        "SCHEDULER_ENVIRONMENT": "production",
        "SCHEDULER_SECRET_KEY": TEST_SECRET,
    }
    log_path = tmp_path / "serve.log"
    feed_token = "feedtoken-" + "z" * 40
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "scheduler.cli", "serve", "--port", str(port), "--workers", "2"],
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 90  # a busy machine imports slowly
            while True:
                try:
                    if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert process.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.5)
            searched = httpx.get(
                f"{base}/api/v1/patients",
                params={"q": "Marquez"},
                headers={"X-Request-ID": "search-1"},
            )
            assert searched.status_code == 401
            assert searched.headers["X-Request-ID"] == "search-1"
            assert httpx.get(f"{base}/feeds/{feed_token}.ics").status_code == 404
        finally:
            process.send_signal(signal.SIGTERM)
            exit_code = process.wait(timeout=60)
    assert exit_code == 0  # drained and stopped, not killed

    text = log_path.read_text()
    lines = [json.loads(line) for line in text.splitlines()]  # all JSON
    access = [line for line in lines if line["logger"] == "scheduler.access"]
    routes = {(a["route"], a["status"]) for a in access}
    assert ("/api/v1/patients", 401) in routes
    assert ("/feeds/{token}.ics", 404) in routes
    assert next(a for a in access if a["route"] == "/api/v1/patients")["request_id"] == "search-1"
    assert not [line for line in lines if line["logger"] == "uvicorn.access"]
    for secret in ("Marquez", feed_token, "q="):
        assert secret not in text
