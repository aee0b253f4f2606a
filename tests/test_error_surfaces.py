"""Errors reach the client as what they are (issue #13 items 4-7): a database refusal at
flush or commit is its own 409/422, never a 500 hiding it; oversized bodies are refused
before they are read whole; ``If-Match`` follows RFC 9110; extension members never replace
the problem document's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import Session

from scheduler.config import Settings
from scheduler.kit.clock import FrozenClock
from scheduler.main import create_app
from tests.bookings.test_bookings_api import book
from tests.clinic_fixture import Clinic
from tests.conftest import make_settings
from tests.factories import make_user

LOCATION = {
    "name": "Boulder Clinic",
    "address": "1 Pearl St, Boulder CO",
    "timezone": "America/Denver",
    "opening_hours": [{"weekday": 0, "open_time": "08:00", "close_time": "12:00"}],
}


def _is_problem(response: object, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    body: dict[str, object] = response.json()  # type: ignore[attr-defined]
    assert body["status"] == status
    return body


def test_a_name_differing_only_in_case_is_created_or_a_conflict_never_a_500(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    first = client.post("/api/v1/locations", json=LOCATION, headers=admin_headers)
    assert first.status_code == 201, first.text
    again = client.post(
        "/api/v1/locations", json={**LOCATION, "name": "BOULDER clinic"}, headers=admin_headers
    )
    if again.status_code != 201:
        body = _is_problem(again, 409)
        assert body["code"] == "already_exists"
    exact = client.post("/api/v1/locations", json=LOCATION, headers=admin_headers)
    assert _is_problem(exact, 409)["code"] == "already_exists"
    # The transaction was rolled back cleanly: the next request works.
    listed = client.get("/api/v1/locations", headers=admin_headers)
    assert listed.status_code == 200


def test_a_null_role_is_never_a_500_and_changes_nothing(
    client: TestClient, db: Session, admin_headers: dict[str, str]
) -> None:
    desk = make_user(db, role="front_desk", email="desk2@clinic.example")
    response = client.patch(f"/api/v1/users/{desk.id}", json={"role": None}, headers=admin_headers)
    assert response.status_code < 500, response.text
    after = client.get(f"/api/v1/users/{desk.id}", headers=admin_headers)
    assert after.status_code == 200
    assert after.json()["role"] == "front_desk"


def test_a_nul_escape_split_across_body_chunks_is_refused(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"name": "Boulder \\u00'
        yield b'00 Clinic", "address": "x", "timezone": "America/Denver"}'

    response = client.post(
        "/api/v1/locations",
        content=chunks(),
        headers={**admin_headers, "Content-Type": "application/json"},
    )
    assert _is_problem(response, 422)["code"] == "invalid_value"


def test_bodies_over_the_limit_are_refused_before_being_read(
    settings: Settings, clock: FrozenClock, session_factory: object, admin_headers: dict[str, str]
) -> None:
    small = settings.model_copy(update={"max_body_bytes": 2_048})
    app = create_app(small, clock=clock, session_factory=session_factory)  # type: ignore[arg-type]
    big = b'{"name": "' + b"x" * 4_000 + b'"}'
    with TestClient(app, raise_server_exceptions=False) as client:
        declared = client.post(
            "/api/v1/locations",
            content=big,
            headers={**admin_headers, "Content-Type": "application/json"},
        )
        assert _is_problem(declared, 413)["code"] == "body_too_large"

        def streamed() -> Iterator[bytes]:  # chunked: no Content-Length to go by
            for start in range(0, len(big), 1_000):
                yield big[start : start + 1_000]

        chunked = client.post(
            "/api/v1/locations",
            content=streamed(),
            headers={**admin_headers, "Content-Type": "application/json"},
        )
        assert _is_problem(chunked, 413)["code"] == "body_too_large"
        fine = client.post("/api/v1/locations", json=LOCATION, headers=admin_headers)
        assert fine.status_code == 201, fine.text


def test_the_default_body_limit_is_one_megabyte(tmp_path: Path) -> None:
    assert make_settings(f"sqlite:///{tmp_path / 'x.db'}").max_body_bytes == 1_000_000


def test_if_match_is_compared_strongly_and_must_be_well_formed(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic
) -> None:
    created = book(client, desk_headers, clinic)
    booking_id, etag = created.json()["id"], created.headers["etag"]
    url = f"/api/v1/bookings/{booking_id}"
    for malformed in (str(created.json()["version"]), f"{booking_id}.1", '"unterminated'):
        refused = client.patch(
            url, json={"notes": "x"}, headers={**desk_headers, "If-Match": malformed}
        )
        body = _is_problem(refused, 400)
        assert body["code"] == "invalid_if_match"
        assert "quoted" in str(body["detail"])
    weak = client.patch(url, json={"notes": "x"}, headers={**desk_headers, "If-Match": f"W/{etag}"})
    assert _is_problem(weak, 412)["code"] == "version_conflict"
    listed = client.patch(
        url, json={"notes": "kept"}, headers={**desk_headers, "If-Match": f'"0.0", {etag}'}
    )
    assert listed.status_code == 200, listed.text
    anything = client.patch(url, json={"notes": "any"}, headers={**desk_headers, "If-Match": "*"})
    assert anything.status_code == 200
    assert client.get(url, headers=desk_headers).json()["notes"] == "any"


def test_an_invalid_transition_keeps_the_numeric_status_member(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic
) -> None:
    created = book(client, desk_headers, clinic)
    url = f"/api/v1/bookings/{created.json()['id']}"
    assert client.post(f"{url}/cancel", json={"reason": "r"}, headers=desk_headers).is_success
    refused = client.post(f"{url}/check-in", headers=desk_headers)
    body = _is_problem(refused, 409)
    assert body["code"] == "invalid_transition"
    assert body["booking_status"] == "cancelled"
    assert body["type"] == "https://infusion-scheduler.org/problems/invalid_transition"


def test_a_database_that_cannot_be_reached_is_a_503_with_retry_after(
    clock: FrozenClock, tmp_path: Path
) -> None:
    settings = make_settings("postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    with TestClient(create_app(settings, clock=clock), raise_server_exceptions=False) as client:
        response = client.get("/api/v1/public/locations")
        body = _is_problem(response, 503)
        assert response.headers["retry-after"] == "1"
        assert body["code"] in {"database_busy", "database_unavailable"}
