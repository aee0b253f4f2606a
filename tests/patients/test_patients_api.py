"""Patients over HTTP: create, search, update; never deleted; staff only."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from scheduler.kit.clock import FrozenClock
from scheduler.models import AuditEvent
from tests.factories import make_patient

URL = "/api/v1/patients"


def new_patient(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "first_name": " Maria ",
        "last_name": "Garcia",
        "date_of_birth": "1985-04-12",
        "email": "Maria.Garcia@Example.ORG",
        "phone": "+1 (303) 555-0142",
        "consult_completed": True,
        "notes": "Prefers afternoon slots.",
    }
    body.update(overrides)
    return body


def test_create_read_and_audit(
    client: TestClient, desk_headers: dict[str, str], db: Session
) -> None:
    created = client.post(URL, json=new_patient(), headers=desk_headers)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["first_name"] == "Maria"
    assert body["email"] == "maria.garcia@example.org"
    assert body["consult_completed"] is True
    assert body["consent_signed"] is False
    assert body["created_at"] == "2026-03-02T14:00:00Z"
    assert client.get(f"{URL}/{body['id']}", headers=desk_headers).json() == body
    event = db.exec(select(AuditEvent).where(AuditEvent.action == "patient.create")).one()
    assert event.entity_id == body["id"]


def test_email_is_optional(client: TestClient, desk_headers: dict[str, str]) -> None:
    body = new_patient()
    del body["email"]
    created = client.post(URL, json=body, headers=desk_headers)
    assert created.status_code == 201
    assert created.json()["email"] == ""


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"date_of_birth": "2026-03-04"}, "date_of_birth"),
        ({"date_of_birth": "1899-12-31"}, "date_of_birth"),
        ({"email": "maria@"}, "email"),
        ({"first_name": "  "}, "first_name"),
        ({"phone": "call me maybe"}, "phone"),
        ({"notes": "x" * 4001}, "notes"),
    ],
    ids=[
        "born_in_future",
        "born_before_1900",
        "bad_email",
        "blank_name",
        "bad_phone",
        "long_notes",
    ],
)
def test_bad_input_is_422_naming_the_field(
    client: TestClient, desk_headers: dict[str, str], overrides: dict[str, Any], field: str
) -> None:
    response = client.post(URL, json=new_patient(**overrides), headers=desk_headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == field


def test_born_today_is_fine(client: TestClient, desk_headers: dict[str, str]) -> None:
    response = client.post(URL, json=new_patient(date_of_birth="2026-03-02"), headers=desk_headers)
    assert response.status_code == 201


def test_search_filters_and_pagination(
    client: TestClient, desk_headers: dict[str, str], db: Session
) -> None:
    make_patient(
        db, first_name="Jane", last_name="Doe", email="jane@example.org", phone="+1 555 0100"
    )
    make_patient(
        db,
        first_name="John",
        last_name="Doe",
        email="jdoe@example.net",
        phone="+1 555 0199",
        date_of_birth=date(1975, 1, 2),
    )
    make_patient(db, first_name="Ann", last_name="O'Neil_100%", email="ann@clinic.test", phone="")

    def search(**params: Any) -> list[str]:
        response = client.get(URL, params=params, headers=desk_headers)
        assert response.status_code == 200, response.text
        return [f"{p['first_name']} {p['last_name']}" for p in response.json()["items"]]

    assert search() == ["Jane Doe", "John Doe", "Ann O'Neil_100%"]
    assert search(q="DOE") == ["Jane Doe", "John Doe"]
    assert search(q="jane doe") == ["Jane Doe"]
    assert search(q="doe john") == ["John Doe"]
    assert search(q="EXAMPLE.NET") == ["John Doe"]
    assert search(q="555 0199") == ["John Doe"]
    assert search(q="_100%") == ["Ann O'Neil_100%"]  # LIKE wildcards are matched literally
    assert search(q="%") == ["Ann O'Neil_100%"]
    assert search(q="nobody") == []
    assert search(date_of_birth="1975-01-02") == ["John Doe"]
    assert search(q="doe", date_of_birth="1980-05-17") == ["Jane Doe"]

    page = client.get(URL, params={"q": "doe", "limit": 1, "offset": 1}, headers=desk_headers)
    assert page.json()["total"] == 2
    assert [p["first_name"] for p in page.json()["items"]] == ["John"]
    assert client.get(URL, params={"limit": 0}, headers=desk_headers).status_code == 422
    assert client.get(URL, params={"q": ""}, headers=desk_headers).status_code == 422


def test_patch_updates_flags_and_clears_email(
    client: TestClient, desk_headers: dict[str, str], clock: FrozenClock, db: Session
) -> None:
    created = client.post(URL, json=new_patient(), headers=desk_headers).json()
    clock.advance(timedelta(minutes=5))
    patched = client.patch(
        f"{URL}/{created['id']}",
        json={"consent_signed": True, "rems_enrolled": True, "email": None},
        headers=desk_headers,
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert (body["consent_signed"], body["rems_enrolled"], body["email"]) == (True, True, "")
    assert body["updated_at"] == "2026-03-02T14:05:00Z"
    assert body["created_at"] == created["created_at"]
    event = db.exec(select(AuditEvent).where(AuditEvent.action == "patient.update")).one()
    assert event.before is not None
    assert event.after is not None
    assert (event.before["consent_signed"], event.after["consent_signed"]) == (False, True)

    null_name = client.patch(
        f"{URL}/{created['id']}", json={"last_name": None}, headers=desk_headers
    )
    assert null_name.status_code == 422
    assert null_name.json()["errors"][0]["field"] == "last_name"
    future = client.patch(
        f"{URL}/{created['id']}", json={"date_of_birth": "2030-01-01"}, headers=desk_headers
    )
    assert future.status_code == 422
    assert future.json()["errors"][0]["field"] == "date_of_birth"


def test_unknown_patient_is_404_and_patients_are_never_deleted(
    client: TestClient, desk_headers: dict[str, str], db: Session
) -> None:
    missing = client.get(f"{URL}/987654", headers=desk_headers)
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    assert (
        client.patch(f"{URL}/987654", json={"notes": "x"}, headers=desk_headers).status_code == 404
    )
    patient = make_patient(db)
    assert client.delete(f"{URL}/{patient.id}", headers=desk_headers).status_code == 405


def test_roles_and_tokens(
    client: TestClient,
    desk_headers: dict[str, str],
    provider_headers: dict[str, str],
    clock: FrozenClock,
    db: Session,
) -> None:
    patient = make_patient(db)
    # A provider is not the front desk: only their own patients (none booked here), read-only.
    listed = client.get(URL, headers=provider_headers)
    assert listed.status_code == 200
    assert listed.json()["total"] == 0
    assert client.get(f"{URL}/{patient.id}", headers=provider_headers).status_code == 404
    assert client.post(URL, json=new_patient(), headers=provider_headers).status_code == 403
    assert (
        client.patch(
            f"{URL}/{patient.id}", json={"notes": "x"}, headers=provider_headers
        ).status_code
        == 403
    )
    assert client.get(URL).status_code == 401
    clock.advance(timedelta(minutes=16))
    expired = client.post(URL, json=new_patient(), headers=desk_headers)
    assert expired.status_code == 401
    assert expired.json()["code"] == "not_authenticated"
