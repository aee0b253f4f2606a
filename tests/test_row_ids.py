"""An id beyond what the database holds is the same 422 everywhere in the API.

``GET /notifications?patient=99999999999999999999`` used to list nothing (200, PostgreSQL
compares the number as it is) while ``?booking=`` of the same number was a 422, and a path
id depended on the route. Every id parameter now takes the shared ``RowId``."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from scheduler.kit.ids import MAX_ROW_ID

HUGE = "99999999999999999999"
NOT_IDS = {"limit", "offset", "weekday"}


def _integer_schema(schema: dict[str, Any]) -> dict[str, Any] | None:
    for option in [schema, *schema.get("anyOf", [])]:
        if option.get("type") == "integer":
            return option
    return None


def test_every_id_parameter_of_the_api_holds_exactly_the_database_ids(app: FastAPI) -> None:
    unbounded = []
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                schema = _integer_schema(parameter.get("schema", {}))
                if schema is None or parameter["name"] in NOT_IDS:
                    continue
                if (schema.get("minimum"), schema.get("maximum")) != (1, MAX_ROW_ID):
                    unbounded.append(f"{method.upper()} {path} {parameter['name']}")
    assert unbounded == []


@pytest.mark.parametrize(
    ("url", "field"),
    [
        (f"/api/v1/notifications?patient={HUGE}", "query.patient"),
        (f"/api/v1/notifications?booking={HUGE}", "query.booking"),
        (f"/api/v1/bookings?patient_id={HUGE}", "query.patient_id"),
        (f"/api/v1/bookings?location_id={HUGE}", "query.location_id"),
        (f"/api/v1/bookings/{HUGE}", "path.booking_id"),
        (f"/api/v1/bookings/{HUGE}/notifications", "path.booking_id"),
        (f"/api/v1/patients/{HUGE}", "path.patient_id"),
        (f"/api/v1/locations/1/chairs/{HUGE}", "path.chair_id"),
        (f"/api/v1/providers?location_id={HUGE}", "query.location_id"),
        (f"/api/v1/audit-events?entity_id={HUGE}", "query.entity_id"),
        (f"/api/v1/series?patient_id={HUGE}", "query.patient_id"),
        ("/api/v1/bookings/0", "path.booking_id"),
    ],
)
def test_an_id_out_of_the_database_range_is_a_422_naming_the_parameter(
    client: TestClient, admin_headers: dict[str, str], url: str, field: str
) -> None:
    response = client.get(url, headers=admin_headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "validation_error"
    assert [e["field"] for e in problem["errors"]] == [field], problem
    bound = "greater than or equal to 1" if url.endswith("/0") else str(MAX_ROW_ID)
    assert bound in problem["detail"]
