"""``GET /metrics`` in Prometheus' text format, and the per-request metrics (fed by
``http.access_log.AccessLog``).

Not public: the endpoint answers only when ``SCHEDULER_METRICS_TOKEN`` is set, and then only
to ``Authorization: Bearer <token>`` (401 otherwise); with no token set it answers 404 like
any unknown path. It is not in the OpenAPI document.

With ``PROMETHEUS_MULTIPROC_DIR`` set (several API processes), the counters and histograms
of every process are summed from that directory (prometheus_client's multiprocess mode; the
directory must be empty when the processes start, e.g. a tmpfs). The database pool is read
from the answering process's engine at scrape time, so with several processes it shows the
one that answered the scrape. The outbox's backlog is read from the database at scrape time
(one statement), so it is the same whichever process answers.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Scope

from scheduler.db.transaction import run_in_transaction
from scheduler.errors import NotAuthenticated
from scheduler.kit.metrics import HTTP_DURATION, HTTP_REQUESTS
from scheduler.notifications.repository import backlog

logger = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
NO_ROUTE = "(no route)"  # requests no route matched: one label value, never the path
# Any other method a client invents is counted as "other": labels must stay few.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestMetrics:
    """Counts every HTTP request by route template, method and status, and times it.

    Not a middleware of its own: ``AccessLog`` times each request and hands it here, so the
    request passes one layer (and each response message one wrapper) for both.

    The labelled children are kept per (route, method, status): prometheus_client's
    ``labels()`` costs about twice the counting itself, on every request, feed polls included.
    Route templates and statuses are few, so the cache stays small.
    """

    def __init__(self) -> None:
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, scope: Scope, status: int, seconds: float, route: str | None) -> None:
        method = str(scope.get("method", ""))
        key = (route or NO_ROUTE, method if method in METHODS else "other", status)
        children = self._children.get(key)
        if children is None:
            children = (
                HTTP_REQUESTS.labels(key[0], key[1], str(status)),
                HTTP_DURATION.labels(key[0], key[1]),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)


class _Forward(Collector):
    """This process's registry (counters, histograms, process and GC metrics)."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


class _OutboxCollector(Collector):
    """The outbox's backlog, read from the database when scraped (one statement).

    Any process can answer: the counts are the database's, not the process's, so they are
    right with several API processes and workers. When the database cannot be read, these
    families are left out of the scrape (the rest still answers; ``/readyz`` says why).
    """

    def __init__(self, request: Request) -> None:
        self.state = request.app.state

    def collect(self) -> Iterable[Metric]:
        factory = getattr(self.state, "sessionmaker", None)
        if factory is None:
            return []
        now = self.state.clock.now()
        try:
            found = run_in_transaction(
                factory, lambda session: backlog(session, now=now), read_only=True
            )
        except SQLAlchemyError:
            logger.warning("metrics: the outbox backlog could not be read", exc_info=True)
            return []
        messages = GaugeMetricFamily(
            "scheduler_outbox_messages",
            "Messages in the outbox by state: due (waiting for a worker), scheduled (not due"
            " yet) and failed (gave up; staff can resend).",
            labels=["state"],
        )
        messages.add_metric(["due"], float(found.due))
        messages.add_metric(["scheduled"], float(found.scheduled))
        messages.add_metric(["failed"], float(found.failed))
        oldest = GaugeMetricFamily(
            "scheduler_outbox_oldest_due_seconds",
            "How long the longest-waiting due message has been due (0 when none is).",
        )
        waited = (now - found.oldest_due).total_seconds() if found.oldest_due else 0.0
        oldest.add_metric([], max(waited, 0.0))
        return [messages, oldest]


class _PoolCollector(Collector):
    """The database connection pools of one app, read when scraped."""

    def __init__(self, request: Request) -> None:
        self.state = request.app.state

    def _engines(self) -> Iterator[tuple[str, Engine]]:
        factory = getattr(self.state, "sessionmaker", None)
        bind = getattr(factory, "kw", {}).get("bind")
        if isinstance(bind, Engine):
            yield "main", bind
        reader = getattr(self.state, "statement_reader", None)
        statements = getattr(reader, "bind", None)
        if isinstance(statements, Engine) and statements is not bind:
            yield "statements", statements

    def collect(self) -> Iterable[Metric]:
        in_use = GaugeMetricFamily(
            "scheduler_db_pool_connections_in_use",
            "Database connections checked out of the pool now.",
            labels=["pool"],
        )
        size = GaugeMetricFamily(
            "scheduler_db_pool_size",
            "Connections the pool keeps open (more may be opened up to its overflow).",
            labels=["pool"],
        )
        for name, engine in self._engines():
            pool: Any = engine.pool
            if hasattr(pool, "checkedout"):
                in_use.add_metric([name], float(pool.checkedout()))
            if hasattr(pool, "size"):
                size.add_metric([name], float(pool.size()))
        return [in_use, size]


def _authorized(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode("utf-8"), token.encode("utf-8")
    )


def exposition(request: Request) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Forward())
    registry.register(_PoolCollector(request))
    registry.register(_OutboxCollector(request))
    return generate_latest(registry)


def metrics_endpoint(request: Request) -> Response:
    secret = request.app.state.settings.metrics_token
    if secret is None or not secret.get_secret_value():
        raise HTTPException(404)  # answered like any unknown path
    if not _authorized(request, secret.get_secret_value()):
        raise NotAuthenticated("The metrics token is required: Authorization: Bearer <token>.")
    return Response(exposition(request), media_type=CONTENT_TYPE_LATEST)


def metrics_route() -> Route:
    """A plain Starlette route (sync: run in the threadpool), outside the OpenAPI document."""
    return Route(METRICS_PATH, metrics_endpoint, methods=["GET"], include_in_schema=False)
