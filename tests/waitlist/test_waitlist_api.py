"""The waitlist over HTTP: add, list per location/type/status, cancel; bad input is
problem+json; every change leaves an audit event.

Clock: Monday 2 March 2026, 09:00 in New York (the clinic fixture's zone).
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from scheduler.config import Settings
from scheduler.kit.clock import FrozenClock
from scheduler.models import AuditEvent
from tests.clinic_fixture import Clinic
from tests.factories import auth_headers, make_user


def add(client: TestClient, headers: dict[str, str], clinic: Clinic, **fields: Any) -> Any:
    body = {
        "patient_id": clinic.patient.id,
        "location_id": clinic.location_id,
        "appointment_type_id": clinic.infusion_id,
        "earliest_date": "2026-03-03",
        "latest_date": "2026-03-06",
        "earliest_time": "08:00",
        "latest_time": "12:00",
        **fields,
    }
    return client.post("/api/v1/waitlist", json=body, headers=headers)


def test_desk_adds_lists_and_cancels_an_entry_and_each_change_is_audited(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic, db: Session
) -> None:
    first = add(client, desk_headers, clinic)
    assert first.status_code == 201, first.text
    entry = first.json()
    assert entry["status"] == "waiting"
    assert entry["timezone"] == "America/New_York"
    assert entry["patient_name"].startswith(clinic.patient.first_name)
    assert entry["offer"] is None
    second = add(client, desk_headers, clinic, patient_id=clinic.other_patient.id)
    assert second.status_code == 201

    listed = client.get(
        "/api/v1/waitlist",
        params={"location_id": clinic.location_id, "appointment_type_id": clinic.infusion_id},
        headers=desk_headers,
    )
    assert listed.status_code == 200
    assert [e["id"] for e in listed.json()["items"]] == [entry["id"], second.json()["id"]]

    cancelled = client.post(
        f"/api/v1/waitlist/{entry['id']}/cancel",
        json={"reason": "found a time"},
        headers=desk_headers,
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    waiting = client.get(
        "/api/v1/waitlist", params={"status": "waiting"}, headers=desk_headers
    ).json()
    assert [e["id"] for e in waiting["items"]] == [second.json()["id"]]
    assert (
        client.get(f"/api/v1/waitlist/{entry['id']}", headers=desk_headers).json()["status"]
        == "cancelled"
    )

    actions = db.exec(
        select(AuditEvent.action)
        .where(AuditEvent.entity_type == "waitlist_entry", AuditEvent.entity_id == entry["id"])
        .order_by(col(AuditEvent.id))
    ).all()
    assert list(actions) == ["waitlist.add", "waitlist.cancel"]


def test_bad_input_is_problem_json_next_to_the_field(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic
) -> None:
    backwards = add(
        client, desk_headers, clinic, earliest_date="2026-03-06", latest_date="2026-03-03"
    )
    assert backwards.status_code == 422
    assert backwards.headers["content-type"].startswith("application/problem+json")

    times = add(client, desk_headers, clinic, earliest_time="12:00", latest_time="08:00")
    assert times.status_code == 422
    with_offset = add(client, desk_headers, clinic, latest_time="00:00:00Z")
    assert with_offset.status_code == 422  # wall-clock times only (an offset is not a 500)

    unknown = add(client, desk_headers, clinic, patient_id=999999)
    assert unknown.status_code == 422
    assert unknown.headers["content-type"].startswith("application/problem+json")
    assert "patient_id" in unknown.text

    far = add(client, desk_headers, clinic, latest_date="9999-12-31")
    assert far.status_code == 422
    assert "latest_date" in far.text

    ended = add(client, desk_headers, clinic, earliest_date="2026-02-01", latest_date="2026-03-01")
    assert ended.status_code == 422
    assert "latest_date" in ended.text

    missing = client.post("/api/v1/waitlist/999999/cancel", headers=desk_headers)
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"


def test_only_the_desk_and_admins_use_the_waitlist(
    client: TestClient,
    admin_headers: dict[str, str],
    clinic: Clinic,
    db: Session,
    settings: Settings,
    clock: FrozenClock,
) -> None:
    assert add(client, admin_headers, clinic).status_code == 201
    assert client.get("/api/v1/waitlist").status_code == 401
    nurse = make_user(
        db, role="provider", email="nurse@clinic.example", provider_id=clinic.nurse.id
    )
    as_nurse = auth_headers(nurse, settings, clock.now())
    assert client.get("/api/v1/waitlist", headers=as_nurse).status_code == 403
    assert add(client, as_nurse, clinic).status_code == 403
