"""A provider sees their own schedule only (DESIGN §7), on every provider-scoped endpoint.

Policy: another provider's availability rules, exceptions, slots, bookings list and feed
tokens are a 403 (who works here is no secret; their schedule is), and a single record of
someone else (booking, hold, patient) is the 404 of a missing one. Desk staff see everything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from scheduler.config import Settings
from scheduler.kit.clock import FrozenClock
from scheduler.models import Provider
from tests.clinic_fixture import WEEKDAYS_9_TO_5, Clinic
from tests.factories import auth_headers, make_provider, make_user

API = "/api/v1"
TUESDAY = "2026-03-03"
TUESDAY_9 = f"{TUESDAY}T09:00:00-05:00"
DAY_WINDOW = {"start": f"{TUESDAY}T00:00:00-05:00", "end": f"{TUESDAY}T23:59:00-05:00"}


@dataclass
class Scene:
    """The clinic's nurse with a booking, a hold, a rule, time off and a feed; a colleague
    ("other") who works the same hours at the same site; their logins and the desk's."""

    clinic: Clinic
    other: Provider
    nurse_headers: dict[str, str]
    other_headers: dict[str, str]
    desk_headers: dict[str, str]
    booking: dict[str, Any]
    hold: dict[str, Any]
    rule_id: int
    exception_id: int
    feed: dict[str, Any]

    @property
    def nurse_id(self) -> int:
        assert self.clinic.nurse.id is not None
        return self.clinic.nurse.id

    @property
    def other_id(self) -> int:
        assert self.other.id is not None
        return self.other.id


def created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def scene(
    client: TestClient,
    db: Session,
    settings: Settings,
    clock: FrozenClock,
    clinic: Clinic,
    desk_headers: dict[str, str],
) -> Scene:
    other = make_provider(
        db,
        name="Omar Other",
        locations=(clinic.location,),
        types=(clinic.infusion,),
        weekly=WEEKDAYS_9_TO_5,
    )

    def login(provider: Provider, email: str) -> dict[str, str]:
        user = make_user(db, role="provider", email=email, provider_id=provider.id)
        return auth_headers(user, settings, clock.now())

    nurse = clinic.nurse.id
    booking = created(
        client.post(
            f"{API}/bookings",
            json={
                "patient_id": clinic.patient.id,
                "appointment_type_id": clinic.infusion_id,
                "location_id": clinic.location_id,
                "provider_id": nurse,
                "start_at": TUESDAY_9,
            },
            headers=desk_headers,
        )
    )
    hold = created(
        client.post(
            f"{API}/holds",
            json={
                "appointment_type_id": clinic.infusion_id,
                "location_id": clinic.location_id,
                "provider_id": nurse,
                "start_at": f"{TUESDAY}T13:00:00-05:00",
            },
            headers=desk_headers,
        )
    )
    rules = client.get(f"{API}/providers/{nurse}/availability-rules", headers=desk_headers)
    exception = created(
        client.post(
            f"{API}/providers/{nurse}/exceptions",
            json={
                "kind": "unavailable",
                "start_at": "2026-03-12T08:00:00-05:00",
                "end_at": "2026-03-12T17:00:00-05:00",
                "reason": "her own medical appointment",
            },
            headers=desk_headers,
        )
    )
    feed = created(
        client.post(
            f"{API}/feed-tokens",
            json={"provider_id": nurse, "label": "phone"},
            headers=desk_headers,
        )
    )
    return Scene(
        clinic=clinic,
        other=other,
        nurse_headers=login(clinic.nurse, "nurse@clinic.example"),
        other_headers=login(other, "other@clinic.example"),
        desk_headers=desk_headers,
        booking=booking,
        hold=hold,
        rule_id=rules.json()["items"][0]["id"],
        exception_id=exception["id"],
        feed=feed,
    )


