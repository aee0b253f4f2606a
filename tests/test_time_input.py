"""Times as a clinic writes them: 24:00 ends a day, zone aliases are stored by their canonical
name, and an instant is never a bare number.

Clock: Monday 2 March 2026 in New York (tests/clinic_fixture.py: the nurse works 08:00-17:00).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from scheduler.availability.engine_time import expand_weekly, to_us
from scheduler.kit.timeutil import END_OF_DAY, canonical_zone
from tests.clinic_fixture import Clinic

TUESDAY = "2026-03-03T00:00:00-05:00"
WEDNESDAY = "2026-03-04T00:00:00-05:00"


def slots(client: TestClient, headers: dict[str, str], clinic: Clinic, **params: Any) -> Any:
    return client.get(
        "/api/v1/slots",
        params={
            "appointment_type": clinic.infusion_id,
            "location": clinic.location_id,
            "start": TUESDAY,
            "end": WEDNESDAY,
            **params,
        },
        headers=headers,
    )


def test_a_night_shift_until_2400_is_offered_until_midnight(
    client: TestClient, admin_headers: dict[str, str], clinic: Clinic
) -> None:
    hours = [{"weekday": d, "open_time": "08:00", "close_time": "24:00"} for d in range(5)]
    location = client.patch(
        f"/api/v1/locations/{clinic.location_id}",
        json={"opening_hours": hours},
        headers=admin_headers,
    )
    assert location.status_code == 200, location.text
    assert {h["close_time"] for h in location.json()["opening_hours"]} == {"24:00"}
    rules = f"/api/v1/providers/{clinic.nurse.id}/availability-rules"
    night = client.post(
        rules,
        json={
            "location_id": clinic.location_id,
            "weekday": 1,
            "start_time": "17:00",
            "end_time": "24:00",
        },
        headers=admin_headers,
    )
    assert night.status_code == 201, night.text
    assert night.json()["end_time"] == "24:00"
    listed = client.get(rules, params={"weekday": 1}, headers=admin_headers).json()
    items = listed["items"] if isinstance(listed, dict) else listed
    assert "24:00" in {rule["end_time"] for rule in items}

    found = slots(client, admin_headers, clinic)
    assert found.status_code == 200, found.text
    ends = [slot["end_at"] for slot in found.json()["items"]]
    # The last infusion is the last start on the grid that ends by the midnight ending Tuesday
    # (it was 17:00, the end of the day shift, before 24:00 could be said).
    step = timedelta(minutes=clinic.infusion.slot_step_minutes)
    last_end = max(datetime.fromisoformat(e) for e in ends)
    midnight = datetime.fromisoformat(WEDNESDAY)
    assert midnight - step < last_end <= midnight
    overlap = client.post(
        rules,
        json={
            "location_id": clinic.location_id,
            "weekday": 1,
            "start_time": "23:00",
            "end_time": "24:00",
        },
        headers=admin_headers,
    )
    assert overlap.status_code == 409
    assert overlap.json()["conflicting_rule"]["end_time"] == "24:00"
    assert "17:00-24:00" in overlap.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"weekday": 1, "start_time": "24:00", "end_time": "24:00"}, "start_time"),
        ({"weekday": 1, "start_time": "18:00", "end_time": "24:30"}, "end_time"),
        ({"weekday": 1, "start_time": "18:00", "end_time": "25:00"}, "end_time"),
    ],
    ids=["start_at_2400", "past_2400", "hour_25"],
)
def test_2400_is_only_an_end(
    client: TestClient,
    admin_headers: dict[str, str],
    clinic: Clinic,
    body: dict[str, Any],
    field: str,
) -> None:
    response = client.post(
        f"/api/v1/providers/{clinic.nurse.id}/availability-rules",
        json={"location_id": clinic.location_id, **body},
        headers=admin_headers,
    )
    assert response.status_code == 422, response.text
    assert field in response.text


@pytest.mark.parametrize(
    ("zone", "day", "next_midnight_utc"),
    [
        # Chile springs forward at midnight: Sunday starts at 01:00 (-03), 04:00 UTC.
        ("America/Santiago", date(2026, 9, 5), datetime(2026, 9, 6, 4, tzinfo=UTC)),
        # ...and falls back at midnight: Saturday's 23:00 happens twice, Sunday at 00:00 -04.
        ("America/Santiago", date(2026, 4, 4), datetime(2026, 4, 5, 4, tzinfo=UTC)),
        ("America/New_York", date(2026, 3, 7), datetime(2026, 3, 8, 5, tzinfo=UTC)),
        ("America/New_York", date(2026, 10, 31), datetime(2026, 11, 1, 4, tzinfo=UTC)),
    ],
    ids=["santiago_spring_forward", "santiago_fall_back", "new_york_eve", "new_york_fall_eve"],
)
def test_the_engine_ends_2400_at_the_next_local_midnight(
    zone: str, day: date, next_midnight_utc: datetime
) -> None:
    tz = ZoneInfo(zone)
    entry = (day.weekday(), time(18, 0), END_OF_DAY, None, None)
    (span,) = expand_weekly(tz, [entry], day, day, {})
    start = datetime.combine(day, time(18, 0), tz)
    assert span == (to_us(start), to_us(next_midnight_utc))
    # The same as the start of the next local date, which is what "24:00" means.
    next_day = datetime.combine(day + timedelta(days=1), time(0), tz)
    assert abs(span[1] - to_us(next_day)) <= 3600 * 10**6  # equal unless 00:00 is skipped
    assert expand_weekly(tz, [(*entry[:2], time(0), None, None)], day, day, {}) == [span]


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("US/Mountain", "America/Denver"),
        ("Asia/Calcutta", "Asia/Kolkata"),
        ("America/Montreal", "America/Toronto"),
        ("Europe/Oslo", "Europe/Oslo"),  # its own country's zone, though tzdata links it
        ("America/Denver", "America/Denver"),
    ],
)
def test_zone_aliases_are_stored_by_their_canonical_name(
    client: TestClient, admin_headers: dict[str, str], given: str, stored: str
) -> None:
    created = client.post(
        "/api/v1/locations",
        json={"name": f"Clinic in {given}", "timezone": given},
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["timezone"] == stored
    location_id = created.json()["id"]
    moved = client.patch(
        f"/api/v1/locations/{location_id}", json={"timezone": "GB"}, headers=admin_headers
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["timezone"] == "Europe/London"
    assert canonical_zone(given) == stored


@pytest.mark.parametrize("value", ["1772600000", "1772600000.5", "-5"])
def test_unix_seconds_are_refused_in_a_query(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic, value: str
) -> None:
    response = slots(client, desk_headers, clinic, start=value)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "Unix seconds" in response.text
    assert response.json()["errors"][0]["field"].endswith("start")


@pytest.mark.parametrize("value", [1772600000, 1772600000.0, "1772600000"])
def test_unix_seconds_are_refused_in_a_body(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic, value: Any
) -> None:
    response = client.post(
        "/api/v1/bookings",
        json={
            "patient_id": clinic.patient.id,
            "appointment_type_id": clinic.infusion_id,
            "location_id": clinic.location_id,
            "start_at": value,
        },
        headers=desk_headers,
    )
    assert response.status_code == 422, response.text
    assert "Unix seconds" in response.text
    exception = client.post(
        f"/api/v1/providers/{clinic.nurse.id}/exceptions",
        json={"kind": "unavailable", "start_at": value, "end_at": "2026-03-10T12:00:00Z"},
        headers=desk_headers,
    )
    assert exception.status_code == 422, exception.text
    assert "Unix seconds" in exception.text


@pytest.mark.parametrize(
    ("open_time", "close_time", "field"),
    [
        ("08:00", 0, "close_time"),  # a number would be read as seconds after midnight UTC
        (28800, "17:00", "open_time"),
        ("08:00+02:00", "17:00", "open_time"),  # the zone is the location's
        ("08:00", "17:00Z", "close_time"),
    ],
    ids=["close_as_number", "open_as_number", "open_with_offset", "close_with_offset"],
)
def test_opening_hours_are_local_wall_clock_text(
    client: TestClient,
    admin_headers: dict[str, str],
    open_time: Any,
    close_time: Any,
    field: str,
) -> None:
    body = {
        "name": "Clinic with odd hours",
        "timezone": "America/Denver",
        "opening_hours": [{"weekday": 0, "open_time": open_time, "close_time": close_time}],
    }
    created = client.post("/api/v1/locations", json=body, headers=admin_headers)
    assert created.status_code == 422, created.text
    assert created.json()["errors"][0]["field"].endswith(field)
    listed = client.get("/api/v1/locations", headers=admin_headers).json()["items"]
    assert all(item["name"] != body["name"] for item in listed)
