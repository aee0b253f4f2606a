"""Slot searches take ``location_id``/``appointment_type_id``/``provider_id`` like the rest of
the API, and still the old ``location``/``appointment_type``/``provider``.

Clock: Monday 2 March 2026 in New York (tests/clinic_fixture.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.clinic_fixture import Clinic

WINDOW = {"start": "2026-03-03T00:00:00-05:00", "end": "2026-03-04T00:00:00-05:00"}


@pytest.mark.parametrize("path", ["/api/v1/slots", "/api/v1/public/slots"])
def test_new_and_old_names_find_the_same_slots(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic, db: Session, path: str
) -> None:
    clinic.consult.self_schedulable = True
    db.add(clinic.consult)
    db.commit()
    old = {"appointment_type": clinic.consult.id, "location": clinic.location_id}
    new = {"appointment_type_id": clinic.consult.id, "location_id": clinic.location_id}
    by_old = client.get(path, params={**old, **WINDOW}, headers=desk_headers)
    by_new = client.get(path, params={**new, **WINDOW}, headers=desk_headers)
    assert by_new.status_code == 200, by_new.text
    assert by_new.json() == by_old.json()
    assert by_new.json()["items"]


def test_provider_and_explain_take_both_names(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic
) -> None:
    base = {"appointment_type_id": clinic.infusion_id, "location_id": clinic.location_id}
    one = client.get(
        "/api/v1/slots",
        params={**base, **WINDOW, "provider_id": clinic.nurse.id},
        headers=desk_headers,
    )
    other = client.get(
        "/api/v1/slots",
        params={**base, **WINDOW, "provider": clinic.nurse.id},
        headers=desk_headers,
    )
    assert one.status_code == 200, one.text
    assert one.json() == other.json()
    nobody = client.get(
        "/api/v1/slots", params={**base, **WINDOW, "provider_id": 987654}, headers=desk_headers
    )
    assert nobody.json()["items"] != one.json()["items"]
    explained = client.get(
        "/api/v1/slots/explain", params={**base, "date": "2026-03-03"}, headers=desk_headers
    )
    assert explained.status_code == 200, explained.text


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"appointment_type_id": 1, "location_id": 1, "location": 2}, "location_id"),
        ({"appointment_type_id": 1}, "location_id"),
        ({"location": 1}, "appointment_type_id"),
    ],
    ids=["disagreeing_names", "missing_location", "missing_type"],
)
def test_a_missing_or_contradictory_id_is_a_422_naming_it(
    client: TestClient, desk_headers: dict[str, str], params: dict[str, Any], field: str
) -> None:
    response = client.get("/api/v1/slots", params={**params, **WINDOW}, headers=desk_headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"] == field
