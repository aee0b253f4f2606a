"""The service's Prometheus metrics, defined once per process.

Only ``prometheus_client`` here (no web framework), so services and routers alike may count.
When ``PROMETHEUS_MULTIPROC_DIR`` is set before this module is first imported (the API in
docker compose: several ``scheduler serve --workers`` processes), prometheus_client keeps
each value in a file there and ``/metrics`` sums every process's files; otherwise the
values live in this process. Scrape-time values (database pool, outbox) are read by the
collectors in ``scheduler.http.metrics``, not kept here.

Labels are bounded: route *templates* (never a path: paths carry feed and manage tokens),
methods, status codes, problem codes and booking sources.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter(
    "scheduler_http_requests",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "scheduler_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template and method.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
BOOKINGS_CREATED = Counter(
    "scheduler_bookings_created",
    "Bookings created, by source (front_desk, online, ...).",
    ["source"],
)
CONFLICTS = Counter(
    "scheduler_conflicts",
    "409 Conflict problems answered, by problem code.",
    ["code"],
)
HOLDS_CREATED = Counter(
    "scheduler_holds_created",
    "Holds placed, by who placed them (staff or public).",
    ["audience"],
)
SLOT_SEARCH_DURATION = Histogram(
    "scheduler_slot_search_duration_seconds",
    "Time a slot search took, by who searched (staff or public).",
    ["audience"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
FEED_RESPONSES = Counter(
    "scheduler_feed_responses",
    "Calendar feed responses, by status (304: the calendar app's copy was current).",
    ["status"],
)

_FEED_BY_STATUS: dict[int, Any] = {}


def count_feed_response(status: int) -> None:
    """Count one feed answer. The busiest path (a 304 is a few hundred microseconds), so the
    labelled child is looked up once per status rather than through ``labels()`` each time."""
    child = _FEED_BY_STATUS.get(status)
    if child is None:
        child = _FEED_BY_STATUS.setdefault(status, FEED_RESPONSES.labels(str(status)))
    child.inc()
