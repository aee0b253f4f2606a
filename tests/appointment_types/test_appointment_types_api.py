"""Appointment types over HTTP: phases normalized, layout rules, ranges, roles, audit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from scheduler.kit.clock import FrozenClock
from scheduler.models import AppointmentType, AuditEvent

URL = "/api/v1/appointment-types"

INFUSION_PHASES = [
    {"minutes": 15, "uses_chair": True, "provider_use": "hands_on"},
    {"minutes": 40, "uses_chair": True, "provider_use": "monitor"},
    {"minutes": 45, "uses_chair": True, "provider_use": "none"},
]


def infusion(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": "ketamine-infusion",
        "name": "Ketamine infusion",
        "phases": INFUSION_PHASES,
        "turnover_minutes": 15,
        "slot_step_minutes": 15,
        "min_notice_minutes": 120,
        "prerequisites": ["consent_signed", "consult_completed"],
        "fasting_hours": 6,
        "clear_liquids_hours": 2,
        "driver_required": True,
        "patient_instructions": "No food for 6 hours before. Bring a driver.",
    }
    body.update(overrides)
    return body


def consult(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"code": "consult", "name": "Screening consultation"}
    body.update({"duration_minutes": 45, **overrides})
    return body


def test_create_with_phases_derives_duration_and_chair(
    client: TestClient, admin_headers: dict[str, str], db: Session
) -> None:
    created = client.post(URL, json=infusion(), headers=admin_headers)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["duration_minutes"] == 100
    assert body["needs_chair"] is True
    assert body["phases"] == INFUSION_PHASES
    # Stored in canonical order whatever order the client sent.
    assert body["prerequisites"] == ["consult_completed", "consent_signed"]
    assert client.get(f"{URL}/{body['id']}", headers=admin_headers).json() == body
    event = db.exec(select(AuditEvent).where(AuditEvent.action == "appointment_type.create")).one()
    assert event.after is not None
    assert event.after["phases"] == INFUSION_PHASES


@pytest.mark.parametrize(
    ("overrides", "phase"),
    [
        ({}, {"minutes": 45, "uses_chair": False, "provider_use": "exclusive"}),
        ({"needs_chair": True}, {"minutes": 45, "uses_chair": True, "provider_use": "monitor"}),
        (
            {"needs_chair": True, "provider_use": "hands_on"},
            {"minutes": 45, "uses_chair": True, "provider_use": "hands_on"},
        ),
    ],
    ids=["consult_defaults_exclusive", "chair_defaults_monitor", "explicit_provider_use"],
)
def test_duration_only_type_is_stored_as_one_phase(
    client: TestClient,
    admin_headers: dict[str, str],
    db: Session,
    overrides: dict[str, Any],
    phase: dict[str, Any],
) -> None:
    created = client.post(URL, json=consult(**overrides), headers=admin_headers)
    assert created.status_code == 201, created.text
    assert created.json()["phases"] == [phase]
    row = db.get(AppointmentType, created.json()["id"])
    assert row is not None
    assert row.phases == [phase]
    assert row.needs_chair is phase["uses_chair"]


def test_duration_agreeing_with_phases_is_accepted(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    response = client.post(
        URL, json=infusion(duration_minutes=100, needs_chair=True), headers=admin_headers
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (infusion(duration_minutes=90), "duration_minutes"),
        (infusion(needs_chair=False), "needs_chair"),
        (infusion(provider_use="monitor"), "provider_use"),
        ({"code": "x", "name": "Nothing"}, "duration_minutes"),
        (
            infusion(
                phases=[{"minutes": 30, "uses_chair": False, "provider_use": "none"}],
                turnover_minutes=0,
            ),
            "phases",
        ),
        (consult(duration_minutes=30, turnover_minutes=10), "turnover_minutes"),
        (consult(min_notice_minutes=2 * 24 * 60, max_days_ahead=2), "min_notice_minutes"),
        (infusion(fasting_hours=2, clear_liquids_hours=6), "clear_liquids_hours"),
    ],
    ids=[
        "sum_mismatch",
        "chair_mismatch",
        "provider_use_with_phases",
        "no_duration_no_phases",
        "uses_nothing",
        "turnover_without_chair",
        "notice_beyond_horizon",
        "liquids_after_food",
    ],
)
def test_inconsistent_layouts_are_422_naming_the_field(
    client: TestClient, admin_headers: dict[str, str], body: dict[str, Any], field: str
) -> None:
    response = client.post(URL, json=body, headers=admin_headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == field


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (
            {"phases": [{"minutes": 30, "uses_chair": True, "provider_use": "watch"}]},
            "phases.0.provider_use",
        ),
        (
            {"phases": [{"minutes": 0, "uses_chair": True, "provider_use": "monitor"}]},
            "phases.0.minutes",
        ),
        ({"phases": []}, "phases"),
        ({"prerequisites": ["consent_signed", "blood_test"]}, "prerequisites.1"),
        ({"slot_step_minutes": 7}, "slot_step_minutes"),
        ({"slot_step_minutes": 0}, "slot_step_minutes"),
        ({"slot_step_minutes": 180}, "slot_step_minutes"),
        ({"turnover_minutes": 121}, "turnover_minutes"),
        ({"max_days_ahead": 0}, "max_days_ahead"),
        ({"max_days_ahead": 731}, "max_days_ahead"),
        ({"code": "Ketamine Infusion"}, "code"),
        ({"code": "-infusion"}, "code"),
        ({"color": "blue"}, "color"),
    ],
    ids=[
        "bad_provider_use",
        "zero_minute_phase",
        "empty_phases",
        "unknown_prerequisite",
        "step_not_dividing_day",
        "step_zero",
        "step_too_long",
        "turnover_too_long",
        "horizon_zero",
        "horizon_too_far",
        "code_not_slug",
        "code_leading_dash",
        "unknown_field",
    ],
)
def test_malformed_fields_are_422(
    client: TestClient, admin_headers: dict[str, str], overrides: dict[str, Any], field: str
) -> None:
    response = client.post(URL, json=infusion(**overrides), headers=admin_headers)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field


def test_duplicate_code_is_a_conflict(client: TestClient, admin_headers: dict[str, str]) -> None:
    assert client.post(URL, json=infusion(), headers=admin_headers).status_code == 201
    again = client.post(URL, json=infusion(name="Other"), headers=admin_headers)
    assert again.status_code == 409
    assert again.json()["code"] == "already_exists"
    client.post(URL, json=consult(), headers=admin_headers)
    consult_id = client.get(URL, headers=admin_headers).json()["items"][1]["id"]
    renamed = client.patch(
        f"{URL}/{consult_id}", json={"code": "ketamine-infusion"}, headers=admin_headers
    )
    assert renamed.status_code == 409


def test_list_filters_and_pagination(client: TestClient, admin_headers: dict[str, str]) -> None:
    client.post(URL, json=infusion(), headers=admin_headers)
    client.post(URL, json=consult(self_schedulable=True), headers=admin_headers)
    client.post(URL, json=consult(code="old-consult", active=False), headers=admin_headers)

    assert client.get(URL, headers=admin_headers).json()["total"] == 3
    online = client.get(URL, params={"self_schedulable": "true"}, headers=admin_headers).json()
    assert [t["code"] for t in online["items"]] == ["consult"]
    active = client.get(URL, params={"active": "true"}, headers=admin_headers).json()
    assert [t["code"] for t in active["items"]] == ["ketamine-infusion", "consult"]
    page = client.get(URL, params={"limit": 2, "offset": 2}, headers=admin_headers).json()
    assert [t["code"] for t in page["items"]] == ["old-consult"]
    assert page["total"] == 3


def test_patch_reshapes_a_single_phase_type(
    client: TestClient, admin_headers: dict[str, str], db: Session
) -> None:
    created = client.post(URL, json=consult(), headers=admin_headers).json()
    url = f"{URL}/{created['id']}"
    longer = client.patch(url, json={"duration_minutes": 60}, headers=admin_headers).json()
    assert longer["phases"] == [{"minutes": 60, "uses_chair": False, "provider_use": "exclusive"}]
    # Gaining a chair switches the default provider use to monitor.
    chaired = client.patch(
        url, json={"needs_chair": True, "turnover_minutes": 10}, headers=admin_headers
    ).json()
    assert chaired["phases"] == [{"minutes": 60, "uses_chair": True, "provider_use": "monitor"}]
    assert chaired["turnover_minutes"] == 10
    # Losing it while a turnover buffer remains is refused.
    refused = client.patch(url, json={"needs_chair": False}, headers=admin_headers)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "turnover_minutes"

    event = db.exec(
        select(AuditEvent)
        .where(AuditEvent.action == "appointment_type.update")
        .order_by(AuditEvent.id)  # type: ignore[arg-type]
    ).all()
    assert len(event) == 2
    assert event[0].before is not None
    assert event[0].before["duration_minutes"] == 45


def test_patch_of_a_multi_phase_type(client: TestClient, admin_headers: dict[str, str]) -> None:
    created = client.post(URL, json=infusion(), headers=admin_headers).json()
    url = f"{URL}/{created['id']}"
    mismatch = client.patch(url, json={"duration_minutes": 120}, headers=admin_headers)
    assert mismatch.status_code == 422
    assert mismatch.json()["errors"][0]["field"] == "duration_minutes"
    assert "change the phases" in mismatch.json()["detail"]
    spravato = [
        {"minutes": 10, "uses_chair": True, "provider_use": "hands_on"},
        {"minutes": 120, "uses_chair": True, "provider_use": "monitor"},
    ]
    replaced = client.patch(
        url, json={"phases": spravato, "prerequisites": ["rems_enrolled"]}, headers=admin_headers
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["duration_minutes"] == 130
    assert replaced.json()["phases"] == spravato
    assert replaced.json()["prerequisites"] == ["rems_enrolled"]
    null_code = client.patch(url, json={"code": None}, headers=admin_headers)
    assert null_code.status_code == 422
    cleared = client.patch(url, json={"fasting_hours": None}, headers=admin_headers)
    assert cleared.json()["fasting_hours"] is None


def test_roles_unknown_ids_and_tokens(
    client: TestClient,
    desk_headers: dict[str, str],
    admin_headers: dict[str, str],
    provider_headers: dict[str, str],
    clock: FrozenClock,
) -> None:
    assert client.post(URL, json=infusion(), headers=admin_headers).status_code == 201
    forbidden = client.post(URL, json=consult(), headers=provider_headers)
    assert forbidden.status_code == 403
    assert forbidden.json()["code"] == "forbidden"
    # What can be booked, and its safety gates, are clinic settings: admins only.
    assert client.post(URL, json=consult(), headers=desk_headers).status_code == 403
    listed = client.get(URL, headers=provider_headers)
    assert listed.status_code == 200
    type_id = listed.json()["items"][0]["id"]
    assert (
        client.patch(f"{URL}/{type_id}", json={"name": "X"}, headers=provider_headers).status_code
        == 403
    )

    missing = client.get(f"{URL}/987654", headers=admin_headers)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert (
        client.patch(f"{URL}/987654", json={"name": "X"}, headers=admin_headers).status_code == 404
    )

    assert client.get(URL).status_code == 401
    clock.advance(timedelta(minutes=15, seconds=1))
    assert client.get(URL, headers=admin_headers).status_code == 401
