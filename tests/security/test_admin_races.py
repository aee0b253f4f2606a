"""Account changes through real server processes sharing one database.

- Two admins stepping down at the same moment through two API processes: one succeeds, the
  other is told it is the last active admin; the clinic is never left without one.
- A password change refuses the old token at once on the process that made it, and on
  another process within ``StaffAccounts``' time to live (5 s), the documented bound.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import uuid4

import httpx
import pytest
from sqlalchemy import Engine, bindparam, text
from sqlmodel import Session

from scheduler.auth.security import issue_access_token
from scheduler.db import build_engine
from scheduler.migrate import upgrade
from tests.conftest import TEST_SECRET, dispose_database, fresh_database_url, make_settings
from tests.factories import STAFF_PASSWORD, make_user
from tests.live import running_server

ROUNDS = 4
STAFF_ACCOUNTS_TTL = 5.0


@dataclass
class TwoServers:
    """Two API processes on one migrated database, and the two admins' ids."""

    engine: Engine
    first: str
    second: str
    admins: list[int]


@pytest.fixture(scope="module")
def servers(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoServers]:
    url = fresh_database_url(backend, tmp_path_factory.mktemp("admins"), "admins")
    upgrade(url)
    engine = build_engine(make_settings(url))
    try:
        with running_server(url) as first, running_server(url) as second:
            yield TwoServers(engine, first, second, [])
    finally:
        engine.dispose()
        dispose_database(url)


@pytest.fixture
def two(servers: TwoServers) -> TwoServers:
    """The servers with exactly two active admins (new accounts each test)."""
    with servers.engine.begin() as conn:
        conn.execute(text("UPDATE user_account SET active = false"))
    with Session(servers.engine) as db:
        admins = [
            make_user(db, role="admin", email=f"admin{i}-{uuid4().hex}@clinic.example")
            for i in (1, 2)
        ]
        ids = [admin.id or 0 for admin in admins]
    return TwoServers(servers.engine, servers.first, servers.second, ids)


def bearer(user_id: int) -> dict[str, str]:
    token, _ = issue_access_token(
        user_id=user_id, role="admin", secret=TEST_SECRET, now=datetime.now(UTC), minutes=30
    )
    return {"Authorization": f"Bearer {token}"}


def test_two_admins_stepping_down_at_once_leave_one(two: TwoServers) -> None:
    for round_index in range(ROUNDS):
        with two.engine.begin() as conn:  # both admins again, as before the race
            conn.execute(
                text(
                    "UPDATE user_account SET role = 'admin', active = true WHERE id IN :ids"
                ).bindparams(bindparam("ids", expanding=True)),
                {"ids": two.admins},
            )
        barrier = threading.Barrier(2)
        change = {"role": "front_desk"} if round_index % 2 else {"active": False}

        def step_down(
            admin: int,
            base: str,
            change: dict[str, object] = change,
            barrier: threading.Barrier = barrier,
        ) -> int:
            with httpx.Client(base_url=base, timeout=60) as http:
                headers = bearer(admin)
                barrier.wait(timeout=30)
                response = http.patch(f"/api/v1/users/{admin}", json=change, headers=headers)
                if response.status_code == 409:
                    assert response.json()["code"] == "last_admin"
                return response.status_code

        with ThreadPoolExecutor(max_workers=2) as pool:
            codes = sorted(pool.map(step_down, two.admins, (two.first, two.second)))
        assert codes == [200, 409], (round_index, codes)
        with two.engine.connect() as conn:
            remaining = conn.execute(
                text("SELECT count(*) FROM user_account WHERE role = 'admin' AND active")
            ).scalar_one()
        assert remaining == 1


def test_a_password_change_ends_old_tokens_on_every_process_within_the_bound(
    two: TwoServers,
) -> None:
    old = bearer(two.admins[0])
    with httpx.Client(base_url=two.first) as one, httpx.Client(base_url=two.second) as other:
        assert other.get("/api/v1/auth/me", headers=old).status_code == 200  # remembered
        time.sleep(0.01)
        changed = one.post(
            "/api/v1/auth/password",
            json={"current_password": STAFF_PASSWORD, "new_password": "another passphrase"},
            headers=old,
        )
        assert changed.status_code == 200, changed.text
        changed_at = time.monotonic()
        fresh = {"Authorization": f"Bearer {changed.json()['access_token']}"}

        assert one.get("/api/v1/auth/me", headers=old).status_code == 401  # at once
        while other.get("/api/v1/auth/me", headers=old).status_code == 200:
            assert time.monotonic() - changed_at < STAFF_ACCOUNTS_TTL + 1.0
            time.sleep(0.2)
        assert other.get("/api/v1/auth/me", headers=fresh).status_code == 200
