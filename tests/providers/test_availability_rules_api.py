"""Weekly availability rules: shape, location membership, overlap, ownership, audit."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from scheduler.models import AuditEvent
from tests.providers.conftest import Clinic, HeadersFor


def rules_url(clinic: Clinic, provider: str = "paul") -> str:
    return f"/api/v1/providers/{clinic.id_of(getattr(clinic, provider))}/availability-rules"


def rule(clinic: Clinic, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "location_id": clinic.id_of(clinic.downtown),
        "weekday": 0,
        "start_time": "08:00",
        "end_time": "12:00",
    }
    body.update(overrides)
    return body


def test_rule_crud_is_audited_with_actor_and_reason(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic, db: Session
) -> None:
    url = rules_url(clinic)
    created = client.post(
        url,
        json=rule(clinic, valid_from_date="2026-03-01", reason="new spring hours"),
        headers=desk_headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["start_time"] == "08:00:00"
    assert body["valid_from_date"] == "2026-03-01"
    assert body["valid_until_date"] is None
    assert client.get(f"{url}/{body['id']}", headers=desk_headers).json() == body

    patched = client.patch(
        f"{url}/{body['id']}",
        json={"end_time": "13:30", "valid_from_date": None, "reason": "longer Mondays"},
        headers=desk_headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["end_time"] == "13:30:00"
    assert patched.json()["valid_from_date"] is None

    deleted = client.delete(f"{url}/{body['id']}", params={"reason": "left"}, headers=desk_headers)
    assert deleted.status_code == 204
    assert client.get(f"{url}/{body['id']}", headers=desk_headers).status_code == 404

    events = db.exec(
        select(AuditEvent)
        .where(AuditEvent.entity_type == "availability_rule", AuditEvent.entity_id == body["id"])
        .order_by(AuditEvent.id)  # type: ignore[arg-type]
    ).all()
    assert [(e.action, e.reason) for e in events] == [
        ("availability_rule.create", "new spring hours"),
        ("availability_rule.update", "longer Mondays"),
        ("availability_rule.delete", "left"),
    ]
    assert all(e.actor.startswith("user:") for e in events)
    assert events[1].before is not None
    assert events[1].after is not None
    assert (events[1].before["end_time"], events[1].after["end_time"]) == ("12:00:00", "13:30:00")
    assert events[2].after is None


def test_list_filters_by_location_and_weekday(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic
) -> None:
    url = rules_url(clinic)
    downtown, uptown = clinic.id_of(clinic.downtown), clinic.id_of(clinic.uptown)
    for body in (
        rule(clinic, weekday=0),
        rule(clinic, weekday=2),
        rule(clinic, weekday=0, location_id=uptown, start_time="13:00", end_time="17:00"),
    ):
        assert client.post(url, json=body, headers=desk_headers).status_code == 201

    assert client.get(url, headers=desk_headers).json()["total"] == 3
    mondays = client.get(url, params={"weekday": 0}, headers=desk_headers).json()
    assert [(r["location_id"], r["start_time"]) for r in mondays["items"]] == [
        (downtown, "08:00:00"),
        (uptown, "13:00:00"),
    ]
    at_uptown = client.get(url, params={"location_id": uptown}, headers=desk_headers).json()
    assert at_uptown["total"] == 1
    page = client.get(url, params={"limit": 1, "offset": 2}, headers=desk_headers).json()
    assert page["total"] == 3
    assert len(page["items"]) == 1
    assert client.get(url, params={"weekday": 7}, headers=desk_headers).status_code == 422


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"start_time": "12:00", "end_time": "08:00"}, "end_time"),
        ({"start_time": "08:00", "end_time": "08:00"}, "end_time"),
        ({"valid_from_date": "2026-06-01", "valid_until_date": "2026-05-31"}, "valid_until_date"),
        ({"weekday": 7}, "weekday"),
        ({"start_time": "08:00-05:00"}, "start_time"),
        ({"location_id": 999_999}, "location_id"),
    ],
    ids=[
        "end_before_start",
        "empty_span",
        "until_before_from",
        "bad_weekday",
        "time_with_offset",
        "unknown_location",
    ],
)
def test_malformed_rules_are_422_naming_the_field(
    client: TestClient,
    desk_headers: dict[str, str],
    clinic: Clinic,
    overrides: dict[str, Any],
    field: str,
) -> None:
    response = client.post(rules_url(clinic), json=rule(clinic, **overrides), headers=desk_headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == field


def test_location_must_be_one_of_the_providers(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic
) -> None:
    response = client.post(
        rules_url(clinic, "nora"),
        json=rule(clinic, location_id=clinic.id_of(clinic.uptown)),
        headers=desk_headers,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "location_id"
    assert "not one of provider" in response.json()["detail"]


@pytest.mark.parametrize(
    ("second", "status"),
    [
        ({"start_time": "11:00", "end_time": "14:00"}, 409),
        ({"start_time": "09:00", "end_time": "10:00"}, 409),
        ({"start_time": "07:00", "end_time": "13:00"}, 409),
        ({"start_time": "12:00", "end_time": "16:00"}, 201),
        ({"start_time": "06:00", "end_time": "08:00"}, 201),
        ({"weekday": 1}, 201),
        ({"location_id": "uptown"}, 201),
        ({"valid_from_date": "2026-07-01"}, 201),
        ({"valid_until_date": "2026-06-30"}, 409),
        ({"valid_from_date": "2026-06-30"}, 409),
    ],
    ids=[
        "overlaps_end",
        "inside",
        "contains",
        "touches_after",
        "touches_before",
        "other_weekday",
        "other_location",
        "disjoint_validity",
        "open_start_meets_range",
        "validity_shares_last_day",
    ],
)
def test_overlapping_rules_conflict_but_touching_and_disjoint_ones_do_not(
    client: TestClient,
    desk_headers: dict[str, str],
    clinic: Clinic,
    second: dict[str, Any],
    status: int,
) -> None:
    url = rules_url(clinic)
    first = client.post(
        url,
        json=rule(clinic, valid_from_date="2026-03-01", valid_until_date="2026-06-30"),
        headers=desk_headers,
    ).json()
    if second.get("location_id") == "uptown":
        second = {**second, "location_id": clinic.id_of(clinic.uptown)}
    response = client.post(url, json=rule(clinic, **second), headers=desk_headers)
    assert response.status_code == status, response.text
    if status == 409:
        problem = response.json()
        assert problem["code"] == "rule_overlap"
        assert f"rule {first['id']}" in problem["detail"]
        assert "08:00-12:00" in problem["detail"]
        assert problem["conflicting_rule"]["id"] == first["id"]
        assert problem["conflicting_rule"]["start_time"] == "08:00:00"


def test_patch_checks_the_merged_rule(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic
) -> None:
    url = rules_url(clinic)
    morning = client.post(url, json=rule(clinic), headers=desk_headers).json()
    afternoon = client.post(
        url, json=rule(clinic, start_time="13:00", end_time="17:00"), headers=desk_headers
    ).json()
    # Moving a rule within its own span is not an overlap with itself.
    shifted = client.patch(
        f"{url}/{morning['id']}", json={"start_time": "07:30"}, headers=desk_headers
    )
    assert shifted.status_code == 200
    clash = client.patch(
        f"{url}/{afternoon['id']}", json={"start_time": "11:00"}, headers=desk_headers
    )
    assert clash.status_code == 409
    assert clash.json()["code"] == "rule_overlap"
    backwards = client.patch(
        f"{url}/{afternoon['id']}", json={"end_time": "12:00"}, headers=desk_headers
    )
    assert backwards.status_code == 422
    assert backwards.json()["errors"][0]["field"] == "end_time"
    foreign = client.patch(
        f"{rules_url(clinic, 'nora')}/{morning['id']}", json={"weekday": 3}, headers=desk_headers
    )
    assert foreign.status_code == 404
    null_weekday = client.patch(
        f"{url}/{morning['id']}", json={"weekday": None}, headers=desk_headers
    )
    assert null_weekday.status_code == 422


def test_unknown_provider_or_rule_is_404(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic
) -> None:
    assert (
        client.get("/api/v1/providers/987654/availability-rules", headers=desk_headers).status_code
        == 404
    )
    missing = client.post(
        "/api/v1/providers/987654/availability-rules", json=rule(clinic), headers=desk_headers
    )
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    assert client.delete(f"{rules_url(clinic)}/987654", headers=desk_headers).status_code == 404


def test_providers_manage_only_their_own_rules(
    client: TestClient, clinic: Clinic, provider_headers_for: HeadersFor, db: Session
) -> None:
    nora = provider_headers_for(clinic.nora)
    own = client.post(rules_url(clinic, "nora"), json=rule(clinic), headers=nora)
    assert own.status_code == 201, own.text
    own_event = db.exec(
        select(AuditEvent).where(AuditEvent.action == "availability_rule.create")
    ).one()
    assert own_event.actor_user_id is not None

    paul_url = rules_url(clinic, "paul")
    others = client.post(paul_url, json=rule(clinic), headers=nora)
    assert others.status_code == 403
    assert others.json()["code"] == "forbidden"
    # Nor read them: a provider sees their own schedule only (issue 13 item 10; desk staff
    # see everyone's).
    assert client.get(paul_url, headers=nora).status_code == 403

    paul = provider_headers_for(clinic.paul)
    theirs = client.post(paul_url, json=rule(clinic), headers=paul).json()
    assert (
        client.patch(f"{paul_url}/{theirs['id']}", json={"weekday": 4}, headers=nora).status_code
        == 403
    )
    assert client.delete(f"{paul_url}/{theirs['id']}", headers=nora).status_code == 403
    assert client.delete(f"{paul_url}/{theirs['id']}", headers=paul).status_code == 204


def test_no_token_is_401(client: TestClient, clinic: Clinic) -> None:
    response = client.post(rules_url(clinic), json=rule(clinic))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
