"""Locations, opening hours, chairs and closures over HTTP."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from scheduler.config import Settings
from scheduler.kit.clock import FrozenClock
from scheduler.models import AuditEvent
from tests.factories import auth_headers, make_provider, make_user

NEW_LOCATION = {
    "name": "Boulder Clinic",
    "address": "1 Pearl St, Boulder CO",
    "timezone": "America/Denver",
    "opening_hours": [
        {"weekday": 0, "open_time": "08:00", "close_time": "12:00"},
        {"weekday": 0, "open_time": "13:00", "close_time": "17:00"},
    ],
}


def test_create_and_read_location_with_hours(
    client: TestClient, admin_headers: dict[str, str], db: Session
) -> None:
    created = client.post("/api/v1/locations", json=NEW_LOCATION, headers=admin_headers)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["timezone"] == "America/Denver"
    assert [h["open_time"] for h in body["opening_hours"]] == ["08:00:00", "13:00:00"]

    fetched = client.get(f"/api/v1/locations/{body['id']}", headers=admin_headers)
    assert fetched.json() == body
    listed = client.get("/api/v1/locations", headers=admin_headers).json()
    assert listed["total"] == 1
    assert listed["items"][0]["name"] == "Boulder Clinic"
    events = db.exec(select(AuditEvent).where(AuditEvent.action == "location.create")).all()
    assert len(events) == 1
    assert events[0].after is not None
    assert events[0].after["timezone"] == "America/Denver"


def test_unknown_time_zone_is_a_problem_naming_the_field(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    response = client.post(
        "/api/v1/locations",
        json={**NEW_LOCATION, "timezone": "Mars/Olympus"},
        headers=admin_headers,
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "validation_error"
    assert problem["errors"][0]["field"] == "timezone"
    assert "Mars/Olympus" in problem["errors"][0]["message"]


def test_overlapping_opening_hours_are_rejected(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    hours = [
        {"weekday": 2, "open_time": "08:00", "close_time": "12:00"},
        {"weekday": 2, "open_time": "11:00", "close_time": "15:00"},
    ]
    response = client.post(
        "/api/v1/locations", json={**NEW_LOCATION, "opening_hours": hours}, headers=admin_headers
    )
    assert response.status_code == 422
    assert "overlap" in response.json()["detail"]


def test_duplicate_location_name_is_a_conflict(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    assert (
        client.post("/api/v1/locations", json=NEW_LOCATION, headers=admin_headers).status_code
        == 201
    )
    again = client.post("/api/v1/locations", json=NEW_LOCATION, headers=admin_headers)
    assert again.status_code == 409
    assert again.json()["code"] == "already_exists"


def test_chairs_crud_and_unknown_location(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    location_id = client.post("/api/v1/locations", json=NEW_LOCATION, headers=admin_headers).json()[
        "id"
    ]
    for name, position in (("Room B", 2), ("Room A", 1)):
        response = client.post(
            f"/api/v1/locations/{location_id}/chairs",
            json={"name": name, "position": position, "tags": ["private-room"]},
            headers=admin_headers,
        )
        assert response.status_code == 201, response.text
    chairs = client.get(f"/api/v1/locations/{location_id}/chairs", headers=admin_headers).json()
    assert [c["name"] for c in chairs["items"]] == ["Room A", "Room B"]

    chair_id = chairs["items"][0]["id"]
    patched = client.patch(
        f"/api/v1/locations/{location_id}/chairs/{chair_id}",
        json={"active": False},
        headers=admin_headers,
    )
    assert patched.json()["active"] is False
    active_only = client.get(
        f"/api/v1/locations/{location_id}/chairs?active=true", headers=admin_headers
    ).json()
    assert [c["name"] for c in active_only["items"]] == ["Room B"]

    missing = client.get("/api/v1/locations/999999/chairs", headers=admin_headers)
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"


def test_closures_need_offsets_and_end_after_start(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    location_id = client.post("/api/v1/locations", json=NEW_LOCATION, headers=admin_headers).json()[
        "id"
    ]
    url = f"/api/v1/locations/{location_id}/closures"
    naive = client.post(
        url,
        json={"start_at": "2026-12-25T00:00:00", "end_at": "2026-12-26T00:00:00"},
        headers=admin_headers,
    )
    assert naive.status_code == 422
    assert naive.json()["errors"][0]["field"] == "start_at"
    backwards = client.post(
        url,
        json={"start_at": "2026-12-26T00:00:00-07:00", "end_at": "2026-12-25T00:00:00-07:00"},
        headers=admin_headers,
    )
    assert backwards.status_code == 422
    assert "end_at must be after start_at" in backwards.json()["detail"]
    assert backwards.json()["errors"][0]["field"] == "end_at"
    ok = client.post(
        url,
        json={
            "start_at": "2026-12-25T00:00:00-07:00",
            "end_at": "2026-12-26T00:00:00-07:00",
            "reason": "Christmas",
        },
        headers=admin_headers,
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["start_at"] == "2026-12-25T07:00:00Z"
    listed = client.get(url, headers=admin_headers).json()
    assert listed["total"] == 1
    gone = client.delete(f"{url}/{ok.json()['id']}", headers=admin_headers)
    assert gone.status_code == 204
    assert client.get(url, headers=admin_headers).json()["total"] == 0


def test_a_closure_is_edited_in_place_audited_and_checked(
    client: TestClient,
    admin_headers: dict[str, str],
    desk_headers: dict[str, str],
    db: Session,
    settings: Settings,
    clock: FrozenClock,
) -> None:
    location_id = client.post("/api/v1/locations", json=NEW_LOCATION, headers=admin_headers).json()[
        "id"
    ]
    url = f"/api/v1/locations/{location_id}/closures"
    created = client.post(
        url,
        json={
            "start_at": "2026-12-25T00:00:00-07:00",
            "end_at": "2026-12-26T00:00:00-07:00",
            "reason": "Christmas",
        },
        headers=admin_headers,
    ).json()
    item = f"{url}/{created['id']}"

    moved = client.patch(
        item,
        json={"end_at": "2026-12-27T00:00:00-07:00", "reason": "Christmas"},
        headers=admin_headers,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["end_at"] == "2026-12-27T07:00:00Z"
    assert moved.json()["start_at"] == "2026-12-25T07:00:00Z"  # left out: kept
    event = db.exec(select(AuditEvent).where(AuditEvent.action == "closure.update")).one()
    assert event.before is not None
    assert event.after is not None
    assert event.before["end_at"] != event.after["end_at"]

    # The merged span is checked: an end before the kept start is refused, nothing changes.
    backwards = client.patch(
        item, json={"end_at": "2026-12-24T00:00:00-07:00"}, headers=admin_headers
    )
    assert backwards.status_code == 422
    assert backwards.headers["content-type"] == "application/problem+json"
    assert backwards.json()["errors"][0]["field"] == "end_at"
    for body in ({"start_at": None}, {"start_at": "2026-12-25T00:00:00"}, {"location_id": 3}):
        refused = client.patch(item, json=body, headers=admin_headers)
        assert refused.status_code == 422, body
        assert refused.headers["content-type"] == "application/problem+json"
    listed = client.get(url, headers=admin_headers).json()["items"]
    assert listed[0]["end_at"] == "2026-12-27T07:00:00Z"

    missing = client.patch(f"{url}/999999", json={"reason": "x"}, headers=admin_headers)
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"

    # The front desk may move it too; a provider may not (as for creating one).
    desk = client.patch(item, json={"reason": "Christmas week"}, headers=desk_headers)
    assert desk.status_code == 200, desk.text
    nurse = make_user(
        db, role="provider", email="nurse@clinic.example", provider_id=make_provider(db).id
    )
    refused = client.patch(
        item, json={"reason": "x"}, headers=auth_headers(nurse, settings, clock.now())
    )
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
