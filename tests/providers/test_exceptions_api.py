"""Provider exceptions (time off, extra hours): instants with offsets, location rules, audit."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from scheduler.models import AuditEvent, AvailabilityException
from tests.providers.conftest import Clinic, HeadersFor


def exceptions_url(clinic: Clinic, provider: str = "paul") -> str:
    return f"/api/v1/providers/{clinic.id_of(getattr(clinic, provider))}/exceptions"


def time_off(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "unavailable",
        "start_at": "2026-03-10T08:00:00-04:00",
        "end_at": "2026-03-10T17:00:00-04:00",
        "reason": "conference",
    }
    body.update(overrides)
    return body


def test_exception_crud_is_audited(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic, db: Session
) -> None:
    url = exceptions_url(clinic)
    created = client.post(url, json=time_off(), headers=desk_headers)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["start_at"] == "2026-03-10T12:00:00Z"
    assert body["location_id"] is None
    stored = db.get(AvailabilityException, body["id"])
    assert stored is not None
    assert stored.provider_id == clinic.id_of(clinic.paul)
    assert client.get(f"{url}/{body['id']}", headers=desk_headers).json() == body

    patched = client.patch(
        f"{url}/{body['id']}",
        json={"end_at": "2026-03-10T20:00:00+00:00", "reason": "conference, day 1"},
        headers=desk_headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["end_at"] == "2026-03-10T20:00:00Z"

    deleted = client.delete(
        f"{url}/{body['id']}", params={"reason": "cancelled trip"}, headers=desk_headers
    )
    assert deleted.status_code == 204
    assert client.get(f"{url}/{body['id']}", headers=desk_headers).status_code == 404

    events = db.exec(
        select(AuditEvent)
        .where(AuditEvent.entity_type == "availability_exception")
        .order_by(AuditEvent.id)  # type: ignore[arg-type]
    ).all()
    assert [(e.action, e.reason) for e in events] == [
        ("availability_exception.create", "conference"),
        ("availability_exception.update", "conference, day 1"),
        ("availability_exception.delete", "cancelled trip"),
    ]


def test_extra_hours_need_one_of_the_providers_locations(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic
) -> None:
    url = exceptions_url(clinic, "nora")
    missing = client.post(url, json=time_off(kind="extra"), headers=desk_headers)
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "location_id"

    elsewhere = client.post(
        url,
        json=time_off(kind="extra", location_id=clinic.id_of(clinic.uptown)),
        headers=desk_headers,
    )
    assert elsewhere.status_code == 422
    assert elsewhere.json()["errors"][0]["field"] == "location_id"

    ok = client.post(
        url,
        json=time_off(kind="extra", location_id=clinic.id_of(clinic.downtown)),
        headers=desk_headers,
    )
    assert ok.status_code == 201, ok.text
    # Turning extra hours into an extra without a location is caught on the merged record.
    cleared = client.patch(
        f"{url}/{ok.json()['id']}", json={"location_id": None}, headers=desk_headers
    )
    assert cleared.status_code == 422
    assert cleared.json()["errors"][0]["field"] == "location_id"
    as_time_off = client.patch(
        f"{url}/{ok.json()['id']}",
        json={"location_id": None, "kind": "unavailable"},
        headers=desk_headers,
    )
    assert as_time_off.status_code == 200
    assert as_time_off.json()["location_id"] is None


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"start_at": "2026-03-10T08:00:00"}, "start_at"),
        ({"end_at": "2026-03-10T17:00:00"}, "end_at"),
        ({"kind": "holiday"}, "kind"),
        ({"start_at": "2026-03-10T18:00:00-04:00"}, "end_at"),
    ],
    ids=["naive_start", "naive_end", "unknown_kind", "end_before_start"],
)
def test_malformed_exceptions_are_422(
    client: TestClient,
    desk_headers: dict[str, str],
    clinic: Clinic,
    overrides: dict[str, Any],
    field: str,
) -> None:
    response = client.post(exceptions_url(clinic), json=time_off(**overrides), headers=desk_headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == field
    if not field:
        assert "end_at must be after start_at" in response.json()["detail"]


def test_patch_rejects_end_before_start_and_naive_times(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic
) -> None:
    url = exceptions_url(clinic)
    created = client.post(url, json=time_off(), headers=desk_headers).json()
    backwards = client.patch(
        f"{url}/{created['id']}", json={"end_at": "2026-03-10T07:00:00-04:00"}, headers=desk_headers
    )
    assert backwards.status_code == 422
    assert backwards.json()["errors"][0]["field"] == "end_at"
    naive = client.patch(
        f"{url}/{created['id']}", json={"start_at": "2026-03-10T07:00:00"}, headers=desk_headers
    )
    assert naive.status_code == 422
    assert naive.json()["errors"][0]["field"] == "start_at"


def test_list_filters_by_window_and_kind(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic
) -> None:
    url = exceptions_url(clinic)
    downtown = clinic.id_of(clinic.downtown)
    for body in (
        time_off(),
        time_off(start_at="2026-04-01T00:00:00Z", end_at="2026-04-08T00:00:00Z", reason="leave"),
        time_off(
            kind="extra",
            location_id=downtown,
            start_at="2026-03-14T09:00:00-04:00",
            end_at="2026-03-14T13:00:00-04:00",
        ),
    ):
        assert client.post(url, json=body, headers=desk_headers).status_code == 201

    listed = client.get(url, headers=desk_headers).json()
    assert listed["items"][0]["reason"] == "conference"  # ordered by start
    assert listed["total"] == 3
    march = client.get(
        url,
        params={"start": "2026-03-01T00:00:00Z", "end": "2026-04-01T00:00:00Z"},
        headers=desk_headers,
    ).json()
    assert march["total"] == 2  # the April leave starts exactly at the window's end
    extra = client.get(url, params={"kind": "extra"}, headers=desk_headers).json()
    assert [e["location_id"] for e in extra["items"]] == [downtown]
    page = client.get(url, params={"limit": 2, "offset": 2}, headers=desk_headers).json()
    assert [e["reason"] for e in page["items"]] == ["leave"]

    naive = client.get(url, params={"start": "2026-03-01T00:00:00"}, headers=desk_headers)
    assert naive.status_code == 422
    backwards = client.get(
        url,
        params={"start": "2026-04-01T00:00:00Z", "end": "2026-03-01T00:00:00Z"},
        headers=desk_headers,
    )
    assert backwards.status_code == 422
    assert backwards.json()["errors"][0]["field"] == "end"


def test_providers_manage_only_their_own_exceptions(
    client: TestClient,
    clinic: Clinic,
    provider_headers_for: HeadersFor,
    desk_headers: dict[str, str],
) -> None:
    nora = provider_headers_for(clinic.nora)
    assert (
        client.post(exceptions_url(clinic, "nora"), json=time_off(), headers=nora).status_code
        == 201
    )
    others = client.post(exceptions_url(clinic, "paul"), json=time_off(), headers=nora)
    assert others.status_code == 403
    pauls = client.post(
        exceptions_url(clinic, "paul"), json=time_off(), headers=desk_headers
    ).json()
    paul_item = f"{exceptions_url(clinic, 'paul')}/{pauls['id']}"
    assert client.patch(paul_item, json={"reason": "x"}, headers=nora).status_code == 403
    assert client.delete(paul_item, headers=nora).status_code == 403
    # The same id under another provider's path does not exist.
    assert (
        client.delete(f"{exceptions_url(clinic, 'nora')}/{pauls['id']}", headers=nora).status_code
        == 404
    )
    assert client.get(exceptions_url(clinic, "paul")).status_code == 401