NURSE_READS: dict[str, Callable[[Scene], tuple[str, dict[str, Any]]]] = {
    "rules": lambda s: (f"{API}/providers/{s.nurse_id}/availability-rules", {}),
    "rule": lambda s: (f"{API}/providers/{s.nurse_id}/availability-rules/{s.rule_id}", {}),
    "exceptions": lambda s: (f"{API}/providers/{s.nurse_id}/exceptions", {}),
    "exception": lambda s: (f"{API}/providers/{s.nurse_id}/exceptions/{s.exception_id}", {}),
    "slots": lambda s: (
        f"{API}/slots",
        {
            "appointment_type": s.clinic.infusion_id,
            "location": s.clinic.location_id,
            "provider": s.nurse_id,
            **DAY_WINDOW,
        },
    ),
    "explain": lambda s: (
        f"{API}/slots/explain",
        {
            "appointment_type": s.clinic.infusion_id,
            "location": s.clinic.location_id,
            "provider": s.nurse_id,
            "date": TUESDAY,
        },
    ),
    "bookings": lambda s: (f"{API}/bookings", {"provider_id": s.nurse_id}),
    "feed_tokens": lambda s: (f"{API}/feed-tokens", {"provider_id": s.nurse_id}),
    "location_feed_tokens": lambda s: (
        f"{API}/feed-tokens",
        {"location_id": s.clinic.location_id},
    ),
}


@pytest.mark.parametrize("endpoint", list(NURSE_READS))
def test_another_providers_schedule_is_403(scene: Scene, client: TestClient, endpoint: str) -> None:
    path, params = NURSE_READS[endpoint](scene)
    refused = client.get(path, params=params, headers=scene.other_headers)
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "medical" not in refused.text
    assert client.get(path, params=params, headers=scene.desk_headers).status_code == 200
    if endpoint != "location_feed_tokens":
        assert client.get(path, params=params, headers=scene.nurse_headers).status_code == 200


def test_a_provider_reads_their_own_rules_and_exceptions(scene: Scene, client: TestClient) -> None:
    exceptions = client.get(
        f"{API}/providers/{scene.nurse_id}/exceptions", headers=scene.nurse_headers
    )
    assert [e["reason"] for e in exceptions.json()["items"]] == ["her own medical appointment"]
    rules = client.get(
        f"{API}/providers/{scene.other_id}/availability-rules", headers=scene.other_headers
    )
    assert rules.status_code == 200
    assert {r["provider_id"] for r in rules.json()["items"]} == {scene.other_id}


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        (
            "post",
            "availability-rules",
            {"location_id": 0, "weekday": 5, "start_time": "09:00", "end_time": "12:00"},
        ),
        ("patch", "availability-rules/{rule}", {"end_time": "12:00"}),
        ("delete", "availability-rules/{rule}", None),
        (
            "post",
            "exceptions",
            {
                "kind": "unavailable",
                "start_at": "2026-03-13T08:00:00-05:00",
                "end_at": "2026-03-13T09:00:00-05:00",
            },
        ),
        ("patch", "exceptions/{exception}", {"reason": "changed"}),
        ("delete", "exceptions/{exception}", None),
    ],
    ids=[
        "create-rule",
        "update-rule",
        "delete-rule",
        "create-exception",
        "update-exception",
        "delete-exception",
    ],
)
def test_another_providers_availability_cannot_be_changed(
    scene: Scene, client: TestClient, method: str, suffix: str, body: dict[str, Any] | None
) -> None:
    path = f"{API}/providers/{scene.nurse_id}/" + suffix.format(
        rule=scene.rule_id, exception=scene.exception_id
    )
    if body is not None and "location_id" in body:
        body["location_id"] = scene.clinic.location_id
    kwargs: dict[str, Any] = {"headers": scene.other_headers}
    if body is not None:
        kwargs["json"] = body
    assert client.request(method, path, **kwargs).status_code == 403
    after = client.get(f"{API}/providers/{scene.nurse_id}/exceptions", headers=scene.desk_headers)
    assert [e["reason"] for e in after.json()["items"]] == ["her own medical appointment"]


