"""A disabled account or a changed role takes effect on the very next request.

(Password changes, the last admin and the end of old tokens: ``test_credentials.py``.)

Staff accounts are remembered briefly per process (``StaffAccounts``); a change through the
API must not wait for that memory to lapse on the process that made it.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session

from scheduler.config import Settings
from scheduler.kit.clock import FrozenClock
from tests.factories import auth_headers, make_user


def test_a_disabled_account_is_refused_at_once(
    client: TestClient,
    db: Session,
    settings: Settings,
    clock: FrozenClock,
    admin_headers: dict[str, str],
) -> None:
    desk = make_user(db, role="front_desk", email="leaving@clinic.example")
    headers = auth_headers(desk, settings, clock.now())
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200

    disabled = client.patch(
        f"/api/v1/users/{desk.id}", json={"active": False}, headers=admin_headers
    )
    assert disabled.status_code == 200, disabled.text

    refused = client.get("/api/v1/patients", headers=headers)
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "disabled" in refused.json()["detail"]


def test_a_new_role_ends_the_old_token_and_a_new_sign_in_has_it(
    client: TestClient,
    db: Session,
    settings: Settings,
    clock: FrozenClock,
    admin_headers: dict[str, str],
) -> None:
    desk = make_user(db, role="front_desk", email="desk2@clinic.example")
    headers = auth_headers(desk, settings, clock.now())
    assert client.get("/api/v1/patients", headers=headers).status_code == 200
    assert client.get("/api/v1/users", headers=headers).status_code == 403

    clock.advance(timedelta(seconds=1))
    promoted = client.patch(
        f"/api/v1/users/{desk.id}", json={"role": "admin"}, headers=admin_headers
    )
    assert promoted.status_code == 200, promoted.text

    # The token minted for the old role is over; signing in again gives the new one.
    assert client.get("/api/v1/users", headers=headers).status_code == 401
    clock.advance(timedelta(seconds=1))
    fresh = auth_headers(desk, settings, clock.now())
    assert client.get("/api/v1/users", headers=fresh).status_code == 200
    assert client.get("/api/v1/auth/me", headers=fresh).json()["role"] == "admin"
