"""Production logs: one JSON line per request, with its id, and no personal data or token.

The flow below is what a front desk and a patient do in a morning: search patients (by name,
e-mail, phone and date of birth, all in query strings), book, and a patient books online and
opens the private manage link. None of the values typed in may reach a log line.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from scheduler.logging_config import configure_logging, unconfigure_logging
from tests.bookings.test_bookings_api import TUESDAY_9, book
from tests.clinic_fixture import Clinic
from tests.conftest import make_settings
from tests.public.test_public_api import NEWCOMER, PUBLIC, THURSDAY_9, hold_and_book

ACCESS = "scheduler.access"


@pytest.fixture
def log_stream(database_url: str) -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging(make_settings(database_url, log_format="json"), stream=stream)
    yield stream
    unconfigure_logging()


@pytest.fixture
def online(clinic: Clinic, db: Session) -> Clinic:
    for appointment_type in (clinic.infusion, clinic.consult):
        appointment_type.self_schedulable = True
    db.add_all([clinic.infusion, clinic.consult])
    db.commit()
    return clinic


def records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_booking_morning_logs_json_lines_with_request_ids_and_no_personal_data(
    client: TestClient,
    online: Clinic,
    desk_headers: dict[str, str],
    admin_headers: dict[str, str],
    log_stream: io.StringIO,
) -> None:
    patient = online.patient
    searches = [
        {"q": patient.last_name},
        {"q": patient.email},
        {"q": patient.phone},
        {"date_of_birth": patient.date_of_birth.isoformat()},
    ]
    for params in searches:
        found = client.get("/api/v1/patients", params=params, headers=desk_headers)
        assert found.status_code == 200, found.text
        assert found.json()["total"] >= 1
    booked = book(client, desk_headers | {"X-Request-ID": "desk-booking-1"}, online)
    assert booked.status_code == 201, booked.text
    assert booked.headers["X-Request-ID"] == "desk-booking-1"
    conflict = book(client, desk_headers, online, start=TUESDAY_9)
    assert conflict.status_code == 409
    online_booking = hold_and_book(client, online, online.consult.id or 0, THURSDAY_9, NEWCOMER)
    assert online_booking.status_code == 201, online_booking.text
    manage_token = online_booking.json()["manage_token"]
    assert client.get(f"{PUBLIC}/manage/{manage_token}").status_code == 200
    assert client.get("/api/v1/nowhere", params={"q": patient.last_name}).status_code == 404

    lines = records(log_stream)  # every line is JSON, or this fails
    access = [line for line in lines if line["logger"] == ACCESS]
    assert len(access) == len(searches) + 6  # booking, 409, hold, public booking, manage, 404
    for line in access:
        assert line["level"] == "INFO"
        assert len(line["request_id"]) >= 8
        assert isinstance(line["duration_ms"], float)
        assert line["time"]
    assert [(a["http_method"], a["route"], a["status"]) for a in access] == [
        *[("GET", "/api/v1/patients", 200)] * len(searches),
        ("POST", "/api/v1/bookings", 201),
        ("POST", "/api/v1/bookings", 409),
        ("POST", f"{PUBLIC}/holds", 201),
        ("POST", f"{PUBLIC}/bookings", 201),
        ("GET", f"{PUBLIC}/manage/{{token}}", 200),
        ("GET", None, 404),
    ]
    assert access[len(searches)]["request_id"] == "desk-booking-1"

    # The request id on the log line is the one on the audit event of the booking it made.
    events = client.get(
        "/api/v1/audit-events",
        params={"entity_type": "booking", "entity_id": booked.json()["id"]},
        headers=admin_headers,
    ).json()["items"]
    assert [e["request_id"] for e in events] == ["desk-booking-1"]

    text = log_stream.getvalue()
    secrets = [
        patient.first_name,
        patient.last_name,
        patient.email,
        patient.phone,
        patient.date_of_birth.isoformat(),
        *NEWCOMER.values(),
        manage_token,
        desk_headers["Authorization"].split()[1],
        "q=",
    ]
    for value in secrets:
        assert value not in text, value


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        pytest.param("3f2a9c1e-7b7d-4c4e-9a57-0c1d2e3f4a5b", True, id="uuid"),
        pytest.param("lb.abc:123/x=y", True, id="proxy_id"),
        pytest.param('x" "level": "ERROR', False, id="quotes_and_spaces"),
        pytest.param("a\tb", False, id="control_character"),
        pytest.param("x" * 65, False, id="too_long"),
    ],
)
def test_a_callers_request_id_is_kept_only_when_sane(
    client: TestClient, sent: str, kept: bool
) -> None:
    answer = client.get("/healthz", headers={"X-Request-ID": sent})
    returned = answer.headers["X-Request-ID"]
    assert (returned == sent) is kept
    assert len(returned) >= 8


def test_development_logs_are_readable_text(database_url: str, client: TestClient) -> None:
    stream = io.StringIO()
    configure_logging(make_settings(database_url, log_format="auto"), stream=stream)
    try:
        client.get("/healthz", headers={"X-Request-ID": "dev-1"})
    finally:
        unconfigure_logging()
    (line,) = stream.getvalue().splitlines()
    assert "INFO" in line
    assert "[dev-1] GET /healthz 200" in line
    assert not line.startswith("{")
