"""The API keeps its documented contract under generated input (schemathesis).

Every operation of ``/openapi.json`` is exercised against a live server on each database, as an
admin and as front-desk staff: examples, boundary values, random inputs and stateful sequences
(schemathesis follows the links it infers between operations). A run fails on any server error,
any status code the document does not list for the operation, any undocumented content type
and any response body that breaks its schema. The seed and the number of examples are fixed so
the run is repeatable and CI stays short; the summary is printed into the CI log.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from scheduler.config import Settings
from scheduler.db import build_engine, build_sessionmaker
from scheduler.demo import seed_demo
from scheduler.kit.clock import SystemClock
from scheduler.migrate import upgrade
from tests.conftest import dispose_database, fresh_database_url
from tests.live import running_server

SEED = "20261205"
EXAMPLES = "8"
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    )
)
LOGINS = {"admin": "admin@demo.clinic", "front_desk": "desk@demo.clinic"}
DEMO_PASSWORD = "demo-password-change-me"


def _seeded_database(backend: str, tmp_path: Path, role: str) -> str:
    url = fresh_database_url(backend, tmp_path, f"contract_{role}")
    upgrade(url)
    engine = build_engine(Settings(environment="development", database_url=url))
    with build_sessionmaker(engine)() as session, session.begin():
        seed_demo(session, now=SystemClock().now())
    engine.dispose()
    return url


def _schemathesis() -> str:
    found = shutil.which("schemathesis") or str(Path(sys.executable).with_name("schemathesis"))
    assert Path(found).exists(), "schemathesis is a dev dependency: run make install"
    return found


@pytest.mark.parametrize("role", sorted(LOGINS))
def test_every_operation_keeps_its_contract(
    backend: str, tmp_path: Path, role: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _seeded_database(backend, tmp_path, role)
    try:
        with running_server(url) as base_url:
            token = httpx.post(
                f"{base_url}/api/v1/auth/token",
                data={"username": LOGINS[role], "password": DEMO_PASSWORD},
            ).json()["access_token"]
            result = subprocess.run(
                [
                    _schemathesis(),
                    "run",
                    f"{base_url}/openapi.json",
                    "--header",
                    f"Authorization: Bearer {token}",
                    "--checks",
                    CHECKS,
                    "--phases",
                    "examples,coverage,fuzzing,stateful",
                    "--max-examples",
                    EXAMPLES,
                    "--seed",
                    SEED,
                    "--workers",
                    "1",
                    "--no-color",
                ],
                capture_output=True,
                text=True,
                timeout=900,
                cwd=tmp_path,  # its cache of replays stays out of the checkout
                check=False,
            )
    finally:
        dispose_database(url)
    output = result.stdout + result.stderr
    summary = output[output.rfind("SUMMARY") :] if "SUMMARY" in output else output[-3000:]
    with capsys.disabled():
        print(f"\n--- schemathesis as {role} on {backend} ---\n{summary}", file=sys.stderr)
    assert result.returncode == 0, output[-30000:]
