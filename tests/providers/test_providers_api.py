"""Providers and their locations / appointment types over HTTP."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from scheduler.kit.clock import FrozenClock
from scheduler.models import AuditEvent, AvailabilityRule
from tests.providers.conftest import Clinic, HeadersFor

URL = "/api/v1/providers"


def new_provider(clinic: Clinic, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Dr. Ada Lovelace",
        "credentials": "MD",
        "email": "Ada.Lovelace@Clinic.Example",
        "max_concurrent_patients": 3,
        "min_minutes_between_starts": 15,
        "location_ids": [clinic.id_of(clinic.uptown), clinic.id_of(clinic.downtown)],
        "appointment_type_ids": [clinic.id_of(clinic.infusion)],
    }
    body.update(overrides)
    return body


def test_create_read_and_list_provider_with_links(
    client: TestClient, admin_headers: dict[str, str], clinic: Clinic, db: Session
) -> None:
    created = client.post(URL, json=new_provider(clinic), headers=admin_headers)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["display_name"] == "Dr. Ada Lovelace"  # defaults to the name
    assert body["email"] == "ada.lovelace@clinic.example"
    assert body["location_ids"] == sorted(
        [clinic.id_of(clinic.downtown), clinic.id_of(clinic.uptown)]
    )
    assert body["appointment_type_ids"] == [clinic.id_of(clinic.infusion)]

    fetched = client.get(f"{URL}/{body['id']}", headers=admin_headers)
    assert fetched.status_code == 200
    assert fetched.json() == body

    events = db.exec(select(AuditEvent).where(AuditEvent.action == "provider.create")).all()
    assert len(events) == 1
    assert events[0].entity_id == body["id"]
    assert events[0].after is not None
    assert events[0].after["location_ids"] == body["location_ids"]


def test_list_filters_and_pagination(
    client: TestClient, admin_headers: dict[str, str], clinic: Clinic
) -> None:
    everyone = client.get(URL, headers=admin_headers).json()
    assert [p["name"] for p in everyone["items"]] == ["Nora Nurse", "Paul Physician"]
    assert everyone["total"] == 2

    uptown = client.get(
        URL, params={"location_id": clinic.id_of(clinic.uptown)}, headers=admin_headers
    ).json()
    assert [p["name"] for p in uptown["items"]] == ["Paul Physician"]

    consulting = client.get(
        URL, params={"appointment_type_id": clinic.id_of(clinic.consult)}, headers=admin_headers
    ).json()
    assert [p["name"] for p in consulting["items"]] == ["Paul Physician"]

    client.patch(
        f"{URL}/{clinic.id_of(clinic.paul)}", json={"active": False}, headers=admin_headers
    )
    active = client.get(URL, params={"active": "true"}, headers=admin_headers).json()
    assert [p["name"] for p in active["items"]] == ["Nora Nurse"]

    second = client.get(URL, params={"limit": 1, "offset": 1}, headers=admin_headers).json()
    assert second["total"] == 2
    assert second["limit"] == 1
    assert [p["name"] for p in second["items"]] == ["Paul Physician"]


@pytest.mark.parametrize(
    ("field", "body_ids"),
    [("location_ids", [999_999]), ("appointment_type_ids", [999_998])],
    ids=["unknown_location", "unknown_type"],
)
def test_unknown_linked_ids_are_a_422_naming_the_field(
    client: TestClient,
    admin_headers: dict[str, str],
    clinic: Clinic,
    field: str,
    body_ids: list[int],
) -> None:
    response = client.post(
        URL, json=new_provider(clinic, **{field: body_ids}), headers=admin_headers
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["errors"] == [{"field": field, "message": problem["detail"]}]
    assert str(body_ids[0]) in problem["detail"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_concurrent_patients", 0),
        ("max_concurrent_patients", 21),
        ("min_minutes_between_starts", -1),
        ("min_minutes_between_starts", 241),
        ("name", "   "),
        ("email", "not-an-email"),
    ],
)
def test_out_of_range_fields_are_rejected(
    client: TestClient, admin_headers: dict[str, str], clinic: Clinic, field: str, value: object
) -> None:
    response = client.post(URL, json=new_provider(clinic, **{field: value}), headers=admin_headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field


def test_patch_replaces_links_and_clears_email(
    client: TestClient, admin_headers: dict[str, str], clinic: Clinic, db: Session
) -> None:
    created = client.post(URL, json=new_provider(clinic), headers=admin_headers).json()
    patched = client.patch(
        f"{URL}/{created['id']}",
        json={
            "display_name": "Dr. Ada",
            "email": None,
            "location_ids": [clinic.id_of(clinic.downtown)],
            "appointment_type_ids": [clinic.id_of(clinic.consult), clinic.id_of(clinic.infusion)],
        },
        headers=admin_headers,
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["name"] == "Dr. Ada Lovelace"
    assert body["display_name"] == "Dr. Ada"
    assert body["email"] == ""
    assert body["location_ids"] == [clinic.id_of(clinic.downtown)]
    renamed = client.patch(
        f"{URL}/{created['id']}", json={"name": "Ada King"}, headers=admin_headers
    )
    assert renamed.json()["display_name"] == "Dr. Ada"  # chosen explicitly: kept
    nora = client.patch(
        f"{URL}/{clinic.id_of(clinic.nora)}", json={"name": "Nora Smith"}, headers=admin_headers
    )
    assert nora.json()["display_name"] == "Nora Smith"  # defaulted to the name: follows it
    assert body["appointment_type_ids"] == sorted(
        [clinic.id_of(clinic.consult), clinic.id_of(clinic.infusion)]
    )
    event = db.exec(
        select(AuditEvent).where(AuditEvent.action == "provider.update").order_by(AuditEvent.id)  # type: ignore[arg-type]
    ).first()
    assert event is not None
    assert event.before is not None
    assert event.after is not None
    assert len(event.before["location_ids"]) == 2
    assert event.after["location_ids"] == [clinic.id_of(clinic.downtown)]


def test_patch_rejects_null_for_required_fields_and_unknown_ids(
    client: TestClient, admin_headers: dict[str, str], clinic: Clinic
) -> None:
    url = f"{URL}/{clinic.id_of(clinic.nora)}"
    null_name = client.patch(url, json={"name": None}, headers=admin_headers)
    assert null_name.status_code == 422
    assert null_name.json()["errors"][0]["field"] == "name"
    unknown = client.patch(url, json={"location_ids": [424_242]}, headers=admin_headers)
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "location_ids"


def test_removing_a_location_that_still_has_rules_is_a_conflict(
    client: TestClient, admin_headers: dict[str, str], clinic: Clinic, db: Session
) -> None:
    paul, uptown = clinic.id_of(clinic.paul), clinic.id_of(clinic.uptown)
    rule = AvailabilityRule(
        provider_id=paul, location_id=uptown, weekday=0, start_time=time(8), end_time=time(12)
    )
    db.add(rule)
    db.commit()
    response = client.patch(
        f"{URL}/{paul}",
        json={"location_ids": [clinic.id_of(clinic.downtown)]},
        headers=admin_headers,
    )
    assert response.status_code == 409
    assert response.json()["code"] == "location_in_use"
    assert f"availability rule {rule.id}" in response.json()["detail"]


def test_unknown_provider_is_a_404_problem(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    for response in (
        client.get(f"{URL}/987654", headers=admin_headers),
        client.patch(f"{URL}/987654", json={"active": False}, headers=admin_headers),
    ):
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "not_found"


def test_roles_and_tokens(
    client: TestClient,
    clinic: Clinic,
    clock: FrozenClock,
    admin_headers: dict[str, str],
    provider_headers_for: HeadersFor,
) -> None:
    assert client.get(URL).status_code == 401
    nora = provider_headers_for(clinic.nora)
    assert client.get(URL, headers=nora).status_code == 200
    forbidden = client.post(URL, json=new_provider(clinic), headers=nora)
    assert forbidden.status_code == 403
    assert forbidden.json()["code"] == "forbidden"
    own_record = client.patch(
        f"{URL}/{clinic.id_of(clinic.nora)}", json={"max_concurrent_patients": 9}, headers=nora
    )
    assert own_record.status_code == 403

    clock.advance(timedelta(minutes=16))  # access tokens live 15 minutes
    expired = client.get(URL, headers=admin_headers)
    assert expired.status_code == 401
    assert expired.json()["code"] == "not_authenticated"