def test_slots_and_explain_for_a_provider_are_about_themselves(
    scene: Scene, client: TestClient
) -> None:
    query = {"appointment_type": scene.clinic.infusion_id, "location": scene.clinic.location_id}
    desk = client.get(f"{API}/slots", params={**query, **DAY_WINDOW}, headers=scene.desk_headers)
    offered = {o["id"] for slot in desk.json()["items"] for o in slot["provider_options"]}
    assert offered == {scene.nurse_id, scene.other_id}

    own = client.get(f"{API}/slots", params={**query, **DAY_WINDOW}, headers=scene.other_headers)
    assert own.status_code == 200
    assert own.json()["items"]
    for slot in own.json()["items"]:
        assert slot["provider"]["id"] == scene.other_id
        assert {o["id"] for o in slot["provider_options"]} == {scene.other_id}

    explained = client.get(
        f"{API}/slots/explain", params={**query, "date": TUESDAY}, headers=scene.other_headers
    )
    assert explained.status_code == 200
    named = {
        reason["provider_id"]
        for candidate in explained.json()["candidates"]
        for reason in candidate["reasons"]
    }
    assert scene.nurse_id not in named


def test_bookings_holds_and_patients_of_others_are_404_and_unlisted(
    scene: Scene, client: TestClient
) -> None:
    for path in (
        f"{API}/bookings/{scene.booking['id']}",
        f"{API}/bookings/{scene.booking['id']}/calendar.ics",
        f"{API}/holds/{scene.hold['id']}",
        f"{API}/patients/{scene.clinic.patient.id}",
    ):
        assert client.get(path, headers=scene.other_headers).status_code == 404, path
        assert client.get(path, headers=scene.nurse_headers).status_code == 200, path
    assert client.get(f"{API}/bookings", headers=scene.other_headers).json()["total"] == 0
    assert client.get(f"{API}/bookings", headers=scene.nurse_headers).json()["total"] == 1


def test_providers_list_the_patients_booked_with_them(scene: Scene, client: TestClient) -> None:
    def names(headers: dict[str, str], **params: str) -> list[str]:
        response = client.get(f"{API}/patients", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [p["last_name"] for p in response.json()["items"]]

    assert names(scene.desk_headers) == ["Adeyemi", "Doe", "Okafor"]
    assert names(scene.nurse_headers) == ["Doe"]
    assert names(scene.nurse_headers, q="omar") == []
    assert names(scene.other_headers) == []
    # Read-only: no new patients, no changes.
    new = {"first_name": "A", "last_name": "B", "date_of_birth": "1990-01-01"}
    assert client.post(f"{API}/patients", json=new, headers=scene.nurse_headers).status_code == 403
    assert (
        client.patch(
            f"{API}/patients/{scene.clinic.patient.id}",
            json={"notes": "x"},
            headers=scene.nurse_headers,
        ).status_code
        == 403
    )


def test_feed_tokens_of_another_provider_cannot_be_made_rotated_or_revoked(
    scene: Scene, client: TestClient
) -> None:
    token = scene.feed["id"]
    headers = scene.other_headers
    made = client.post(f"{API}/feed-tokens", json={"provider_id": scene.nurse_id}, headers=headers)
    assert made.status_code == 403
    assert client.post(f"{API}/feed-tokens/{token}/rotate", headers=headers).status_code == 403
    assert client.delete(f"{API}/feed-tokens/{token}", headers=headers).status_code == 403
    assert client.get(f"{API}/feed-tokens", headers=headers).json() == []
    own = client.get(f"{API}/feed-tokens", headers=scene.nurse_headers).json()
    assert [t["id"] for t in own] == [token]
    assert client.get(f"/feeds/{scene.feed['token']}.ics").status_code == 200
