"""Slot search over HTTP: two statements whatever the window, limits, explain, agreement."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection
from sqlmodel import Session

from scheduler.availability.schemas import SlotList
from tests.clinic_fixture import Clinic
from tests.driver_trace import Sent, traced
from tests.driver_trace import statements as driver_statements
from tests.factories import make_patient

DAY = "2026-03-03T00:00:00-05:00"


@contextmanager
def count_statements(connection: Connection) -> Iterator[list[Sent]]:
    """Every statement the test's database connection sends, counted at the driver (some
    of the app's reads go straight to the driver's cursor)."""
    with traced(connection.connection.dbapi_connection) as sent:
        yield sent


def search(
    client: TestClient, headers: dict[str, str], clinic: Clinic, start: str, end: str
) -> Any:
    return client.get(
        "/api/v1/slots",
        params={
            "appointment_type": clinic.infusion_id,
            "location": clinic.location_id,
            "start": start,
            "end": end,
        },
        headers=headers,
    )


@pytest.mark.parametrize("days", [1, 7, 31])
def test_a_search_costs_two_statements_whatever_the_window(
    days: int,
    client: TestClient,
    desk_headers: dict[str, str],
    clinic: Clinic,
    connection: Connection,
) -> None:
    for offset in range(3):  # some bookings to load
        client.post(
            "/api/v1/bookings",
            json={
                "patient_id": clinic.patient.id,
                "appointment_type_id": clinic.infusion_id,
                "location_id": clinic.location_id,
                "start_at": f"2026-03-0{3 + offset}T09:00:00-05:00",
            },
            headers=desk_headers,
        )
    end = (datetime.fromisoformat(DAY) + timedelta(days=days)).isoformat()
    search(client, desk_headers, clinic, DAY, end)  # warm the auth path's caches
    with count_statements(connection) as statements:
        response = search(client, desk_headers, clinic, DAY, end)
    assert response.status_code == 200
    assert response.json()["items"]
    search_statements = [s for s in driver_statements(statements) if "user_account" not in s]
    assert len(search_statements) == 2, search_statements


def test_window_limits_and_naive_times(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic
) -> None:
    too_long = search(client, desk_headers, clinic, DAY, "2026-06-10T00:00:00-04:00")
    assert too_long.status_code == 422
    assert too_long.json()["errors"][0]["field"] == "end"
    backwards = search(client, desk_headers, clinic, DAY, "2026-03-01T00:00:00-05:00")
    assert backwards.status_code == 422
    naive = search(client, desk_headers, clinic, "2026-03-03T00:00:00", "2026-03-04T00:00:00-05:00")
    assert naive.status_code == 422
    unknown = client.get(
        "/api/v1/slots",
        params={
            "appointment_type": 999_999,
            "location": clinic.location_id,
            "start": DAY,
            "end": "2026-03-04T00:00:00-05:00",
        },
        headers=desk_headers,
    )
    assert unknown.status_code == 404


def test_slots_carry_the_local_offset_across_dst(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic
) -> None:
    items = search(
        client, desk_headers, clinic, "2026-03-06T00:00:00-05:00", "2026-03-10T00:00:00-04:00"
    ).json()["items"]
    firsts = {}
    for slot in items:
        firsts.setdefault(slot["start_at"][:10], slot["start_at"])
    # Friday before and Monday after the US change: both open at 08:00 local.
    assert firsts == {
        "2026-03-06": "2026-03-06T08:00:00-05:00",
        "2026-03-09": "2026-03-09T08:00:00-04:00",
    }


def test_explain_says_why_each_start_is_not_offered(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic
) -> None:
    response = client.get(
        "/api/v1/slots/explain",
        params={
            "appointment_type": clinic.infusion_id,
            "location": clinic.location_id,
            "date": "2026-03-02",
        },
        headers=desk_headers,
    )
    assert response.status_code == 200, response.text
    by_time = {c["start_at"][11:16]: c for c in response.json()["candidates"]}
    assert len(by_time) == 96  # a 15-minute grid over a whole day
    assert {r["code"] for r in by_time["09:15"]["reasons"]} == {"min_notice"}  # now is 09:00
    assert by_time["10:00"]["offered"] is True
    late = {r["code"] for r in by_time["16:00"]["reasons"]}
    assert "outside_provider_hours" in late  # ends 17:40, after 17:00
    night = {r["code"] for r in by_time["03:00"]["reasons"]}
    assert "location_closed" in night
    assert all(r["message"] for c in by_time.values() for r in c["reasons"])


def test_every_offered_slot_can_be_booked_until_the_day_is_full(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic, db: Session
) -> None:
    """Search and write agree: book the first offered start again and again."""
    patients = [
        make_patient(
            db,
            first_name=f"Q{i}",
            email=f"q{i}@example.org",
            consult_completed=True,
            consent_signed=True,
        )
        for i in range(12)
    ]
    booked = 0
    for patient in patients:
        items = search(client, desk_headers, clinic, DAY, "2026-03-04T00:00:00-05:00").json()[
            "items"
        ]
        if not items:
            break
        slot = items[0]
        response = client.post(
            "/api/v1/bookings",
            json={
                "patient_id": patient.id,
                "appointment_type_id": clinic.infusion_id,
                "location_id": clinic.location_id,
                "start_at": slot["start_at"],
                "chair_id": slot["chair"]["id"],
                "provider_id": slot["provider"]["id"],
            },
            headers=desk_headers,
        )
        assert response.status_code == 201, (slot, response.text)
        booked += 1
        after = search(client, desk_headers, clinic, DAY, "2026-03-04T00:00:00-05:00").json()[
            "items"
        ]
        assert slot["start_at"] not in [s["start_at"] for s in after]
    # Two chairs, 08:00-17:00, 100 min + 15 turnover: at least 4 visits per chair fit.
    assert booked >= 8


def test_the_search_body_is_the_documented_slot_list(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic
) -> None:
    """The endpoint serialises its own body; the OpenAPI document must still describe it."""
    response = search(client, desk_headers, clinic, DAY, "2026-03-04T00:00:00-05:00")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = SlotList.model_validate_json(response.content)
    assert body.items
    assert body.items[0].start_at.utcoffset() == timedelta(hours=-5)
    ok = client.get("/openapi.json").json()["paths"]["/api/v1/slots"]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/SlotList"}


def test_the_served_json_is_exactly_what_the_slot_list_model_writes(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic
) -> None:
    """The search builds plain data to SlotList's schema and serialises it without validating
    it first: the bytes must be the model's own."""
    book = {
        "patient_id": clinic.patient.id,
        "appointment_type_id": clinic.infusion_id,
        "location_id": clinic.location_id,
        "start_at": "2026-03-03T09:00:00-05:00",
    }
    assert client.post("/api/v1/bookings", json=book, headers=desk_headers).status_code == 201
    response = search(client, desk_headers, clinic, DAY, "2026-03-10T00:00:00-04:00")
    assert response.status_code == 200
    parsed = SlotList.model_validate_json(response.content)
    assert parsed.items
    assert parsed.model_dump_json().encode() == response.content
