"""``POST /bookings`` is a ``DirectRoute``: its handler resolves the endpoint's parameters
itself. It must answer malformed and unauthorised requests exactly as FastAPI's own
dispatch of the same endpoint does (one app of each kind, side by side)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from scheduler.config import Settings
from scheduler.http.routes import DirectRoute
from scheduler.kit.clock import FrozenClock
from scheduler.main import create_app
from tests.clinic_fixture import Clinic
from tests.factories import auth_headers, make_user

GOOD = "2026-03-03T09:00:00-05:00"


@pytest.fixture
def fastapi_only(
    app: FastAPI,
    settings: Settings,
    clock: FrozenClock,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[TestClient]:
    """The same app, but every ``DirectRoute`` served by FastAPI's own request handler
    (dependency solving, body parsing) instead of its direct handler."""
    monkeypatch.setattr(DirectRoute, "get_route_handler", APIRoute.get_route_handler)
    plain = create_app(settings, clock=clock, session_factory=session_factory)
    monkeypatch.undo()
    # The app's own routes build their request handler now, under the patch. An included
    # route builds it at its first request, after the undo: it would compare the direct
    # handler with itself.
    assert "/api/v1/bookings" in {r.path for r in plain.router.routes if isinstance(r, DirectRoute)}
    with TestClient(plain, raise_server_exceptions=False) as client:
        yield client


def _cases(clinic: Clinic, desk: dict[str, str], provider: dict[str, str]) -> list[Any]:
    body = {
        "patient_id": clinic.patient.id,
        "appointment_type_id": clinic.infusion_id,
        "location_id": clinic.location_id,
        "start_at": GOOD,
    }
    json_type = {"Content-Type": "application/json"}
    return [
        ("no token", {}, {"json": body}),
        ("bad token", {"Authorization": "Bearer nope"}, {"json": body}),
        ("not bearer", {"Authorization": "Basic abc"}, {"json": body}),
        ("provider role", provider, {"json": body}),
        ("no token, bad body", {}, {"content": b"{bad", "headers": json_type}),
        ("invalid json", desk, {"content": b"{bad", "headers": json_type}),
        ("empty body", desk, {"content": b"", "headers": json_type}),
        ("text body", desk, {"content": b'{"a": 1}', "headers": {"Content-Type": "text/plain"}}),
        ("list", desk, {"json": []}),
        ("naive time", desk, {"json": {**body, "start_at": "2026-03-03T09:00:00"}}),
        ("unknown field", desk, {"json": {**body, "colour": "blue"}}),
        (
            "vendor json",
            desk,
            {
                "content": b'{"patient_id": "x"}',
                "headers": {"Content-Type": "application/vnd.api+json"},
            },
        ),
        ("bad key", desk, {"json": body, "headers": {"Idempotency-Key": "x" * 300}}),
    ]


def test_errors_match_fastapis_own_dispatch(
    client: TestClient,
    fastapi_only: TestClient,
    clinic: Clinic,
    desk_headers: dict[str, str],
    db: Session,
    settings: Settings,
    clock: FrozenClock,
) -> None:
    assert clinic.nurse.id is not None
    nurse = make_user(
        db, role="provider", email="nurse@clinic.example", provider_id=clinic.nurse.id
    )
    provider = auth_headers(nurse, settings, clock.now())
    for label, headers, kwargs in _cases(clinic, desk_headers, provider):
        extra = kwargs.pop("headers", {})
        direct = client.post("/api/v1/bookings", headers={**headers, **extra}, **kwargs)
        dispatched = fastapi_only.post("/api/v1/bookings", headers={**headers, **extra}, **kwargs)
        assert direct.status_code == dispatched.status_code, label
        assert 400 <= direct.status_code < 500, (label, direct.text)
        assert direct.headers["content-type"] == "application/problem+json", label
        mine, theirs = direct.json(), dispatched.json()
        assert mine["code"] == theirs["code"], label
        assert [e["field"] for e in mine.get("errors", [])] == [
            e["field"] for e in theirs.get("errors", [])
        ], label


def test_a_malformed_body_is_refused_before_the_token_is_asked_for(client: TestClient) -> None:
    """As FastAPI answers any endpoint with a body: it parses the body before it resolves
    who calls."""
    for headers in ({}, {"Authorization": "Bearer nope"}):
        response = client.post(
            "/api/v1/bookings",
            content=b'{"patient_id": 1,',
            headers={**headers, "Content-Type": "application/json"},
        )
        assert response.status_code == 422, response.text
        problem = response.json()
        assert problem["code"] == "validation_error"
        assert [e["field"] for e in problem["errors"]] == ["17"]  # where parsing stopped


def test_a_booking_through_either_dispatch_is_the_same(
    client: TestClient, fastapi_only: TestClient, clinic: Clinic, desk_headers: dict[str, str]
) -> None:
    body = {
        "patient_id": clinic.patient.id,
        "appointment_type_id": clinic.infusion_id,
        "location_id": clinic.location_id,
        "start_at": GOOD,
    }
    direct = client.post("/api/v1/bookings", json=body, headers=desk_headers)
    assert direct.status_code == 201, direct.text
    again = fastapi_only.post(
        "/api/v1/bookings",
        json={
            **body,
            "patient_id": clinic.other_patient.id,
            "start_at": "2026-03-03T11:00:00-05:00",
        },
        headers=desk_headers,
    )
    assert again.status_code == 201, again.text
    assert direct.headers["etag"] == f'"{direct.json()["id"]}.1"'
    assert set(direct.json()) == set(again.json())
    documented = client.get("/openapi.json").json()["paths"]["/api/v1/bookings"]["post"]
    assert documented["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "BookingCreate"
    )


def test_every_route_is_documented_by_the_route_that_serves_it(app: FastAPI) -> None:
    """No hand-registered Starlette route in front of a documented one: apart from the
    documentation pages themselves, every route is a FastAPI route (its own OpenAPI entry)."""
    from fastapi.routing import APIRoute as FastAPIRoute
    from starlette.routing import Route

    # The documentation pages, and /metrics: an operator's endpoint kept out of the API's
    # document on purpose (token-protected, not part of the API).
    docs = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/metrics"}
    plain = [
        r.path
        for r in app.router.routes
        if isinstance(r, Route) and not isinstance(r, FastAPIRoute) and r.path not in docs
    ]
    assert plain == []
