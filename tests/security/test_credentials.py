"""A password, role or status change ends the user's existing tokens, at once; the clinic
always keeps an active admin; staff can change their own password and admins can set one.

Tokens are issued at the frozen clock's instant; the clock moves on a little before each
change, as it would between a sign-in and a later change.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from scheduler.auth.credentials import (
    credentials_valid_since,
    from_numeric_date,
    issued_in_time,
    to_numeric_date,
)
from scheduler.config import Settings
from scheduler.kit.clock import FrozenClock
from scheduler.models import User
from tests.factories import STAFF_PASSWORD, auth_headers, make_user

NEW_PASSWORD = "a much longer new passphrase"
ME = "/api/v1/auth/me"


def login(client: TestClient, email: str, password: str) -> dict[str, str] | None:
    response = client.post("/api/v1/auth/token", data={"username": email, "password": password})
    if response.status_code != 200:
        assert response.status_code == 401, response.text
        return None
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def audit(client: TestClient, headers: dict[str, str], user_id: int) -> list[dict[str, Any]]:
    response = client.get(
        "/api/v1/audit-events",
        params={"entity_type": "user", "entity_id": user_id},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_own_password_change_ends_old_tokens_and_answers_with_a_new_one(
    client: TestClient,
    db: Session,
    settings: Settings,
    clock: FrozenClock,
    admin_headers: dict[str, str],
) -> None:
    desk = make_user(db, role="front_desk", email="desk@clinic.example")
    old = login(client, desk.email, STAFF_PASSWORD)
    assert old is not None
    other_device = auth_headers(desk, settings, clock.now())
    assert client.get(ME, headers=old).status_code == 200  # now remembered by the process

    clock.advance(timedelta(minutes=1))
    changed = client.post(
        "/api/v1/auth/password",
        json={"current_password": STAFF_PASSWORD, "new_password": NEW_PASSWORD},
        headers=old,
    )
    assert changed.status_code == 200, changed.text
    fresh = {"Authorization": f"Bearer {changed.json()['access_token']}"}

    for headers in (old, other_device):
        refused = client.get(ME, headers=headers)
        assert refused.status_code == 401
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "sign in again" in refused.json()["detail"]
    assert client.get(ME, headers=fresh).status_code == 200  # issued in the same instant
    assert login(client, desk.email, STAFF_PASSWORD) is None
    assert login(client, desk.email, NEW_PASSWORD) is not None

    events = audit(client, admin_headers, desk.id or 0)
    assert [e["action"] for e in events].count("user.password_change") == 1
    for secret in (STAFF_PASSWORD, NEW_PASSWORD, "password_hash", "$argon2"):
        assert secret not in str(events)


def test_a_wrong_current_password_changes_nothing(
    client: TestClient, db: Session, settings: Settings, clock: FrozenClock
) -> None:
    desk = make_user(db, role="front_desk", email="desk@clinic.example")
    headers = auth_headers(desk, settings, clock.now())
    clock.advance(timedelta(minutes=1))

    wrong = client.post(
        "/api/v1/auth/password",
        json={"current_password": "not my password", "new_password": NEW_PASSWORD},
        headers=headers,
    )
    assert wrong.status_code == 403
    assert wrong.json()["code"] == "wrong_password"
    same = client.post(
        "/api/v1/auth/password",
        json={"current_password": STAFF_PASSWORD, "new_password": STAFF_PASSWORD},
        headers=headers,
    )
    assert same.status_code == 422
    short = client.post(
        "/api/v1/auth/password",
        json={"current_password": STAFF_PASSWORD, "new_password": "short"},
        headers=headers,
    )
    assert short.status_code == 422

    assert client.get(ME, headers=headers).status_code == 200
    assert login(client, desk.email, STAFF_PASSWORD) is not None
    assert client.post("/api/v1/auth/password", json={}).status_code == 401


def test_an_admin_sets_a_password_and_the_old_tokens_end(
    client: TestClient,
    db: Session,
    settings: Settings,
    clock: FrozenClock,
    admin_headers: dict[str, str],
) -> None:
    desk = make_user(db, role="front_desk", email="desk@clinic.example")
    old = auth_headers(desk, settings, clock.now())
    assert client.get(ME, headers=old).status_code == 200
    clock.advance(timedelta(seconds=30))

    reset = client.patch(
        f"/api/v1/users/{desk.id}", json={"password": NEW_PASSWORD}, headers=admin_headers
    )
    assert reset.status_code == 200, reset.text
    assert reset.json()["credentials_changed_at"] is not None

    assert client.get(ME, headers=old).status_code == 401
    assert login(client, desk.email, STAFF_PASSWORD) is None
    assert login(client, desk.email, NEW_PASSWORD) is not None
    events = audit(client, admin_headers, desk.id or 0)
    assert any(
        e["action"] == "user.update" and e["reason"] == "password set by an admin" for e in events
    )


def test_a_name_change_keeps_tokens(
    client: TestClient,
    db: Session,
    settings: Settings,
    clock: FrozenClock,
    admin_headers: dict[str, str],
) -> None:
    desk = make_user(db, role="front_desk", email="desk@clinic.example")
    headers = auth_headers(desk, settings, clock.now())
    clock.advance(timedelta(seconds=30))
    renamed = client.patch(
        f"/api/v1/users/{desk.id}",
        json={"full_name": "Dee Desk", "role": "front_desk", "active": True},
        headers=admin_headers,
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["credentials_changed_at"] is None
    # A null role, flag or password is "unchanged" (it was a 500 once), not a change.
    nulls = client.patch(
        f"/api/v1/users/{desk.id}",
        json={"role": None, "active": None, "password": None},
        headers=admin_headers,
    )
    assert nulls.status_code == 200, nulls.text
    assert (nulls.json()["role"], nulls.json()["active"]) == ("front_desk", True)
    assert nulls.json()["credentials_changed_at"] is None
    assert client.get(ME, headers=headers).status_code == 200


def test_a_re_enabled_account_does_not_revive_its_old_tokens(
    client: TestClient,
    db: Session,
    settings: Settings,
    clock: FrozenClock,
    admin_headers: dict[str, str],
) -> None:
    desk = make_user(db, role="front_desk", email="desk@clinic.example")
    old = auth_headers(desk, settings, clock.now())
    clock.advance(timedelta(seconds=30))
    url = f"/api/v1/users/{desk.id}"
    assert client.patch(url, json={"active": False}, headers=admin_headers).status_code == 200
    clock.advance(timedelta(seconds=30))
    assert client.patch(url, json={"active": True}, headers=admin_headers).status_code == 200

    assert client.get(ME, headers=old).status_code == 401
    assert login(client, desk.email, STAFF_PASSWORD) is not None


def disabled_admin(db: Session) -> User:
    user = make_user(db, role="admin", email="gone@clinic.example")
    user.active = False
    db.add(user)
    db.commit()
    return user


def test_the_last_active_admin_cannot_demote_or_disable_themselves(
    client: TestClient, db: Session, settings: Settings, clock: FrozenClock
) -> None:
    boss = make_user(db, role="admin", email="boss@clinic.example")
    disabled_admin(db)  # does not count
    headers = auth_headers(boss, settings, clock.now())
    clock.advance(timedelta(seconds=30))
    url = f"/api/v1/users/{boss.id}"

    for change in ({"active": False}, {"role": "front_desk"}, {"role": "admin", "active": False}):
        refused = client.patch(url, json=change, headers=headers)
        assert refused.status_code == 409, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["code"] == "last_admin"
        assert "last active admin" in refused.json()["detail"]
    me = client.get(ME, headers=headers)
    assert me.status_code == 200  # nothing changed, no token ended
    assert me.json()["role"] == "admin"
    assert me.json()["active"] is True


def test_an_admin_may_step_down_while_another_admin_remains(
    client: TestClient, db: Session, settings: Settings, clock: FrozenClock
) -> None:
    boss = make_user(db, role="admin", email="boss@clinic.example")
    deputy = make_user(db, role="admin", email="deputy@clinic.example")
    boss_headers = auth_headers(boss, settings, clock.now())
    deputy_headers = auth_headers(deputy, settings, clock.now())
    clock.advance(timedelta(seconds=30))

    stepped_down = client.patch(
        f"/api/v1/users/{boss.id}", json={"role": "front_desk"}, headers=boss_headers
    )
    assert stepped_down.status_code == 200, stepped_down.text
    assert client.get(ME, headers=boss_headers).status_code == 401  # the admin token ended

    # Now the deputy is the last one: neither leaving nor being disabled is allowed.
    last = client.patch(
        f"/api/v1/users/{deputy.id}", json={"active": False}, headers=deputy_headers
    )
    assert last.status_code == 409
    assert last.json()["code"] == "last_admin"
    assert client.get("/api/v1/users", headers=deputy_headers).status_code == 200


def test_credentials_valid_since_compares_to_the_microsecond(
    db: Session, clock: FrozenClock
) -> None:
    user = make_user(db, role="front_desk", email="desk@clinic.example")
    issued = clock.now() + timedelta(microseconds=123_457)
    assert from_numeric_date(to_numeric_date(issued)) == issued
    assert from_numeric_date("yesterday") is None
    assert from_numeric_date(float("nan")) is None
    assert credentials_valid_since(user) is None
    assert issued_in_time(user, None)

    user.credentials_changed_at = issued
    db.add(user)
    db.commit()
    db.refresh(user)  # as read back from the database
    assert credentials_valid_since(user) == issued
    assert issued_in_time(user, issued)
    assert not issued_in_time(user, issued - timedelta(microseconds=1))
    assert not issued_in_time(user, None)
