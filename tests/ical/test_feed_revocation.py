"""Revoking a feed token ends the URL its subscribers hold, whatever rotations came between.

A rotation gives the subscriber a new URL (the user pastes it into their calendar app); the
token they originally created keeps its id in the list. Revoking that id must not leave the
rotated URL serving the schedule.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from tests.clinic_fixture import Clinic
from tests.ical.test_feeds_api import book, feed_path, new_feed

from scheduler.kit.clock import FrozenClock

TOKENS = "/api/v1/feed-tokens"


def rotate(client: TestClient, headers: dict[str, str], token_id: int) -> dict[str, Any]:
    response = client.post(f"{TOKENS}/{token_id}/rotate", headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_revoking_the_original_id_ends_the_rotated_url_at_once(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic, clock: FrozenClock
) -> None:
    booking = book(client, desk_headers, clinic, "2026-03-10T09:00:00-04:00")
    original = new_feed(client, desk_headers, provider_id=clinic.nurse.id)
    first = rotate(client, desk_headers, original["id"])
    current = rotate(client, desk_headers, first["id"])
    served = client.get(feed_path(current))
    assert served.status_code == 200
    assert booking["ical_uid"].encode() in served.content
    etag = served.headers["etag"]

    assert client.delete(f"{TOKENS}/{original['id']}", headers=desk_headers).status_code == 204

    for token in (original, first, current):
        gone = client.get(feed_path(token))
        assert gone.status_code == 404, token["id"]
        assert gone.json()["code"] == "not_found"
        assert booking["ical_uid"].encode() not in gone.content
    # A calendar client revalidating what it had is refused too, not told "unchanged".
    assert client.get(feed_path(current), headers={"If-None-Match": etag}).status_code == 404

    listed = client.get(TOKENS, params={"include_revoked": True}, headers=desk_headers).json()
    by_id = {t["id"]: t for t in listed}
    assert all(by_id[t["id"]]["revoked_at"] is not None for t in (original, first, current))
    assert by_id[original["id"]]["replaced_by_id"] == first["id"]
    assert by_id[first["id"]]["replaced_by_id"] == current["id"]
    assert by_id[current["id"]]["replaced_by_id"] is None
    assert client.get(TOKENS, headers=desk_headers).json() == []

    # Revoking again, by any id of the chain, changes nothing and says so the same way.
    assert client.delete(f"{TOKENS}/{first['id']}", headers=desk_headers).status_code == 204
    refused = client.post(f"{TOKENS}/{original['id']}/rotate", headers=desk_headers)
    assert refused.status_code == 404


def test_rotating_by_the_original_id_replaces_the_url_in_use(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic, admin_headers: dict[str, str]
) -> None:
    original = new_feed(client, desk_headers, location_id=clinic.location_id)
    first = rotate(client, desk_headers, original["id"])
    second = rotate(client, desk_headers, original["id"])

    assert client.get(feed_path(first)).status_code == 404
    assert client.get(feed_path(second)).status_code == 200
    live = client.get(TOKENS, headers=desk_headers).json()
    assert [t["id"] for t in live] == [second["id"]]

    # Revoking the rotated token itself ends only its own URL (nothing came after it).
    assert client.delete(f"{TOKENS}/{second['id']}", headers=desk_headers).status_code == 204
    assert client.get(feed_path(second)).status_code == 404
    events = client.get(
        "/api/v1/audit-events",
        params={"entity_type": "feed_token", "action": "feed_token.revoke"},
        headers=admin_headers,
    ).json()["items"]
    assert sorted(e["entity_id"] for e in events) == sorted(
        [original["id"], first["id"], second["id"]]
    )
