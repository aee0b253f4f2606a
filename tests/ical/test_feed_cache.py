"""The feed render cache keeps one version per feed and stays within its byte budget.

A server's memory grew by ~28 MiB per 1,000 booking changes while the cache kept up to 32
versions per process whatever their size, though a stale version is never read again.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from tests.clinic_fixture import Clinic
from tests.ical.test_feeds_api import AFTER_DST, book, feed_path, new_feed

from scheduler.feeds.cache import FeedRenderCache, RenderedFeed

MODIFIED = datetime(2026, 3, 2, tzinfo=UTC)


def rendered(size: int) -> RenderedFeed:
    return RenderedFeed(b"x" * size, MODIFIED)


def test_many_booking_changes_leave_one_version_per_feed(
    client: TestClient, desk_headers: dict[str, str], clinic: Clinic
) -> None:
    cache: FeedRenderCache = client.app.state.feed_cache  # type: ignore[attr-defined]
    paths = [
        feed_path(new_feed(client, desk_headers, provider_id=clinic.nurse.id)),
        feed_path(new_feed(client, desk_headers, location_id=clinic.location_id)),
    ]
    bodies: dict[str, bytes] = {}
    for change in range(25):
        booking = book(client, desk_headers, clinic, AFTER_DST)
        cancelled = client.post(
            f"/api/v1/bookings/{booking['id']}/cancel",
            json={"reason": f"change {change}"},
            headers=desk_headers,
        )
        assert cancelled.status_code == 200, cancelled.text
        for path in paths:
            response = client.get(path, headers={"Accept-Encoding": "identity"})
            assert response.status_code == 200
            assert response.content != bodies.get(path)  # every change is a new version
            bodies[path] = response.content
    assert len(cache) == len(paths)
    # What is kept is exactly the latest bytes of each feed (plus their keys).
    assert sum(len(body) for body in bodies.values()) < cache.size_bytes
    assert cache.size_bytes <= sum(len(body) + 128 for body in bodies.values())
    for path in paths:  # and it is what the next unchanged read serves
        assert client.get(path, headers={"Accept-Encoding": "identity"}).content == bodies[path]


def test_the_cache_is_bounded_by_bytes_least_recently_read_leaving_first() -> None:
    cache = FeedRenderCache(max_bytes=3 * (1000 + 2 * 64))
    for feed in range(10):
        cache.put(f"{feed:064x}", "a" * 64, rendered(1000))
        assert cache.size_bytes <= cache.max_bytes
    assert len(cache) == 3
    assert cache.get(f"{7:064x}", "a" * 64) is not None  # read: now the most recent
    cache.put(f"{10:064x}", "a" * 64, rendered(1000))
    assert cache.get(f"{8:064x}", "a" * 64) is None  # the least recently read left
    assert cache.get(f"{7:064x}", "a" * 64) is not None


def test_a_new_version_replaces_the_old_and_an_oversized_one_is_not_kept() -> None:
    cache = FeedRenderCache(max_bytes=5000)
    cache.put("feed", "v1", rendered(1000))
    cache.put("feed", "v2", rendered(1200))
    assert len(cache) == 1
    assert cache.get("feed", "v1") is None  # a stale version is never served
    assert cache.get("feed", "v2") == rendered(1200)
    assert cache.size_bytes == 1200 + len("feed") + len("v2")
    cache.put("feed", "v3", rendered(6000))  # larger than the budget
    assert len(cache) == 0
    assert cache.size_bytes == 0
