"""App-wide behaviour: health probes, OpenAPI, problem+json for unknown routes, auth."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session

from scheduler.config import Settings
from scheduler.kit.clock import FrozenClock
from tests.factories import STAFF_PASSWORD, auth_headers, make_user


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] == "ok"


def test_openapi_lists_every_resource(client: TestClient) -> None:
    paths = set(client.get("/openapi.json").json()["paths"])
    for expected in (
        "/api/v1/auth/token",
        "/api/v1/users",
        "/api/v1/locations",
        "/api/v1/locations/{location_id}/chairs",
        "/api/v1/locations/{location_id}/closures",
        "/api/v1/providers",
        "/api/v1/providers/{provider_id}/availability-rules",
        "/api/v1/providers/{provider_id}/exceptions",
        "/api/v1/appointment-types",
        "/api/v1/patients",
    ):
        assert expected in paths, expected


def test_unknown_route_is_problem_json(client: TestClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "not_found"


def test_login_issues_a_token_that_works_and_expires(
    client: TestClient, db: Session, clock: FrozenClock
) -> None:
    make_user(db, role="front_desk", email="desk@clinic.example")
    login = client.post(
        "/api/v1/auth/token",
        data={"username": "Desk@Clinic.example", "password": STAFF_PASSWORD},
    )
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    me = client.get("/api/v1/auth/me", headers=headers)
    assert me.json()["role"] == "front_desk"

    clock.advance(timedelta(minutes=16))
    expired = client.get("/api/v1/auth/me", headers=headers)
    assert expired.status_code == 401
    assert expired.headers["content-type"] == "application/problem+json"
    assert expired.headers["www-authenticate"] == "Bearer"
    assert "expired" in expired.json()["detail"]


def test_wrong_password_and_unknown_user_answer_alike(client: TestClient, db: Session) -> None:
    make_user(db, role="admin", email="boss@clinic.example")
    wrong = client.post(
        "/api/v1/auth/token", data={"username": "boss@clinic.example", "password": "nope-nope-nope"}
    )
    unknown = client.post(
        "/api/v1/auth/token",
        data={"username": "ghost@clinic.example", "password": "nope-nope-nope"},
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]


def test_missing_and_forged_tokens_are_401(client: TestClient) -> None:
    assert client.get("/api/v1/locations").status_code == 401
    forged = client.get("/api/v1/locations", headers={"Authorization": "Bearer not.a.jwt"})
    assert forged.status_code == 401
    assert forged.json()["code"] == "not_authenticated"


def test_only_admins_manage_users(
    client: TestClient, db: Session, settings: Settings, clock: FrozenClock
) -> None:
    desk = auth_headers(make_user(db, role="front_desk"), settings, clock.now())
    admin = auth_headers(make_user(db, role="admin"), settings, clock.now())
    body = {"email": "new@clinic.example", "password": "long-enough-pw", "role": "front_desk"}
    denied = client.post("/api/v1/users", json=body, headers=desk)
    assert denied.status_code == 403
    assert denied.json()["code"] == "forbidden"
    created = client.post("/api/v1/users", json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert "password" not in created.text
    provider_without_link = client.post(
        "/api/v1/users",
        json={**body, "email": "p@clinic.example", "role": "provider"},
        headers=admin,
    )
    assert provider_without_link.status_code == 422
    assert provider_without_link.json()["errors"][0]["field"] == "provider_id"


def test_placeholder_secret_is_refused_outside_development() -> None:
    import pytest
    from pydantic import ValidationError

    from scheduler.config import PLACEHOLDER_SECRET, Settings

    Settings(environment="development", secret_key=PLACEHOLDER_SECRET)  # fine for a laptop
    for environment in ("production", "test"):
        with pytest.raises(ValidationError, match="SCHEDULER_SECRET_KEY"):
            Settings(environment=environment, secret_key=PLACEHOLDER_SECRET)
        with pytest.raises(ValidationError, match="SCHEDULER_SECRET_KEY"):
            Settings(environment=environment, secret_key="short")


def test_transient_database_aborts_are_retried_and_others_are_not() -> None:
    from sqlalchemy.exc import DBAPIError

    from scheduler.db.transaction import complete

    class Aborted(Exception):
        def __init__(self, sqlstate: str) -> None:
            self.sqlstate = sqlstate

    class RecordingSession:
        rollbacks = 0
        commits = 0

        def rollback(self) -> None:
            self.rollbacks += 1

        def commit(self) -> None:
            self.commits += 1

    attempts: list[int] = []

    def deadlocks_once() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise DBAPIError("INSERT", {}, Aborted("40P01"))
        return "booked"

    session = RecordingSession()
    assert complete(session, deadlocks_once) == "booked"  # type: ignore[arg-type]
    assert (len(attempts), session.rollbacks, session.commits) == (2, 1, 1)

    def constraint_violation() -> str:
        raise DBAPIError("INSERT", {}, Aborted("23P01"))

    import pytest

    with pytest.raises(DBAPIError):
        complete(RecordingSession(), constraint_violation)  # type: ignore[arg-type]
