"""Real server processes for concurrency tests: uvicorn subprocesses on loopback ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import TEST_SECRET


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_server(
    database_url: str,
    *,
    log_file: Path | None = None,
    app: str = "scheduler.main:create_app",
    **env: str,
) -> Iterator[str]:
    """Start ``scheduler`` in its own process against ``database_url``; yield its base URL.

    With ``log_file`` the server logs at info level (access log included) into that file.
    ``app`` is the uvicorn factory to serve (``tests.web.frozen_app:create_app`` serves the
    app on a clock frozen at ``SCHEDULER_TEST_NOW``).
    """
    port = free_port()
    environment = {
        **os.environ,
        "SCHEDULER_DATABASE_URL": database_url,
        "SCHEDULER_ENVIRONMENT": "test",
        "SCHEDULER_SECRET_KEY": TEST_SECRET,
        "SCHEDULER_RATE_LIMIT_ENABLED": "false",
        # In production mode (benchmarks) the app logs a line per request: only with log_file.
        "SCHEDULER_LOG_LEVEL": "INFO" if log_file else "WARNING",
        **env,
    }
    log = log_file.open("wb") if log_file else None
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "info" if log_file else "warning",
        ],
        env=environment,
        stdout=log.fileno() if log else None,
        stderr=subprocess.STDOUT if log else None,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90  # a loaded CI machine starts slowly
        while True:
            try:
                if httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                msg = f"server on {base_url} did not start (exit {process.poll()})"
                raise RuntimeError(msg)
            time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if log:
            log.close()
